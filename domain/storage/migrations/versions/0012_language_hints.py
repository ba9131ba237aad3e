"""A member's language hint, for campaigns and notices in the language they read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

A member who never chose a language read everything sent to them (campaigns, notices)
in the programme's default, even when their phone said otherwise. The language their
platform last hinted is kept on the member now: their choice, else the hint, else the
default. A campaign's words by language live in its `variants` JSON, which needs no
change: rows written before keep their one text for every language.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("members", sa.Column("language_hint", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # SQLite (3.35 and later) drops an unindexed column in place.
    op.drop_column("members", "language_hint")
