"""Tables of the lifecycle jobs: birthday gifts, win-back episodes and expiry reminders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.rewards import tables as _rewards  # noqa: F401
from domain.storage.tables import Base, Id


class BirthdayGift(Base):
    """A member's birthday gift of one year: the key that gives it once."""

    __tablename__ = "birthday_gifts"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_id: Mapped[int | None] = mapped_column(Id, ForeignKey("coupons.id"))
    given_at: Mapped[datetime]


class WinBackEpisode(Base):
    """A lapse, named by the member's last activity before it: one coupon each. A member
    who comes back and lapses again has a new last activity, so a new episode."""

    __tablename__ = "winback_episodes"
    __table_args__ = (
        UniqueConstraint("member_id", "idle_since"),
        Index("ix_winback_episodes_open", "coupon_expires_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    idle_since: Mapped[datetime]
    detected_at: Mapped[datetime]
    coupon_id: Mapped[int | None] = mapped_column(Id, ForeignKey("coupons.id"))
    coupon_expires_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]  # seen active again by then
    won_back_at: Mapped[datetime | None]  # the coupon was used then


class ExpiryReminder(Base):
    """How far a member's expiry reminders reach: lots expiring up to `covered_until`
    were announced, the last time at `reminded_at`."""

    __tablename__ = "expiry_reminders"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    covered_until: Mapped[datetime]
    reminded_at: Mapped[datetime]
