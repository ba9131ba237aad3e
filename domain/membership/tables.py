"""Tables of paid membership: each member's subscription to a plan, and every payment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.members import tables as _members  # noqa: F401 - the foreign key's table
from domain.storage.tables import Base, Id


class Subscription(Base):
    """A member's plan: "active" until the lapse job, "lapsed" once a renewal was
    missed past the grace, "refunded" when staff gave the payment back, "ended" when
    the member was erased. One row per member and plan: subscribing again after a lapse
    takes the same row up again, and its payments keep the history.

    `charge_id` is the platform's reference of the first payment, by which a renewal
    is cancelled or re-enabled; `account` the paying account on `platform`. `renews`:
    the member has not cancelled renewal. `chats`: the gated chats the plan opened when
    last paid for (domain/community reads them)."""

    __tablename__ = "membership_subscriptions"
    __table_args__ = (UniqueConstraint("member_id", "plan"),
                      Index("ix_membership_subscriptions_due", "status", "expires_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12))
    renews: Mapped[bool] = mapped_column(Boolean)
    platform: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    charge_id: Mapped[str] = mapped_column(String(128))
    chats: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # The period whose gift was given ("2026-12-31T00:00:00+00:00", its end): once each.
    gift_period: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime]


class Payment(Base):
    """One payment, first or renewal, kept once by the platform's charge id: a payment
    delivered twice is one row. `amount` in stars; `refunded_at` when staff gave it back."""

    __tablename__ = "membership_payments"
    __table_args__ = (Index("ix_membership_payments_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    charge_id: Mapped[str] = mapped_column(String(128), unique=True)
    subscription_id: Mapped[int] = mapped_column(Id, ForeignKey("membership_subscriptions.id"),
                                                 index=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    plan: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime]
    recurring: Mapped[bool] = mapped_column(Boolean)
    first: Mapped[bool] = mapped_column(Boolean)
    refunded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
