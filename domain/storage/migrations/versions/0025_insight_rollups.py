"""Daily roll-ups for /stats, and indexes for the figures read straight from records

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06

The figures of a period are summed from one row per day and measure, and its
distinct members from one row per member and day, kept by a job from the marks it
records (domain/insight/rollups.py); the members' standing is read once a day and
kept (domain/insight/snapshots.py). Coupons used, surveys sent and referrals that
led to a first purchase are counted from their own tables, by time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("dimension", sa.String(48), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "measure", "dimension"),
    )
    op.create_table(
        "insight_member_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member_id", Id, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("moves", sa.Integer(), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("checkins", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "member_id"),
    )
    op.create_index("ix_insight_member_days_member", "insight_member_days",
                    ["member_id", "day"])
    op.create_table(
        "insight_marks",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "insight_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("dimension", sa.String(48), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "measure", "dimension"),
    )
    op.create_index("ix_coupons_used_at", "coupons", ["used_at"])
    op.create_index("ix_survey_responses_sent_at", "survey_responses", ["sent_at"])
    op.create_index("ix_referral_rewards_created_at", "referral_rewards", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_referral_rewards_created_at", table_name="referral_rewards")
    op.drop_index("ix_survey_responses_sent_at", table_name="survey_responses")
    op.drop_index("ix_coupons_used_at", table_name="coupons")
    op.drop_table("insight_snapshots")
    op.drop_table("insight_marks")
    op.drop_index("ix_insight_member_days_member", table_name="insight_member_days")
    op.drop_table("insight_member_days")
    op.drop_table("insight_days")
