"""Daily check-in (签到): once per calendar day in the member's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, insert, select

from domain.config import CheckinRules, Programme
from domain.errors import AlreadyCheckedIn
from domain.members.tables import Member
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.points.tables import Checkin
from domain.storage.database import UnitOfWork
from domain.tiers import tiers


@dataclass(frozen=True)
class CheckedIn:
    day: date
    streak: int
    base: int
    bonus: int
    balance: int
    tier_changed: str | None


def local_day(member: Member, programme: Programme, now: datetime) -> date:
    zone = ZoneInfo(member.timezone) if member.timezone else programme.zone
    return now.astimezone(zone).date()


def streak_bonus(rules: CheckinRules, streak: int) -> int:
    position = (streak - 1) % rules.cycle_days + 1 if rules.cycle_days else streak
    return sum(b.points for b in rules.streak_bonuses if b.days == position)


async def check_in(uow: UnitOfWork, programme: Programme, member: Member,
                   now: datetime) -> CheckedIn:
    day = local_day(member, programme, now)
    streaks = await _streaks(uow, member.id, day - timedelta(days=1), day)
    if day in streaks:
        raise AlreadyCheckedIn(streak=streaks[day], next_day=day + timedelta(days=1))
    streak = streaks.get(day - timedelta(days=1), 0) + 1
    base, bonus = programme.checkin.base_points, streak_bonus(programme.checkin, streak)
    # The unique (member, day) makes a racing second check-in fail here, before any points.
    await uow.execute(_INSERT, {"member_id": member.id, "day": day, "streak": streak,
                                        "points": base + bonus, "created_at": now})
    balance = member.points_balance
    tier_changed = None
    if base + bonus:
        posted = await ledger.post(uow, ledger.Post(
            member_id=member.id, delta=base + bonus, kind="earn", reason="checkin",
            key=f"checkin:{member.id}:{day.isoformat()}", params={"streak": streak},
            expires_at=expires_at(programme.expiry, programme, now), qualifying=base + bonus,
        ), now)
        balance = posted.balance
        decision = await tiers.reevaluate(uow, programme.tiers, member.id, now)
        tier_changed = decision.code if decision.changes else None
    return CheckedIn(day, streak, base, bonus, balance, tier_changed)


_C = Checkin.__table__
_INSERT = insert(_C)
_STREAKS = select(_C.c.day, _C.c.streak).where(
    _C.c.member_id == bindparam("b_member"),
    _C.c.day.between(bindparam("b_from", type_=Date()), bindparam("b_to", type_=Date())))


async def _streaks(uow: UnitOfWork, member_id: int, first: date, last: date) -> dict[date, int]:
    """The streak on each day from `first` to `last` the member checked in."""
    rows = await uow.execute(_STREAKS, {"b_member": member_id, "b_from": first,
                                                "b_to": last})
    return {day: streak for day, streak in rows}

