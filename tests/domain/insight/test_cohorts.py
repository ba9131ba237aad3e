"""The retention grid against a history worked out by hand, the same whether the job
rolled it up (twice, at once) or /stats reads it all from the records."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from domain.insight import cohorts, rollups
from domain.members import members
from domain.points import checkin
from tests.domain.insight.test_kpis import buy, join


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


async def grid(db, programme, today: date) -> cohorts.Grid:
    async with db.snapshot() as uow:
        tail = await rollups.tail(uow, programme.zone, await rollups.marks(uow))
        return await cohorts.grid(uow, programme.zone, today, tail, months=4)


async def history(db, programme) -> None:
    """January: ann and bob join (and earn: profile-free joins earn nothing, so each
    checks in). ann buys in March; bob checks in in February. March: cat joins, checks in."""
    ann = await join(db, programme, "ann", at(1, 5))
    bob = await join(db, programme, "bob", at(1, 20))
    for who, when in ((ann, at(1, 6)), (bob, at(1, 21)), (bob, at(2, 10))):
        async with db.uow() as uow:
            await checkin.check_in(uow, programme, await members.get(uow, who), when)
            await uow.commit()
    await buy(db, programme, ann, "c-1", 5_000, at(3, 2))
    cat = await join(db, programme, "cat", at(3, 9))
    async with db.uow() as uow:
        await checkin.check_in(uow, programme, await members.get(uow, cat), at(3, 9))
        await uow.commit()


EXPECTED = cohorts.Grid(
    cohorts=(date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)),
    sizes=(0, 2, 0, 1),
    active=((0, 0, 0, 0), (2, 1, 1, None), (0, 0, None, None), (1, None, None, None)))


async def test_the_grid_of_a_known_history(db, programme):
    await history(db, programme)
    today = date(2026, 3, 20)
    assert await grid(db, programme, today) == EXPECTED  # all of it from the records
    await rollups.run(db, programme, at(2, 15))  # January and half of February
    assert await grid(db, programme, today) == EXPECTED
    await asyncio.gather(rollups.run(db, programme, at(3, 21)),
                         rollups.run(db, programme, at(3, 21)))
    assert await grid(db, programme, today) == EXPECTED


def test_months_walk_across_years():
    assert cohorts.months_between(date(2025, 11, 1), date(2026, 2, 1)) == 3
    assert cohorts.month_of(date(2026, 2, 28)) == date(2026, 2, 1)
