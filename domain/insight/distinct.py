"""Distinct members of a period: who moved points (active), bought, bought twice or
more, checked in.

Daily counts cannot be added up: a member active on two days is one member. Counting
them groups the period's member-days (insight_member_days) by member, hundreds of
thousands of rows for a month of a large programme: seconds. But a day that ended
(SETTLE ago) no longer changes, so a span of ended days is counted once and kept
(InsightDistinct); a period reads its kept span and corrects it member by member for
the days after it (today, as a rule) and for the tail, as kpis corrects for the tail.
The roll-up job keeps the spans of the named periods and of the periods before them,
so /stats finds them ready; any other period is counted as it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, bindparam, case, func, select

from domain.config import Programme
from domain.insight import periods, rollups
from domain.insight.periods import Period
from domain.insight.rollups import Tally
from domain.insight.tables import InsightDistinct, InsightMemberDay
from domain.storage.database import Database, UnitOfWork

CHUNK = 500  # member ids in one IN (...) list
KINDS = ("active", "buyers", "repeat_buyers", "checkin_members")
# What each kind asks of a member's sums over the period (moves, purchases, checkins).
RULES = ((0, 1), (1, 1), (1, 2), (2, 1))

_FIRST: Any = bindparam("b_first")
_LAST: Any = bindparam("b_last")
_MD = InsightMemberDay


def _yes(column: Any, at_least: int = 1) -> Any:
    return func.coalesce(func.sum(case((column >= at_least, 1), else_=0).cast(Integer)), 0)


_PER_MEMBER = (select(_MD.member_id, func.sum(_MD.moves).label("moves"),
                      func.sum(_MD.purchases).label("purchases"),
                      func.sum(_MD.checkins).label("checkins"))
               .where(_MD.day >= _FIRST, _MD.day <= _LAST).group_by(_MD.member_id))
_per = _PER_MEMBER.subquery()
_COUNT = select(_yes(_per.c.moves), _yes(_per.c.purchases), _yes(_per.c.purchases, 2),
                _yes(_per.c.checkins))
# The members of the days after a kept span, with their sums over that span.
_AFTER: Any = bindparam("b_after")
_later = (select(_MD.member_id).where(_MD.day > _AFTER, _MD.day <= _LAST)
          .distinct().scalar_subquery())
_BEFORE_OF_LATER = (select(_MD.member_id, func.sum(_MD.moves), func.sum(_MD.purchases),
                           func.sum(_MD.checkins))
                    .where(_MD.day >= _FIRST, _MD.day <= _AFTER, _MD.member_id.in_(_later))
                    .group_by(_MD.member_id))
_KEPT = select(*(getattr(InsightDistinct, k) for k in KINDS)).where(
    and_(InsightDistinct.first == _FIRST, InsightDistinct.last == _LAST))

Sums = dict[int, list[int]]  # member id -> [moves, purchases, checkins]


@dataclass(frozen=True)
class Counts:
    active: int
    buyers: int
    repeat_buyers: int
    checkin_members: int


def ended_through(zone: ZoneInfo, now: datetime) -> date:
    """The last day that ended at least SETTLE ago: its member-days no longer change."""
    return (now - rollups.SETTLE).astimezone(zone).date() - timedelta(days=1)


def _add(sums: Sums, member_id: int, done: Any) -> None:
    mine = sums.setdefault(member_id, [0, 0, 0])
    for i, n in enumerate(done):
        mine[i] += int(n)


def _tail(tail: Tally, first: date, last: date) -> Sums:
    sums: Sums = {}
    for (day, member_id), done in tail.members.items():
        if first <= day <= last:
            _add(sums, member_id, done)
    return sums


async def _sums(uow: UnitOfWork, first: date, last: date, ids: list[int]) -> Sums:
    """Each of `ids`' sums over [first, last] in the roll-ups."""
    sums: Sums = {}
    window = {"b_first": first, "b_last": last}
    for at in range(0, len(ids), CHUNK):
        for row in await uow.execute(_PER_MEMBER.where(_MD.member_id.in_(ids[at:at + CHUNK])),
                                     window):
            _add(sums, row.member_id, row[1:])
    return sums


def _lift(counts: list[int], before: Sums, added: Sums) -> None:
    """Correct counts over what `before` holds for what `added` holds beside it."""
    for member_id, more in added.items():
        was = before.get(member_id, [0, 0, 0])
        for i, (column, least) in enumerate(RULES):
            counts[i] += (was[column] + more[column] >= least) - (was[column] >= least)


async def count(uow: UnitOfWork, period: Period, tail: Tally, ended: date) -> Counts:
    """The distinct members of `period`, from its kept span of ended days when there is
    one, else from all its member-days; corrected for the tail either way."""
    window = {"b_first": period.first, "b_last": period.last}
    span_last = min(period.last, ended)
    kept = None
    if span_last >= period.first:
        kept = (await uow.execute(_KEPT, {"b_first": period.first, "b_last": span_last})).first()
    if kept is None:  # every member-day of the period, then the tail
        counts = [int(n) for n in (await uow.execute(_COUNT, window)).one()]
        added = _tail(tail, period.first, period.last)
        _lift(counts, await _sums(uow, period.first, period.last, sorted(added)), added)
        return Counts(*counts)
    counts = [int(n) for n in kept]
    if span_last == period.last:
        return Counts(*counts)
    # The days after the span, rolled up and in the tail, over the span's own sums.
    added = _tail(tail, span_last + timedelta(days=1), period.last)
    before = _tail(tail, period.first, span_last)
    later = {**window, "b_after": span_last}
    for row in await uow.execute(_PER_MEMBER.where(_MD.day > _AFTER), later):
        _add(added, row.member_id, row[1:])
    spanned: Sums = {}
    for member_id, *done in await uow.execute(_BEFORE_OF_LATER, later):
        _add(spanned, member_id, done)
    unseen = sorted(m for m in added if m not in spanned)
    spanned.update(await _sums(uow, period.first, span_last, unseen))
    for member_id, done in spanned.items():
        _add(before, member_id, done)
    _lift(counts, before, added)
    return Counts(*counts)


def spans(today: date, ended: date) -> set[tuple[date, date]]:
    """The ended spans of the named periods and of the periods before them."""
    found = set()
    for word in periods.NAMED:
        period = periods.named(word, today)
        assert period is not None
        for p in (period, period.before()):
            if min(p.last, ended) >= p.first:
                found.add((p.first, min(p.last, ended)))
    return found


async def keep(db: Database, programme: Programme, now: datetime) -> int:
    """Count and keep the named periods' ended spans not kept yet: each read in a
    snapshot, written in a transaction of its own. How many were kept."""
    zone = programme.zone
    ended = ended_through(zone, now)
    wanted = spans(now.astimezone(zone).date(), ended)
    async with db.snapshot() as uow:
        have = set((await uow.execute(select(InsightDistinct.first, InsightDistinct.last)
                                      .where(InsightDistinct.last <= ended))).all())
    kept = 0
    for first, last in sorted(wanted - have):
        async with db.snapshot() as uow:
            tail = await rollups.tail(uow, zone, await rollups.marks(uow))
            counted = await count(uow, Period(first, last), tail, ended)
        async with db.uow() as uow:
            await uow.execute(uow.upsert(InsightDistinct.__table__).values(
                first=first, last=last, counted_at=now,
                **{k: getattr(counted, k) for k in KINDS}).on_conflict_do_nothing(
                index_elements=["first", "last"]))
            await uow.commit()
        kept += 1
    return kept
