"""A member's support topic keeps the name it was given

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08

A member's forum topic in the staff chat now lasts across their conversations: closed
with one, reopened for the next. It is renamed on reopening only when its name (member
number, tier, platforms) changed, so the name it has is kept beside it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_topics") as batch:
        batch.add_column(sa.Column("title", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_topics") as batch:
        batch.drop_column("title")
