"""scheduler and lifecycle jobs: purchase statistics on members, job state, birthday
gifts, win-back episodes, expiry reminders

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Members who bought before this revision get their statistics from their orders; a
# purchase counts as activity, as it does from now on.
BACKFILL = """
UPDATE members SET
    purchase_count = (SELECT count(*) FROM purchases p WHERE p.member_id = members.id),
    first_purchase_at = (SELECT min(p.created_at) FROM purchases p
                         WHERE p.member_id = members.id),
    last_purchase_at = (SELECT max(p.created_at) FROM purchases p
                        WHERE p.member_id = members.id)
WHERE EXISTS (SELECT 1 FROM purchases p WHERE p.member_id = members.id)
"""
ACTIVITY = """
UPDATE members SET last_active_at = last_purchase_at
WHERE last_purchase_at IS NOT NULL AND last_purchase_at > last_active_at
"""


def upgrade() -> None:
    op.add_column("members", sa.Column("first_purchase_at", sa.DateTime(), nullable=True))
    op.add_column("members", sa.Column("last_purchase_at", sa.DateTime(), nullable=True))
    op.add_column("members", sa.Column("purchase_count", sa.Integer(), nullable=False,
                                       server_default="0"))
    op.execute(BACKFILL)
    op.execute(ACTIVITY)
    op.create_index(op.f("ix_members_last_purchase_at"), "members", ["last_purchase_at"])
    op.create_index("ix_members_lifecycle", "members", [
        "last_active_at", "status", "marketing_consent", "joined_at", "purchase_count",
        "first_purchase_at", "last_purchase_at"])
    op.create_index("ix_members_birthday", "members", ["birth_month", "birth_day"])
    op.create_index("ix_members_tier_valid_until", "members", ["tier_valid_until"])
    op.create_table(
        "scheduler_jobs",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("last_runner", sa.String(length=64), nullable=True),
        sa.Column("run_requested_at", sa.DateTime(), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "scheduler_runner",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "birthday_gifts",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("coupon_id", ID, nullable=True),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id", "year"),
    )
    op.create_table(
        "winback_episodes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("idle_since", sa.DateTime(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("coupon_id", ID, nullable=True),
        sa.Column("coupon_expires_at", sa.DateTime(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("won_back_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "idle_since"),
    )
    op.create_index("ix_winback_episodes_open", "winback_episodes", ["coupon_expires_at"])
    op.create_table(
        "expiry_reminders",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("covered_until", sa.DateTime(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id"),
    )


def downgrade() -> None:
    op.drop_table("expiry_reminders")
    op.drop_index("ix_winback_episodes_open", table_name="winback_episodes")
    op.drop_table("winback_episodes")
    op.drop_table("birthday_gifts")
    op.drop_table("scheduler_runner")
    op.drop_table("scheduler_jobs")
    op.drop_index("ix_members_tier_valid_until", table_name="members")
    op.drop_index("ix_members_birthday", table_name="members")
    op.drop_index("ix_members_lifecycle", table_name="members")
    op.drop_index(op.f("ix_members_last_purchase_at"), table_name="members")
    # SQLite (3.35 and later) drops an unindexed column in place, keeping the table
    # that identities, ledger entries and the rest refer to.
    op.drop_column("members", "purchase_count")
    op.drop_column("members", "last_purchase_at")
    op.drop_column("members", "first_purchase_at")
