"""Figures kept so /stats and /segments answer in a second or two on a large programme

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06

/segments showed a look back worked out as it answered: a second read of every
purchase, seconds on a large programme. The nightly scoring now works it out and keeps
it (insight_look_backs). /stats counted a period's distinct members (active, buyers)
from every member-day of it; a span of days that ended no longer changes, so its
counts are kept (insight_distinct); so are a campaign's reach and buyers once its
attribution window closed (insight_campaign_reach); one still in its window is counted
from the purchases of the window (ix_purchases_created_at). What each member spent, for
RFM, is summed from an index that holds it (ix_purchases_member_spend, which replaces
ix_purchases_member_id), not from every purchase row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_look_backs",
        sa.Column("scored_at", sa.DateTime(), primary_key=True),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in (
            "members", "true_positives", "false_positives", "false_negatives",
            "true_negatives")),
    )

    op.create_table(
        "insight_distinct",
        sa.Column("first", sa.Date(), primary_key=True),
        sa.Column("last", sa.Date(), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in (
            "active", "buyers", "repeat_buyers", "checkin_members")),
        sa.Column("counted_at", sa.DateTime(), nullable=False),
    )

    op.create_table(
        "insight_campaign_reach",
        sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("reached", sa.BigInteger(), nullable=False),
        sa.Column("bought", sa.BigInteger(), nullable=False),
        sa.Column("counted_at", sa.DateTime(), nullable=False),
    )

    op.create_index("ix_purchases_created_at", "purchases", ["created_at"])
    op.create_index("ix_purchases_member_spend", "purchases",
                    ["member_id", "amount", "refunded"])
    op.drop_index("ix_purchases_member_id", table_name="purchases")


def downgrade() -> None:
    op.create_index("ix_purchases_member_id", "purchases", ["member_id"])
    op.drop_index("ix_purchases_member_spend", table_name="purchases")
    op.drop_index("ix_purchases_created_at", table_name="purchases")
    op.drop_table("insight_campaign_reach")
    op.drop_table("insight_distinct")
    op.drop_table("insight_look_backs")
