"""Members are found by phone through an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

The purchases API and the CSV import find a member by phone. Without an index each
lookup read every member: at 100,000 members the import's lookup took most of its time.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_members_phone", "members", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_members_phone", table_name="members")
