"""Tables of where each chat user is in a flow, and of inbound deliveries written before they
are acknowledged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.storage.tables import Base


class Conversation(Base):
    """Where each chat user is in a multi-step flow; survives restarts."""

    __tablename__ = "conversations"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[list[str]] = mapped_column(default=list)
    updated_at: Mapped[datetime]


class InboxItem(Base):
    """A platform delivery (an update, a callback's message), written before it is
    acknowledged. A crash mid-handling is finished on restart from `payload`, and a
    redelivery finds `handled_at` set and replays `answer` instead of acting again."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_undelivered", "platform", "delivered_at"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    payload: Mapped[dict[str, Any] | None]
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    answer: Mapped[dict[str, Any] | None]
    # Whoever holds an unexpired lease is sending the answer; nobody else may.
    lease_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # Whether a waiting callback carries the answer as its passive reply:
    # domain.conversations.inbox.AWAITED, GIVEN or RELEASED; None where no callback waits.
    passive: Mapped[str | None] = mapped_column(String(8))
