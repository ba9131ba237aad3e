"""What the tills took each day from every customer, for members' share of revenue

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06

/stats says what share of the revenue came from members; the whole it is a share of
is what the tills report they took in a day (POST /api/v1/store-sales).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_takings",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_takings")
