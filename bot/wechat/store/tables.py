"""What the Official Account platform issued for us and lets us reuse, kept in the database
rather than in a worker's memory so every worker shares it: access tokens, service windows,
member cards, QR scene codes and uploaded images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class AccessToken(Base):
    """A platform API token shared by every process; one row per app, refreshed under
    this row's lock so workers never replace each other's token."""

    __tablename__ = "access_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512), default="")
    expires_at: Mapped[datetime]
    fetched_at: Mapped[datetime | None]


class ServiceWindow(Base):
    """When a platform lets us message a member unprompted, and how much of it is spent.
    A member's message opens the window; each pushed message uses one unit of quota."""

    __tablename__ = "service_windows"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    quota: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)


class MemberCard(Base):
    """A platform membership card linked to a member. The synced_* cursors are the last
    ledger entry and tier change shown on the card, so each change is pushed once."""

    __tablename__ = "member_cards"
    __table_args__ = (UniqueConstraint("card_id", "member_id"),)

    card_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    activated_at: Mapped[datetime]
    synced_entry_id: Mapped[int] = mapped_column(BigInteger, default=0)
    synced_tier_change_id: Mapped[int] = mapped_column(BigInteger, default=0)
    synced_bonus: Mapped[int | None] = mapped_column(BigInteger)
    lease_until: Mapped[datetime | None]


class SceneCode(Base):
    """A QR code that brings a newcomer in with `scene` (e.g. `ref_CODE`): the ticket
    and the content the QR encodes (`url`), valid until `expires_at`."""

    __tablename__ = "scene_codes"

    app: Mapped[str] = mapped_column(String(64), primary_key=True)  # "wechat:<app id>"
    scene: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class UploadedMedia(Base):
    """An image uploaded once, by the SHA-256 of its bytes, usable until `expires_at`."""

    __tablename__ = "uploaded_media"
    __table_args__ = (Index("ix_uploaded_media_expires_at", "expires_at"),)

    app: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
