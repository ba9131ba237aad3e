"""The support inbox: conversations, their messages, the staff chat and its topics,
and the posts waiting for that chat

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

One open conversation per member is a unique column that is null once closed
(domain/support/tables.py); a member's forum topic is claimed before it is made, so
it is made once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "support_conversations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("open_member_id", _ID, nullable=True, unique=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("waiting_since", sa.DateTime(), nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_support_conversations_member_id", "support_conversations",
                    ["member_id"])
    op.create_index("ix_support_conversations_queue", "support_conversations",
                    ["status", "priority", "opened_at"])
    op.create_table(
        "support_messages",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", _ID, sa.ForeignKey("support_conversations.id"),
                  nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("staff_id", _ID, sa.ForeignKey("members.id"), nullable=True),
        sa.Column("notice_key", sa.String(160), nullable=True, unique=True),
        sa.Column("waiting_told_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_support_messages_conversation", "support_messages",
                    ["conversation_id", "id"])
    op.create_table(
        "support_staff_chats",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "support_topics",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("topic_id", sa.String(32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("platform", "chat_id", "topic_id", name="uq_support_topics_topic"),
    )
    op.create_table(
        "support_posts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(160), nullable=False, unique=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_support_posts_due", "support_posts", ["status", "not_before"])


def downgrade() -> None:
    op.drop_index("ix_support_posts_due", "support_posts")
    op.drop_table("support_posts")
    op.drop_table("support_topics")
    op.drop_table("support_staff_chats")
    op.drop_index("ix_support_messages_conversation", "support_messages")
    op.drop_table("support_messages")
    op.drop_index("ix_support_conversations_queue", "support_conversations")
    op.drop_index("ix_support_conversations_member_id", "support_conversations")
    op.drop_table("support_conversations")
