"""Members' RFM cells and churn risk for segments, and who reads the weekly report

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06

A campaign's segment may ask for an RFM segment or a churn risk. Both rank a member
among all the others, so they are scored nightly for every member and kept here, indexed
by what a segment asks. Staff who asked for the weekly report (/report on) are listed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_member_scores",
        sa.Column("member_id", Id, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("segment", sa.String(24), nullable=True),
        sa.Column("recency", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Integer(), nullable=False),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_insight_member_scores_segment", "insight_member_scores",
                    ["segment", "member_id"])
    op.create_index("ix_insight_member_scores_risk", "insight_member_scores",
                    ["risk", "member_id"])
    op.create_table(
        "insight_report_readers",
        sa.Column("member_id", Id, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("since", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_report_readers")
    op.drop_index("ix_insight_member_scores_risk", table_name="insight_member_scores")
    op.drop_index("ix_insight_member_scores_segment", table_name="insight_member_scores")
    op.drop_table("insight_member_scores")
