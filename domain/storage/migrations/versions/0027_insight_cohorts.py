"""The cohort retention grid of /stats: members active per month, and per join month

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06

A member counts once in each month they were active (`insight_member_months`); when the
roll-up job first sees them in a month it adds one to their join month's row for that
month (`insight_cohorts`), so the grid is one small read.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_member_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("member_id", Id, sa.ForeignKey("members.id"), nullable=False),
        sa.PrimaryKeyConstraint("month", "member_id"),
    )
    op.create_table(
        "insight_cohorts",
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("members", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cohort", "month"),
    )


def downgrade() -> None:
    op.drop_table("insight_cohorts")
    op.drop_table("insight_member_months")
