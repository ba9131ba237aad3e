"""Moderation in groups: settings, warns, mutes and bans, captchas, reports, people

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-11

Everything a group's moderation must remember across restarts and workers
(domain/community/tables.py): a group's settings, warns, the mutes and bans in force
(kept over leaving and rejoining), pending captchas, reports awaiting an admin, and
who has been seen under which @username.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _chat() -> list[sa.Column]:
    return [sa.Column("platform", sa.String(16), nullable=False),
            sa.Column("chat_id", sa.String(64), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "group_settings", *_chat(),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("warn_limit", sa.Integer(), nullable=False),
        sa.Column("warn_mode", sa.String(8), nullable=False),
        sa.Column("flood_limit", sa.Integer(), nullable=False),
        sa.Column("flood_mode", sa.String(8), nullable=False),
        sa.Column("flood_for_s", sa.Integer(), nullable=True),
        sa.Column("welcome_on", sa.Boolean(), nullable=False),
        sa.Column("welcome_text", sa.String(4096), nullable=True),
        sa.Column("rules_text", sa.String(4096), nullable=True),
        sa.Column("captcha_on", sa.Boolean(), nullable=False),
        sa.Column("captcha_minutes", sa.Integer(), nullable=False),
        sa.Column("captcha_skip_tier", sa.String(32), nullable=True),
        sa.Column("log_chat", sa.String(64), nullable=True),
        sa.Column("clean_commands", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id"),
    )
    op.create_table(
        "group_warns",
        sa.Column("id", _ID, primary_key=True, autoincrement=True), *_chat(),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(256), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_group_warns_user", "group_warns", ["platform", "chat_id", "user_id"])
    op.create_table(
        "group_restrictions", *_chat(),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(256), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", "user_id", "kind"),
    )
    op.create_table(
        "group_captchas",
        sa.Column("id", _ID, primary_key=True, autoincrement=True), *_chat(),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "chat_id", "user_id"),
    )
    op.create_index("ix_group_captchas_due", "group_captchas", ["status", "expires_at"])
    op.create_table(
        "group_reports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True), *_chat(),
        sa.Column("reporter_id", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "group_people",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id"),
    )
    op.create_index("ix_group_people_username", "group_people", ["platform", "username"])


def downgrade() -> None:
    for table in ("group_people", "group_reports", "group_captchas", "group_restrictions",
                  "group_warns", "group_settings"):
        op.drop_table(table)
