"""earning and redeeming: purchases, rewards, coupons, roles, audit, referrals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", ID, autoincrement=True, nullable=False)


def _member(name: str = "member_id") -> sa.Column:
    return sa.Column(name, ID, nullable=False)


def upgrade() -> None:
    op.create_index("ix_members_next_expiry_at", "members", ["next_expiry_at"])
    op.create_table(
        "purchases", _id(),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        _member(),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index(op.f("ix_purchases_member_id"), "purchases", ["member_id"])
    op.create_table(
        "refunds", _id(),
        sa.Column("purchase_id", ID, nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("short", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["purchase_id"], ["purchases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index(op.f("ix_refunds_purchase_id"), "refunds", ["purchase_id"])
    op.create_table(
        "reward_stock",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("remaining >= 0", name="ck_reward_stock_not_negative"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "redemptions", _id(),
        sa.Column("key", sa.String(length=160), nullable=False),
        _member(),
        sa.Column("reward", sa.String(length=32), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_redemptions_member_reward", "redemptions", ["member_id", "reward"])
    op.create_table(
        "coupons", _id(),
        sa.Column("code", sa.String(length=24), nullable=False),
        _member(),
        sa.Column("reward", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.String(length=64), nullable=True),
        sa.Column("redemption_id", ID, nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["redemption_id"], ["redemptions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("redemption_id"),
    )
    op.create_index(op.f("ix_coupons_member_id"), "coupons", ["member_id"])
    op.create_table(
        "coupon_failures", _id(),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_coupon_failures_actor", "coupon_failures", ["actor", "created_at"])
    op.create_table(
        "staff_roles", _member(),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id", "role"),
    )
    op.create_table(
        "audit_log", _id(),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "referral_rewards", _member("referee_id"), _member("referrer_id"),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["referee_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["referrer_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("referee_id"),
    )
    op.create_index(op.f("ix_referral_rewards_referrer_id"), "referral_rewards",
                    ["referrer_id"])
    op.create_table(
        "expiry_runs",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("expiry_runs")
    op.drop_index(op.f("ix_referral_rewards_referrer_id"), table_name="referral_rewards")
    op.drop_table("referral_rewards")
    op.drop_table("audit_log")
    op.drop_table("staff_roles")
    op.drop_index("ix_coupon_failures_actor", table_name="coupon_failures")
    op.drop_table("coupon_failures")
    op.drop_index(op.f("ix_coupons_member_id"), table_name="coupons")
    op.drop_table("coupons")
    op.drop_index("ix_redemptions_member_reward", table_name="redemptions")
    op.drop_table("redemptions")
    op.drop_table("reward_stock")
    op.drop_index(op.f("ix_refunds_purchase_id"), table_name="refunds")
    op.drop_table("refunds")
    op.drop_index(op.f("ix_purchases_member_id"), table_name="purchases")
    op.drop_table("purchases")
    op.drop_index("ix_members_next_expiry_at", table_name="members")
