"""WeChat: access tokens, service windows and quotas, member cards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "service_windows",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id"),
    )
    op.create_table(
        "member_cards",
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.Column("synced_entry_id", sa.BigInteger(), nullable=False),
        sa.Column("synced_tier_change_id", sa.BigInteger(), nullable=False),
        sa.Column("synced_bonus", sa.BigInteger(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("card_id", "code"),
        sa.UniqueConstraint("card_id", "member_id"),
    )
    op.create_index(op.f("ix_member_cards_member_id"), "member_cards", ["member_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_member_cards_member_id"), table_name="member_cards")
    op.drop_table("member_cards")
    op.drop_table("service_windows")
    op.drop_table("access_tokens")
