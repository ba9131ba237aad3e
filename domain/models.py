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

    # On SQLite the value is text in SQLAlchemy's own layout ("2026-12-02 13:40:00.000000");
    # one step each way instead of two, as every message reads and writes several.
    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        last: tuple[datetime | None, str | None] = (None, None)

        def to_text(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            seen = last  # one read: the pair never mixes two calls' halves
            if seen[0] is value:  # a batch binds the same `now` on every row
                return seen[1]
            given = value
            if value.tzinfo is not UTC:
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
                value = value.astimezone(UTC)
            text = value.replace(tzinfo=None).isoformat(" ", "microseconds")
            last = (given, text)
            return text
        return to_text

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)
        return from_text


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
        Index("ix_members_next_expiry_at", "next_expiry_at"),
        # Lifecycle jobs: lapse windows, birthdays, tier reviews (domain/lifecycle.py).
        # The lapse window is a range on last_active_at; the index also carries what the
        # stage and win-back test per row, so a selection never visits the table.
        Index("ix_members_lifecycle", "last_active_at", "status", "marketing_consent",
              "joined_at", "purchase_count", "first_purchase_at", "last_purchase_at"),
        Index("ix_members_birthday", "birth_month", "birth_day"),
        Index("ix_members_tier_valid_until", "tier_valid_until"),
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
    # Purchase statistics, kept by domain/purchases.py and domain/imports.py (refunds
    # leave them): the lifecycle stage reads a member's own usual purchase interval.
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None] = mapped_column(index=True)
    purchase_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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
    # Whether a waiting callback carries the answer as its passive reply:
    # domain.inbox.AWAITED, GIVEN or RELEASED; None where no callback waits.
    passive: Mapped[str | None] = mapped_column(String(8))


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


class Purchase(Base):
    """One order from the shop. `order_id` is its idempotency key; `entries` lists the
    ledger entries it earned ([entry id, points]), which a refund reverses."""

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[list[Any]] = mapped_column(JSON, default=list)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    purchase_id: Mapped[int] = mapped_column(Id, ForeignKey("purchases.id"), index=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)  # reversed
    short: Mapped[int] = mapped_column(BigInteger)  # owed but already spent
    created_at: Mapped[datetime]


class RewardStock(Base):
    """Live stock of a catalogue item; `remaining` None means unlimited."""

    __tablename__ = "reward_stock"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="ck_reward_stock_not_negative"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    remaining: Mapped[int | None] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class Redemption(Base):
    """A member spent points on a reward; `key` is the tap that asked for it."""

    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_member_reward", "member_id", "reward"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    reward: Mapped[str] = mapped_column(String(32))
    cost: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Coupon(Base):
    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    reward: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(8), default="issued")
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    redemption_id: Mapped[int | None] = mapped_column(Id, ForeignKey("redemptions.id"),
                                                      unique=True)


class CouponFailure(Base):
    """A code that did not verify; counted per actor to slow down guessing."""

    __tablename__ = "coupon_failures"
    __table_args__ = (Index("ix_coupon_failures_actor", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class StaffRole(Base):
    __tablename__ = "staff_roles"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: who did what to whom, for every operator action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class ReferralReward(Base):
    """Decided once per referee, at their first purchase: rewarded, or why not."""

    __tablename__ = "referral_rewards"

    referee_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    referrer_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class ExpiryRun(Base):
    """One row per day the expiry batch ran; a finished day is not run again."""

    __tablename__ = "expiry_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    members: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


# Tables of later capabilities live in their own modules; importing them here puts them
# in Base.metadata, which migrations are checked against.
from domain import (  # noqa: E402, F401
    campaign_models,
    catalogue_models,
    scene_models,
    scheduler_models,
)
