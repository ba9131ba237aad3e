"""Distinct members of a period read from kept spans of ended days, corrected for the
days after them and the tail, against a count of every record from scratch."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select, update

from domain.insight import distinct, rollups
from domain.insight.distinct import Counts
from domain.insight.periods import NAMED, Period, named
from domain.insight.tables import InsightDistinct
from domain.members import members
from domain.points import checkin
from tests.domain.insight.test_kpis import buy, join, on


async def history(db, programme, days: range, people: list[int], seed: int) -> None:
    """Each day, some of the people buy (once or twice) and some check in."""
    rng = random.Random(seed)
    for day in days:
        for member_id in people:
            for n in range(rng.choice((0, 0, 0, 1, 2))):
                await buy(db, programme, member_id, f"o-{day}-{member_id}-{n}",
                          rng.randrange(1_000, 9_000), on(day, 9 + n))
            if rng.random() < 0.3:
                async with db.uow() as uow:
                    await checkin.check_in(uow, programme, await members.get(uow, member_id),
                                           on(day, 8))
                    await uow.commit()


async def from_scratch(db, programme, period: Period) -> Counts:
    async with db.snapshot() as uow:
        every = await rollups.tail(uow, programme.zone, dict.fromkeys(rollups.NAMES, 0))
    sums: dict[int, list[int]] = {}
    for (day, member_id), done in every.members.items():
        if period.first <= day <= period.last:
            mine = sums.setdefault(member_id, [0, 0, 0])
            for i, n in enumerate(done):
                mine[i] += n
    return Counts(*(sum(1 for s in sums.values() if s[column] >= least)
                    for column, least in distinct.RULES))


async def counted(db, programme, period: Period, now) -> Counts:
    async with db.snapshot() as uow:
        tail = await rollups.tail(uow, programme.zone, await rollups.marks(uow))
        return await distinct.count(uow, period, tail, distinct.ended_through(programme.zone,
                                                                              now))


def periods_asked(today: date) -> list[Period]:
    asked = [p for word in NAMED if (p := named(word, today)) is not None]
    asked += [Period(today - timedelta(days=k), today - timedelta(days=j))
              for k, j in ((20, 3), (9, 0), (1, 1), (15, 15), (25, 0))]
    return asked + [p.before() for p in asked]


async def test_kept_spans_read_as_a_count_from_scratch_however_the_job_fell(db, programme):
    people = [await join(db, programme, f"m{n}", on(1, 8)) for n in range(8)]
    await history(db, programme, range(1, 19), people, seed=7)
    # The job ran on day 15 (rolling up to then) and not since; on day 19, before any of
    # the day's activity, the spans are counted with days 15-18 still in the tail.
    await rollups.run(db, programme, on(15, 12))
    assert await distinct.keep(db, programme, on(19, 7)) > 0
    await history(db, programme, range(19, 20), people, seed=8)  # today, after the count
    now, today = on(19, 20), date(2026, 3, 19)
    async with db.snapshot() as uow:
        kept = int(await uow.scalar(select(func.count()).select_from(InsightDistinct)))
        spans_ = set((await uow.execute(select(InsightDistinct.first,
                                               InsightDistinct.last))).all())
    assert spans_ == distinct.spans(today, date(2026, 3, 18)) and kept == len(spans_)
    for period in periods_asked(today):
        assert await counted(db, programme, period, now) == await from_scratch(
            db, programme, period), period
    # All rolled up now: the same counts.
    await rollups.run(db, programme, now)
    for period in periods_asked(today):
        assert await counted(db, programme, period, now) == await from_scratch(
            db, programme, period), period
    # A second keep adds nothing; the job's keep is what the 7 days are read from.
    assert await distinct.keep(db, programme, now) == 0
    week = named("7d", today)
    assert week is not None
    before = await counted(db, programme, week, now)
    async with db.uow() as uow:
        await uow.session.execute(update(InsightDistinct).where(
            InsightDistinct.first == week.first, InsightDistinct.last == today - timedelta(1))
            .values(active=InsightDistinct.active + 1000))
        await uow.commit()
    assert (await counted(db, programme, week, now)).active == before.active + 1000


async def test_a_day_is_kept_only_once_it_ended_and_settled(db, programme):
    ann = await join(db, programme, "ann", on(1, 8))
    await buy(db, programme, ann, "o-1", 5_000, on(2, 23) + timedelta(minutes=59))
    # 00:01 on day 3: day 2 ended a minute ago, less than SETTLE: not kept yet.
    just_after = on(3, 0) + timedelta(minutes=1)
    assert distinct.ended_through(programme.zone, just_after) == date(2026, 3, 1)
    after = on(3, 0) + rollups.SETTLE + timedelta(seconds=1)
    assert distinct.ended_through(programme.zone, after) == date(2026, 3, 2)
    await distinct.keep(db, programme, after)
    period = Period(date(2026, 3, 2), date(2026, 3, 2))
    assert (await counted(db, programme, period, after)).buyers == 1
