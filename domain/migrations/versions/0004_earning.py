"""earning and redeeming: purchases, rewards, coupons, roles, audit, referrals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Filled in by the change that adds these tables."""


def downgrade() -> None:
    """Filled in by the change that adds these tables."""
