"""The figures of /segments, kept by the nightly scoring

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06

/segments worked out RFM and churn risk as it answered: a read of every member and of
what each spent, ten seconds at a million members. The nightly scoring, which works
them out anyway, now keeps what /segments shows: the totals (insight_segment_reports),
each segment's buyers and revenue (insight_segment_figures) and the members at highest
risk (insight_segment_at_risk).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_segment_reports",
        sa.Column("scored_at", sa.DateTime(), primary_key=True),
        sa.Column("buyers", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False)
          for name in ("members", "at_risk", "reached")),
    )
    op.create_table(
        "insight_segment_figures",
        sa.Column("scored_at", sa.DateTime(),
                  sa.ForeignKey("insight_segment_reports.scored_at"), primary_key=True),
        sa.Column("code", sa.String(24), primary_key=True),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "insight_segment_at_risk",
        sa.Column("scored_at", sa.DateTime(),
                  sa.ForeignKey("insight_segment_reports.scored_at"), primary_key=True),
        sa.Column("rank", sa.Integer(), primary_key=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("idle_days", sa.Integer(), nullable=False),
        sa.Column("usual_gap_days", sa.Integer(), nullable=True),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("winback", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_segment_at_risk")
    op.drop_table("insight_segment_figures")
    op.drop_table("insight_segment_reports")
