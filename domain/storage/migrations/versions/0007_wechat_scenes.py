"""WeChat QR scene codes and uploaded images, shared by every worker

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scene_codes",
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("scene", sa.String(length=64), nullable=False),
        sa.Column("ticket", sa.String(length=512), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("app", "scene"),
    )
    op.create_table(
        "uploaded_media",
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("media_id", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("app", "digest"),
    )
    op.create_index("ix_uploaded_media_expires_at", "uploaded_media", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_uploaded_media_expires_at", table_name="uploaded_media")
    op.drop_table("uploaded_media")
    op.drop_table("scene_codes")
