"""Retention: the warnings given before members inactive too long are erased

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06

A member inactive for nearly `[privacy] retention_days` is warned, and erased at
`erase_at` unless their last activity moved since (retention_warnings).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_warnings",
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("idle_since", sa.DateTime(), nullable=False),
        sa.Column("warned_at", sa.DateTime(), nullable=False),
        sa.Column("erase_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_retention_warnings_erase_at", "retention_warnings", ["erase_at"])


def downgrade() -> None:
    op.drop_index("ix_retention_warnings_erase_at", table_name="retention_warnings")
    op.drop_table("retention_warnings")
