"""Tables of the points ledger, check-ins, purchases, refunds and expiry runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
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


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("member_id", "day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(Date)
    streak: Mapped[int]
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Purchase(Base):
    """One order from the shop. `order_id` is its idempotency key; `entries` lists the
    ledger entries it earned ([entry id, points]), which a refund reverses."""

    __tablename__ = "purchases"
    __table_args__ = (
        # Purchases of a span of time: a campaign's attribution window (insight/reach.py).
        Index("ix_purchases_created_at", "created_at"),
        # A member's purchases; with what each came to, so what every member spent is
        # summed from the index alone (insight/rfm.py), not a lookup in the table a row.
        Index("ix_purchases_member_spend", "member_id", "amount", "refunded"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
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


class ExpiryRun(Base):
    """One row per day the expiry batch ran; a finished day is not run again."""

    __tablename__ = "expiry_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    members: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
