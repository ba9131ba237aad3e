"""Tables of the scheduler and its lifecycle jobs (birthdays, win-back, reminders).

Job state lives here rather than in the scheduler's memory, so any worker can show it
(/jobs) and ask for a pause or a run, and the one process that schedules picks it up.
The other tables are the domain keys that make each job's effects happen once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.models import Base, Id


class JobState(Base):
    """One row per scheduled job: what operators see and steer."""

    __tablename__ = "scheduler_jobs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # ok, failed, waiting
    last_result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # counts, for /jobs
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_runner: Mapped[str | None] = mapped_column(String(64))
    run_requested_at: Mapped[datetime | None]
    requested_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class SchedulerRunner(Base):
    """Which process schedules now, and when it last said so."""

    __tablename__ = "scheduler_runner"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


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
