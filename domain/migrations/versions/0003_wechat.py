"""WeChat: access tokens, service windows and quotas, member cards

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Filled in by the change that adds these tables."""


def downgrade() -> None:
    """Filled in by the change that adds these tables."""
