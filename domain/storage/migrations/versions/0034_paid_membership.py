"""Paid membership: subscriptions to the programme's plans, and their payments

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06

Each member's subscription to a plan (membership_subscriptions) and every payment,
kept once by the platform's charge id (membership_payments). A paid plan's tier floor
is kept on the member beside the operator's (members.paid_floor).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "membership_subscriptions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("renews", sa.Boolean(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("charge_id", sa.String(128), nullable=False),
        sa.Column("chats", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("gift_period", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("member_id", "plan"),
    )
    op.create_index("ix_membership_subscriptions_due", "membership_subscriptions",
                    ["status", "expires_at"])
    op.create_table(
        "membership_payments",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("charge_id", sa.String(128), nullable=False, unique=True),
        sa.Column("subscription_id", _ID, sa.ForeignKey("membership_subscriptions.id"),
                  nullable=False),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("first", sa.Boolean(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_membership_payments_created_at", "membership_payments",
                    ["created_at"])
    op.create_index("ix_membership_payments_subscription_id", "membership_payments",
                    ["subscription_id"])
    op.create_index("ix_membership_payments_member_id", "membership_payments", ["member_id"])
    # A plain ADD COLUMN, nullable: no copy of the members on either backend.
    op.add_column("members", sa.Column("paid_floor", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("members", "paid_floor")  # SQLite 3.35+: no copy of the members
    op.drop_index("ix_membership_payments_member_id", table_name="membership_payments")
    op.drop_index("ix_membership_payments_subscription_id", table_name="membership_payments")
    op.drop_index("ix_membership_payments_created_at", table_name="membership_payments")
    op.drop_table("membership_payments")
    op.drop_index("ix_membership_subscriptions_due", table_name="membership_subscriptions")
    op.drop_table("membership_subscriptions")
