"""The figures of one period: members, sales, points and engagement.

Movements come from the daily roll-ups plus what was appended since they were last
kept (domain/insight/rollups.py), so they are current to the second; states (members
by tier, reachable) from the members' reading (domain/insight/snapshots.py). Every
figure is a whole number of points, members or minor units: ratios are left to the
reader, as exact fractions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Integer, bindparam, case, func, select

from domain.config import Programme
from domain.feedback.tables import SurveyResponse
from domain.insight import distinct, reach, rollups, snapshots, takings
from domain.insight.periods import Period
from domain.insight.rollups import Tally
from domain.insight.tables import InsightDay
from domain.members.tables import ReferralReward
from domain.membership import subscriptions
from domain.rewards.tables import Coupon
from domain.storage.database import UnitOfWork

LOSSES = ("points.redeemed", "points.expired", "points.reversed", "points.deducted")


@dataclass(frozen=True)
class Figures:
    period: Period
    # (measure, dimension) -> [amount, number], summed over the period's days
    days: dict[tuple[str, str], list[int]]
    active: int  # members who earned or redeemed points
    buyers: int
    repeat_buyers: int  # members with two purchases or more in the period
    checkin_members: int
    outstanding: int  # points held at the period's end
    standing: snapshots.Reading | None  # the members at the period's end, if read
    standing_at: datetime | None
    coupons_used: int = 0
    surveys_sent: int = 0
    surveys_completed: int = 0
    campaign_reached: int = 0  # members a campaign started in the period reached
    campaign_buyers: int = 0  # ... who bought within its attribution window
    referrals: int = 0  # referred members who made their first purchase
    # The tills' takings from every customer on the days they reported (takings.py),
    # how many days that is, and members' sales on those same days.
    takings: int = 0
    takings_days: int = 0
    member_sales_on_takings_days: int = 0
    # Stars paid for paid membership in the period, refunds taken off (domain/membership).
    stars: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def amount(self, measure: str, dimension: str | None = None) -> int:
        return sum(v[0] for (m, d), v in self.days.items()
                   if m == measure and dimension in (None, d))

    def number(self, measure: str, dimension: str | None = None) -> int:
        return sum(v[1] for (m, d), v in self.days.items()
                   if m == measure and dimension in (None, d))

    def by(self, measure: str) -> dict[str, list[int]]:
        return {d: v for (m, d), v in self.days.items() if m == measure}

    def state(self, measure: str, dimension: str = "") -> int | None:
        return None if self.standing is None else self.standing.get((measure, dimension), 0)

    def states(self, measure: str) -> dict[str, int]:
        return {} if self.standing is None else {
            d: v for (m, d), v in self.standing.items() if m == measure}

    @property
    def revenue(self) -> int:
        return self.amount("sales") - self.amount("refunds")

    @property
    def issued(self) -> int:
        return self.amount("points.issued")


def share(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


async def both(uow: UnitOfWork, programme: Programme, period: Period,
               now: datetime) -> tuple[Figures, Figures]:
    """This period's figures and the previous one's, from one reading of the tail."""
    zone = programme.zone
    tail = await rollups.tail(uow, zone, await rollups.marks(uow))
    earlier = period.before()
    return (await figures(uow, programme, period, now, tail),
            await figures(uow, programme, earlier, now, tail))


async def figures(uow: UnitOfWork, programme: Programme, period: Period, now: datetime,
                  tail: Tally) -> Figures:
    today = now.astimezone(programme.zone).date()
    days = await _days(uow, period, tail)
    members = await distinct.count(uow, period, tail, distinct.ended_through(programme.zone, now))
    outstanding = await _outstanding(uow, period, tail)
    if period.last >= today:
        standing_at, standing = await snapshots.current(uow, programme, now)
        found: tuple[datetime, snapshots.Reading] | None = (standing_at, standing)
    else:
        found = await snapshots.as_of(uow, period.last)
    start, end = _bounds(programme, period)
    sent, completed = (await uow.execute(select(
        func.count(), func.coalesce(func.sum(case((SurveyResponse.completed_at.is_not(None), 1),
                                                  else_=0).cast(Integer)), 0))
        .where(SurveyResponse.sent_at >= start, SurveyResponse.sent_at < end))).one()
    reached, bought = await reach.in_period(uow, start, end, now)
    reported = await takings.in_period(uow, period)
    member_sales = await daily(uow, period, tail, ("sales", "refunds")) if reported else {}
    return Figures(
        period, days, members.active, members.buyers, members.repeat_buyers,
        members.checkin_members, outstanding=outstanding,
        standing=found[1] if found else None, standing_at=found[0] if found else None,
        coupons_used=await _count(uow, Coupon.used_at, start, end),
        surveys_sent=int(sent), surveys_completed=int(completed),
        campaign_reached=reached, campaign_buyers=bought,
        referrals=await _count(uow, ReferralReward.created_at, start, end),
        takings=sum(reported.values()), takings_days=len(reported),
        member_sales_on_takings_days=sum(  # after refunds, as the revenue line
            member_sales.get((day, "sales"), [0])[0] - member_sales.get((day, "refunds"), [0])[0]
            for day in reported),
        stars=await subscriptions.revenue(uow, start, end))


def _bounds(programme: Programme, period: Period) -> tuple[datetime, datetime]:
    zone = programme.zone
    return (datetime.combine(period.first, time(0), zone),
            datetime.combine(period.last + timedelta(days=1), time(0), zone))


async def _count(uow: UnitOfWork, column: Any, start: datetime, end: datetime) -> int:
    return int(await uow.scalar(select(func.count()).where(column >= start, column < end)))


_FIRST: Any = bindparam("b_first")
_LAST: Any = bindparam("b_last")
_D = InsightDay
_DAYS = (select(_D.measure, _D.dimension, func.sum(_D.amount), func.sum(_D.number))
         .where(_D.day >= _FIRST, _D.day <= _LAST).group_by(_D.measure, _D.dimension))


async def _days(uow: UnitOfWork, period: Period, tail: Tally) -> dict[tuple[str, str], list[int]]:
    found = {(m, d): [int(a), int(n)] for m, d, a, n in
             await uow.execute(_DAYS, {"b_first": period.first, "b_last": period.last})}
    for (day, measure, dimension), (amount, number) in tail.days.items():
        if period.first <= day <= period.last:
            figure = found.setdefault((measure, dimension), [0, 0])
            figure[0] += amount
            figure[1] += number
    return found


_OUT = (select(_D.measure, func.sum(_D.amount))
        .where(_D.day <= _LAST, _D.measure.in_(("points.issued", *LOSSES)))
        .group_by(_D.measure))


async def _outstanding(uow: UnitOfWork, period: Period, tail: Tally) -> int:
    """Points held at the period's end: all ever issued less all ever taken."""
    total = 0
    moved = list(await uow.execute(_OUT, {"b_last": period.last}))
    moved += [(m, a) for (day, m, _), (a, _) in tail.days.items() if day <= period.last]
    for measure, amount in moved:
        if measure == "points.issued":
            total += int(amount)
        elif measure in LOSSES:
            total -= int(amount)
    return total


_DAILY = (select(_D.day, _D.measure, func.sum(_D.amount), func.sum(_D.number))
          .where(_D.day >= _FIRST, _D.day <= _LAST, _D.measure.in_(bindparam("b_measures",
                                                                             expanding=True)))
          .group_by(_D.day, _D.measure))


async def daily(uow: UnitOfWork, period: Period, tail: Tally,
                measures: Iterable[str]) -> dict[tuple[date, str], list[int]]:
    """Each day's [amount, number] of the measures, for the charts over time."""
    wanted = tuple(measures)
    found = {(day, m): [int(a), int(n)] for day, m, a, n in await uow.execute(
        _DAILY, {"b_first": period.first, "b_last": period.last, "b_measures": list(wanted)})}
    for (day, measure, _), (amount, number) in tail.days.items():
        if measure in wanted and period.first <= day <= period.last:
            figure = found.setdefault((day, measure), [0, 0])
            figure[0] += amount
            figure[1] += number
    return found
