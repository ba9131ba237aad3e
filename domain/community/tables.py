"""Tables of gated chats and of the people seen in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class Gate(Base):
    """A chat that only members of `min_tier` or above may join."""

    __tablename__ = "community_gates"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # group, supergroup, channel
    title: Mapped[str] = mapped_column(String(128))
    min_tier: Mapped[str] = mapped_column(String(32))
    grace_s: Mapped[int] = mapped_column(Integer)  # from lapse to removal
    on_lapse: Mapped[str] = mapped_column(String(8), default="remove")  # or "warn"
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    join_link: Mapped[str | None] = mapped_column(String(256))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Seat(Base):
    """Someone seen in a gated chat, member or not, and where they stand.

    "in" qualifies; "lapsed" no longer does and is removed at `remove_after` (unless
    the gate only warns, or only reports); "removed" was taken out by us; "left" went.
    """

    __tablename__ = "community_seats"
    __table_args__ = (
        UniqueConstraint("gate_id", "user_id"),
        Index("ix_community_seats_due", "status", "remove_after"),
        Index("ix_community_seats_member", "member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    gate_id: Mapped[int] = mapped_column(Id, ForeignKey("community_gates.id",
                                                        ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(64))  # the account in that chat
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id",
                                                                 ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8))
    chat_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    lapsed_at: Mapped[datetime | None]
    remove_after: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]
