"""Warn ids are never given twice: AUTOINCREMENT on SQLite

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

A warn's id is in the "remove warn" button under its message. SQLite gave the highest
freed id again once the newest warns were removed, so an old button could remove a
newer warn of someone else. The table is made again with AUTOINCREMENT, its rows
kept; PostgreSQL's sequence never reuses an id, so nothing changes there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("group_warns", recreate="always",
                              table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("group_warns", recreate="always",
                              table_kwargs={"sqlite_autoincrement": False}):
        pass
