"""Erasure: requests waiting out their cooling-off, and erased accounts as keyed hashes

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06

A member's /deleteme waits out its cooling-off (erasure_requests). An erased member's
platform accounts are kept only as keyed hashes (erased_accounts, with the key in
privacy_keys), so that rejoining earns no first-purchase or referral bonus twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("asked_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("staff_id", _ID, sa.ForeignKey("members.id"), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_erasure_requests_due", "erasure_requests", ["state", "due_at"])
    op.create_table(
        "erased_accounts",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "privacy_keys",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("privacy_keys")
    op.drop_table("erased_accounts")
    op.drop_index("ix_erasure_requests_due", table_name="erasure_requests")
    op.drop_table("erasure_requests")
