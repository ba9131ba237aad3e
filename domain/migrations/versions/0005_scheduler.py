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
    op.create_index("ix_members_last_active_at", "members", ["last_active_at"])
    op.create_index("ix_members_birthday", "members", ["birth_month", "birth_day"])
    op.create_index("ix_members_tier_valid_until", "members", ["tier_valid_until"])


def downgrade() -> None:
    op.drop_index("ix_members_tier_valid_until", table_name="members")
    op.drop_index("ix_members_birthday", table_name="members")
    op.drop_index("ix_members_last_active_at", table_name="members")
    op.drop_index(op.f("ix_members_last_purchase_at"), table_name="members")
    # SQLite (3.35 and later) drops an unindexed column in place, keeping the table
    # that identities, ledger entries and the rest refer to.
    op.drop_column("members", "purchase_count")
    op.drop_column("members", "last_purchase_at")
    op.drop_column("members", "first_purchase_at")
