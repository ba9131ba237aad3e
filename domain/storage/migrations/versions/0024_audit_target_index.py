"""The audit log is read back by target and action

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06

A group report's actions, a chat's refused removals and a survey's making are read
back from the audit log by their target and action. The log grows with everything
operators do, so without an index each of those reads would scan all of it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_log_target_action", "audit_log", ["target", "action"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_target_action", table_name="audit_log")
