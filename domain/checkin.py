"""Daily check-in (签到): once per calendar day in the member's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from domain import ledger, tiers
from domain.config import CheckinRules, Programme
from domain.database import UnitOfWork
from domain.errors import AlreadyCheckedIn
from domain.expiry import expires_at
from domain.models import Checkin, Member


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
    today = await _on(uow, member.id, day)
    if today is not None:
        raise AlreadyCheckedIn(streak=today.streak, next_day=day + timedelta(days=1))
    yesterday = await _on(uow, member.id, day - timedelta(days=1))
    streak = yesterday.streak + 1 if yesterday else 1
    base, bonus = programme.checkin.base_points, streak_bonus(programme.checkin, streak)
    uow.session.add(Checkin(member_id=member.id, day=day, streak=streak, points=base + bonus,
                            created_at=now))
    await uow.flush()
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


async def _on(uow: UnitOfWork, member_id: int, day: date) -> Checkin | None:
    return await uow.session.scalar(
        select(Checkin).where(Checkin.member_id == member_id, Checkin.day == day)
    )

