"""Tables of gated chats and of the people seen in them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
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
    kind: Mapped[str] = mapped_column(String(16))  # group, supergroup, channel, qr
    title: Mapped[str] = mapped_column(String(128))
    min_tier: Mapped[str] = mapped_column(String(32))
    grace_s: Mapped[int] = mapped_column(Integer)  # from lapse to removal
    on_lapse: Mapped[str] = mapped_column(String(8), default="remove")  # or "warn"
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    join_link: Mapped[str | None] = mapped_column(String(256))
    # A chat joined by scanning a picture (kind "qr"): the picture. Read on its own
    # (gates.join_image), never with the gate's other columns.
    join_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True,
                                                     deferred_raiseload=True)
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


# ------------------------------------------------------------------ moderation

class GroupSettings(Base):
    """A group's moderation settings; no row means the defaults (domain/community/
    group_settings.py)."""

    __tablename__ = "group_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16))
    warn_limit: Mapped[int] = mapped_column(Integer, default=3)
    warn_mode: Mapped[str] = mapped_column(String(8), default="mute")  # mute, kick, ban
    flood_limit: Mapped[int] = mapped_column(Integer, default=0)  # 0: off
    flood_mode: Mapped[str] = mapped_column(String(8), default="mute")
    flood_for_s: Mapped[int | None] = mapped_column(Integer)  # None: no end
    welcome_on: Mapped[bool] = mapped_column(Boolean, default=False)
    welcome_text: Mapped[str | None] = mapped_column(String(4096))
    rules_text: Mapped[str | None] = mapped_column(String(4096))
    captcha_on: Mapped[bool] = mapped_column(Boolean, default=False)
    captcha_minutes: Mapped[int] = mapped_column(Integer, default=2)
    captcha_skip_tier: Mapped[str | None] = mapped_column(String(32))
    log_chat: Mapped[str | None] = mapped_column(String(64))
    clean_commands: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class GroupWarn(Base):
    """A warn. Its id is in the "remove warn" button under its message, so an id is
    never given again once the warn is gone (AUTOINCREMENT on SQLite, which would
    otherwise reuse the highest id freed; a sequence on PostgreSQL never does)."""

    __tablename__ = "group_warns"
    __table_args__ = (Index("ix_group_warns_user", "platform", "chat_id", "user_id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(256))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class GroupRestriction(Base):
    """A mute or ban in force, kept so it outlives leaving and coming back."""

    __tablename__ = "group_restrictions"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # mute, ban
    until: Mapped[datetime | None]  # None: until lifted
    reason: Mapped[str | None] = mapped_column(String(256))
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class GroupCaptcha(Base):
    """A newcomer's pending captcha: muted until solved, out when `expires_at` passes.
    In the database, so a restart keeps every pending one."""

    __tablename__ = "group_captchas"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "user_id"),
                      Index("ix_group_captchas_due", "status", "expires_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    answer: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))  # pending, passed, failed, expired
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GroupReport(Base):
    """A member's /report of a message, until an admin deals with it."""

    __tablename__ = "group_reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    reporter_id: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(8))  # open, or what was done
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class GroupPerson(Base):
    """Someone seen in a group, so admins can name them by @username (the platform
    cannot look a username up for a bot)."""

    __tablename__ = "group_people"
    __table_args__ = (Index("ix_group_people_username", "platform", "username"),)

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64))  # lower case, without "@"
    name: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]
