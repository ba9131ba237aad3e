"""SQLAlchemy tables. Mapped classes are plain records; rules live in the services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite has no native big autoincrement; BigInteger ids must become INTEGER there.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC, so both backends compare alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("points_balance >= 0", name="ck_members_balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_month: Mapped[int | None]
    birth_day: Mapped[int | None]
    birth_year: Mapped[int | None]
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    joined_at: Mapped[datetime]
    last_active_at: Mapped[datetime]
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    # Caches derived from the ledger, kept in step inside the same transaction.
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    next_expiry_at: Mapped[datetime | None]
    tier: Mapped[str | None] = mapped_column(String(32))
    tier_valid_until: Mapped[datetime | None]
    tier_floor: Mapped[str | None] = mapped_column(String(32))


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    linked_at: Mapped[datetime]


class LedgerEntry(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_member_id", "member_id", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    delta: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    # For an expiry or a reversal: the earn entry whose points it takes back.
    lot_id: Mapped[int | None] = mapped_column(Id, ForeignKey("ledger_entries.id"))
    qualifying: Mapped[int] = mapped_column(BigInteger, default=0)
    spend: Mapped[int] = mapped_column(BigInteger, default=0)


class TierChange(Base):
    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    from_tier: Mapped[str | None] = mapped_column(String(32))
    to_tier: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    qualifying: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int]
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class LinkCode(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


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
    """A platform delivery (a Telegram update, a WeChat message), written before it is
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


class Notice(Base):
    """Something to tell a member outside a conversation (an upgrade, a gift), queued in
    the transaction that caused it and sent later by the notifier, at most once."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # translation key
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None]
    platform: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(200))
