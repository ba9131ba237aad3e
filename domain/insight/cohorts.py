"""Cohort retention: of the members who joined in a month, how many were active (moved
points, bought, checked in) in each month since.

The roll-up job records each member's active months once (`note`, in the transaction
that rolls their days up) and adds the first sighting to their join month's row; the
grid then reads a few dozen rows, plus what came after the job's marks (`grid`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from domain.insight.tables import InsightCohort, InsightDay, InsightMemberMonth
from domain.members.tables import Member
from domain.storage.database import UnitOfWork

if TYPE_CHECKING:
    from domain.insight.rollups import Tally

CHUNK = 500  # members in one IN (...) list
MONTHS = 12  # cohorts in the grid, the current month's included


def month_of(day: date) -> date:
    return day.replace(day=1)


def months_between(first: date, later: date) -> int:
    return (later.year - first.year) * 12 + later.month - first.month


@dataclass(frozen=True)
class Grid:
    cohorts: tuple[date, ...]  # join months, oldest first
    sizes: tuple[int, ...]  # members who joined in each
    active: tuple[tuple[int | None, ...], ...]  # [cohort][months since]; None: not yet


async def _joined(uow: UnitOfWork, zone: ZoneInfo, ids: Iterable[int]) -> dict[int, date]:
    """Each member's join month in the programme's zone."""
    found: dict[int, date] = {}
    wanted = sorted(set(ids))
    for at in range(0, len(wanted), CHUNK):
        for member_id, joined in await uow.execute(
                select(Member.id, Member.joined_at).where(Member.id.in_(wanted[at:at + CHUNK]))):
            found[member_id] = month_of(joined.astimezone(zone).date())
    return found


def _months(tally: Tally) -> set[tuple[date, int]]:
    return {(month_of(day), member_id) for day, member_id in tally.members}


async def note(uow: UnitOfWork, zone: ZoneInfo, tally: Tally) -> None:
    """Record the months a tally's members were active; count each first sighting in
    its cohort. Part of the roll-up's transaction."""
    seen = _months(tally)
    if not seen:
        return
    table = InsightMemberMonth.__table__
    new = [(m, member) for m, member in await uow.execute(
        uow.upsert(table).on_conflict_do_nothing(index_elements=["month", "member_id"])
        .returning(table.c.month, table.c.member_id),
        [{"month": m, "member_id": member} for m, member in sorted(seen)])]
    if not new:
        return
    joined = await _joined(uow, zone, (member for _, member in new))
    counts = Counter((joined[member], m) for m, member in new if member in joined)
    cohorts = InsightCohort.__table__
    insert = uow.upsert(cohorts)
    await uow.execute(insert.on_conflict_do_update(
        index_elements=["cohort", "month"],
        set_={"members": cohorts.c.members + insert.excluded.members}),
        [{"cohort": c, "month": m, "members": n} for (c, m), n in counts.items()])


_SIZES = (select(InsightDay.day, InsightDay.number)
          .where(InsightDay.measure == "members.joined", InsightDay.day >= bindparam("b_first")))
_ACTIVE = select(InsightCohort.cohort, InsightCohort.month, InsightCohort.members).where(
    InsightCohort.cohort >= bindparam("b_first"))


async def grid(uow: UnitOfWork, zone: ZoneInfo, today: date, tail: Tally,
               months: int = MONTHS) -> Grid:
    """The last `months` cohorts, each against every month since it joined."""
    current = month_of(today)
    first = _back(current, months - 1)
    sizes: Counter[date] = Counter()
    for day, number in await uow.execute(_SIZES, {"b_first": first}):
        sizes[month_of(day)] += int(number)
    for (day, measure, _), (_, number) in tail.days.items():
        if measure == "members.joined" and day >= first:
            sizes[month_of(day)] += number
    active: Counter[tuple[date, date]] = Counter()
    for cohort, month, members in await uow.execute(_ACTIVE, {"b_first": first}):
        active[cohort, month] += int(members)
    for (cohort, month), n in (await _unseen(uow, zone, tail, first)).items():
        active[cohort, month] += n
    cohorts = tuple(_back(current, k) for k in range(months - 1, -1, -1))
    return Grid(cohorts, tuple(sizes[c] for c in cohorts), tuple(
        tuple(active[c, _forward(c, k)] if _forward(c, k) <= current else None
              for k in range(months)) for c in cohorts))


async def _unseen(uow: UnitOfWork, zone: ZoneInfo, tail: Tally,
                  first: date) -> Counter[tuple[date, date]]:
    """The tail's first sightings: member-months not recorded yet, by cohort. Looked up
    month by month (a pair of columns IN a list of pairs is a full scan on SQLite)."""
    seen = sorted(_months(tail))
    by_month: dict[date, list[int]] = {}
    for m, member in seen:
        by_month.setdefault(m, []).append(member)
    known: set[tuple[date, int]] = set()
    for m, members in by_month.items():
        for at in range(0, len(members), CHUNK):
            known.update((m, member) for (member,) in await uow.execute(
                select(InsightMemberMonth.member_id).where(
                    InsightMemberMonth.month == m,
                    InsightMemberMonth.member_id.in_(members[at:at + CHUNK]))))
    new = [(m, member) for m, member in seen if (m, member) not in known]
    joined = await _joined(uow, zone, (member for _, member in new))
    return Counter((joined[member], m) for m, member in new
                   if member in joined and joined[member] >= first)


def _back(month: date, k: int) -> date:
    index = month.year * 12 + month.month - 1 - k
    return date(index // 12, index % 12 + 1, 1)


def _forward(month: date, k: int) -> date:
    return _back(month, -k)
