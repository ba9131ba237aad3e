"""Tables of the support inbox: conversations, their messages, the staff chat, the
forum topic each member has there, and what waits to be posted in that chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class SupportConversation(Base):
    """One member's conversation with staff, shown to staff as #id. `open_member_id` is
    the member while it is not closed and null after, so a unique index keeps one open
    conversation per member on both backends (several nulls never clash).
    Status: open (waiting for staff), answered (staff spoke last), closed."""

    __tablename__ = "support_conversations"
    __table_args__ = (Index("ix_support_conversations_queue", "status", "priority",
                            "opened_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    open_member_id: Mapped[int | None] = mapped_column(Id, unique=True)
    status: Mapped[str] = mapped_column(String(12))
    # The tier's rank + 1 when the tier lists the benefit priority_support, else 0.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime]
    # Since when the member's oldest unanswered message waits (null: nothing waits).
    waiting_since: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # when staff last read what the member wrote
    reminded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class SupportMessage(Base):
    """One message of a conversation: "in" from the member, "out" from staff. An "out"
    message reaches the member as the notice keyed `notice_key`; `staff_id` is kept
    for the audit, never shown to the member unless the programme says so."""

    __tablename__ = "support_messages"
    __table_args__ = (Index("ix_support_messages_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(Id, ForeignKey("support_conversations.id"))
    direction: Mapped[str] = mapped_column(String(4))  # in, out
    text: Mapped[str] = mapped_column(String(4000))
    staff_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    notice_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    # An "out" message that waits (the platform's window closed): when staff were told.
    waiting_told_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # A photo with the message, by reference (domain/support/pictures.py): the
    # platform it came from, its id there, where that platform serves it, its size.
    picture_platform: Mapped[str | None] = mapped_column(String(16))
    picture_ref: Mapped[str | None] = mapped_column(String(255))
    picture_url: Mapped[str | None] = mapped_column(String(1024))
    picture_size: Mapped[int | None] = mapped_column(Integer)


class SupportStaffChat(Base):
    """The chat where staff answer members (a group with a topic per member), one per
    platform; none means staff use /tickets and /reply in private."""

    __tablename__ = "support_staff_chats"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime]


class SupportTopic(Base):
    """A member's forum topic in a staff chat, made once and kept across their
    conversations (closed with one, reopened for the next). The row is claimed
    (topic_id still null) by whoever creates the topic, so two workers never make two;
    a topic staff deleted loses its row and is made again. `title` is the name it was
    given, so a reopening renames it only when the name changed (a new tier)."""

    __tablename__ = "support_topics"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "topic_id",
                                       name="uq_support_topics_topic"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    topic_id: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime]
    created_at: Mapped[datetime | None]
    title: Mapped[str | None] = mapped_column(String(128))


class SupportPost(Base):
    """Something to say in the staff chat (a member's message, a reminder, an alert),
    in the member's topic when `member_id` is set, queued in the transaction that
    caused it and keyed so it is posted once."""

    __tablename__ = "support_posts"
    __table_args__ = (Index("ix_support_posts_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    # A translation key; or a step of the member's topic (staff_chat.TOPIC_STEPS),
    # queued among the posts so it happens in their order.
    key: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # pending, sending, sent, failed; dropped when its chat stopped being the staff chat
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
