"""A support message may carry a photo, by reference

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

The photo stays where the member or staff sent it (Telegram's file_id, WeChat's
MediaId and PicUrl); the row keeps only that reference (domain/support/pictures.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_messages") as batch:
        batch.add_column(sa.Column("picture_platform", sa.String(16), nullable=True))
        batch.add_column(sa.Column("picture_ref", sa.String(255), nullable=True))
        batch.add_column(sa.Column("picture_url", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("picture_size", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_messages") as batch:
        batch.drop_column("picture_size")
        batch.drop_column("picture_url")
        batch.drop_column("picture_ref")
        batch.drop_column("picture_platform")
