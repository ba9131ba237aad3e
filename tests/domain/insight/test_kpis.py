"""KPIs of a period against figures worked out by hand, and roll-ups that agree with
a count of every record from scratch, however the job's runs fall."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, select

from domain.insight import kpis, rollups
from domain.insight.periods import Period, between, named
from domain.insight.tables import InsightDay, InsightMemberDay
from domain.members import members
from domain.points import checkin, purchases, refunds
from domain.points.purchases import Order
from domain.points.tables import LedgerEntry
from domain.rewards import rewards

# 10:00 in Shanghai on 1 March; day N of the story is March N.
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def on(day: int, hour: int = 10) -> datetime:
    return T0 + timedelta(days=day - 1, hours=hour - 10)


async def join(db, programme, who: str, at: datetime) -> int:
    async with db.uow() as uow:
        made = await members.register(uow, programme, "console", who, at)
        await uow.commit()
        return made.member.id


async def buy(db, programme, member_id: int, order: str, amount: int, at: datetime) -> None:
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id, Order(order, amount, "CNY"), at)
        await uow.commit()


async def story(db, programme) -> dict[str, int]:
    """Days 1-7 are the previous week of the period days 8-14 (asked on day 14).

    previous: ann joins (1), buys 100.00 (2); bob joins (3), buys 200.00 (4);
    current:  cat joins (8), checks in (8, 9); ann buys 50.00 (9) and 30.00 (12);
              bob redeems ten_off for 200 points (10); ann's first order is refunded
              40.00 of its 100.00 (11); bob buys 20.00 at 23:30 on day 14.
    """
    ann = await join(db, programme, "ann", on(1))
    await buy(db, programme, ann, "o-1", 10_000, on(2))
    bob = await join(db, programme, "bob", on(3))
    await buy(db, programme, bob, "o-2", 20_000, on(4))
    cat = await join(db, programme, "cat", on(8))
    for day in (8, 9):
        async with db.uow() as uow:
            await checkin.check_in(uow, programme, await members.get(uow, cat), on(day))
            await uow.commit()
    await buy(db, programme, ann, "o-3", 5_000, on(9))
    async with db.uow() as uow:
        await rewards.redeem(uow, programme, bob, "ten_off", "tap-1", on(10))
        await uow.commit()
    async with db.uow() as uow:
        await refunds.refund(uow, programme, "o-1", 4_000, "r-1", on(11))
        await uow.commit()
    await buy(db, programme, ann, "o-4", 3_000, on(12))
    await buy(db, programme, bob, "o-5", 2_000, on(14, 23) + timedelta(minutes=30))
    return {"ann": ann, "bob": bob, "cat": cat}


async def ledger_sum(db, kind: str, first: datetime, end: datetime) -> int:
    async with db.uow() as uow:
        return int(await uow.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                                    .where(LedgerEntry.kind == kind,
                                           LedgerEntry.created_at >= first,
                                           LedgerEntry.created_at < end)))


async def figures_on(db, programme, period: Period, now: datetime):
    async with db.snapshot() as uow:
        return await kpis.both(uow, programme, period, now)


async def test_the_figures_of_a_week_against_the_week_before(db, programme):
    await story(db, programme)
    now = on(14, 23) + timedelta(minutes=45)  # 23:45 in Shanghai, 15:45 UTC
    period = named("7d", date(2026, 3, 14))
    assert period == Period(date(2026, 3, 8), date(2026, 3, 14))
    this, last = await figures_on(db, programme, period, now)
    assert last.period == Period(date(2026, 3, 1), date(2026, 3, 7))
    # Members
    assert (this.number("members.joined"), last.number("members.joined")) == (1, 2)
    assert this.state("members.total") == 3 and this.state("members.reachable") == 3
    assert this.states("members.tier") == {"member": 3}
    assert this.states("members.platform") == {"console": 3}
    # ann (earned), bob (redeemed, earned), cat (check-ins earn points): all three moved.
    assert (this.active, last.active) == (3, 2)
    # Sales: 50.00 + 30.00 + 20.00 this week; 100.00 + 200.00 the week before.
    assert (this.amount("sales"), this.number("sales")) == (10_000, 3)
    assert (last.amount("sales"), last.number("sales")) == (30_000, 2)
    assert this.amount("refunds") == 4_000 and this.revenue == 6_000
    assert last.revenue == 30_000
    assert (this.buyers, this.repeat_buyers) == (2, 1)  # ann twice, bob once
    assert (last.buyers, last.repeat_buyers) == (2, 0)
    assert kpis.share(this.repeat_buyers, this.buyers) == Fraction(1, 2)
    # Average order: integers to the end, 100.00 / 3 orders.
    assert Fraction(this.amount("sales"), this.number("sales")) == Fraction(10_000, 3)
    assert this.by("sales") == {"member": [10_000, 3]}
    # Points: the ledger says what moved; the roll-ups must say the same by source.
    week = (datetime(2026, 3, 7, 16, tzinfo=UTC), datetime(2026, 3, 14, 16, tzinfo=UTC))
    assert this.issued == await ledger_sum(db, "earn", *week)
    assert this.amount("points.issued", "purchase") == 50 + 30 + 20
    assert this.amount("points.issued", "checkin") == 10
    assert last.amount("points.issued", "purchase") == 100 + 100 + 200 + 100  # + first buys
    assert this.amount("points.redeemed") == 200
    assert this.amount("points.reversed") == -await ledger_sum(db, "reverse", *week) > 0
    assert kpis.share(this.amount("points.redeemed"), this.issued) == Fraction(200, 110)
    async with db.uow() as uow:
        held = int(await uow.scalar(select(func.sum(LedgerEntry.delta))))
    assert this.outstanding == held
    assert last.outstanding == 500  # what ann and bob held on day 7
    # Engagement
    assert (this.number("checkins"), this.checkin_members) == (2, 1)
    assert this.number("redemptions", "ten_off") == 1


async def test_a_purchase_after_midnight_in_the_programmes_zone_is_the_next_day(db, programme):
    ids = await story(db, programme)
    # 16:10 UTC on day 14 is 00:10 on day 15 in Shanghai.
    await buy(db, programme, ids["cat"], "o-6", 1_000, datetime(2026, 3, 14, 16, 10, tzinfo=UTC))
    now = datetime(2026, 3, 14, 16, 20, tzinfo=UTC)
    today, _ = await figures_on(db, programme, named("today", date(2026, 3, 15)), now)
    assert today.amount("sales") == 1_000
    before, _ = await figures_on(db, programme, Period(date(2026, 3, 14), date(2026, 3, 14)),
                                 now)
    assert before.amount("sales") == 2_000


async def test_rollups_agree_with_a_count_from_scratch_however_the_runs_fall(db, programme):
    await story(db, programme)
    now = on(15)
    period = Period(date(2026, 3, 1), date(2026, 3, 14))
    # Nothing rolled up: every figure comes from the records after the (empty) marks.
    unrolled = await figures_on(db, programme, period, now)
    # Rolled up as of day 9 (a part), then the rest, twice at once: the same figures.
    await rollups.run(db, programme, on(9, 12))
    halfway = await figures_on(db, programme, period, now)
    await asyncio.gather(rollups.run(db, programme, now), rollups.run(db, programme, now))
    await rollups.run(db, programme, now)
    rolled = await figures_on(db, programme, period, now)
    for a, b in ((unrolled, halfway), (unrolled, rolled)):
        for x, y in zip(a, b, strict=True):
            assert (x.days, x.active, x.buyers, x.repeat_buyers, x.checkin_members,
                    x.outstanding) == (y.days, y.active, y.buyers, y.repeat_buyers,
                                       y.checkin_members, y.outstanding)
    # The tables hold exactly what folding every record from scratch gives.
    async with db.snapshot() as uow:
        scratch = await rollups.tail(uow, programme.zone, dict.fromkeys(rollups.NAMES, 0))
        stored = {(d, m, k): [a, n] for d, m, k, a, n in await uow.execute(select(
            InsightDay.day, InsightDay.measure, InsightDay.dimension, InsightDay.amount,
            InsightDay.number))}
        people = {(d, m): [a, b, c] for d, m, a, b, c in await uow.execute(select(
            InsightMemberDay.day, InsightMemberDay.member_id, InsightMemberDay.moves,
            InsightMemberDay.purchases, InsightMemberDay.checkins))}
        marks = await rollups.marks(uow)
    assert stored == scratch.days and people == scratch.members
    assert marks["ledger"] > 0 and marks["purchases"] == 5


async def test_the_job_leaves_the_last_minutes_to_the_reader(db, programme):
    ids = await story(db, programme)
    late = on(15)
    await buy(db, programme, ids["cat"], "o-7", 1_500, late)
    await rollups.run(db, programme, late + timedelta(seconds=30))  # o-7 is too young
    async with db.snapshot() as uow:
        assert (await rollups.marks(uow))["purchases"] == 5
    (figures, _) = await figures_on(db, programme, named("today", date(2026, 3, 15)),
                                    late + timedelta(seconds=30))
    assert figures.amount("sales") == 1_500 and figures.buyers == 1
    await rollups.run(db, programme, late + rollups.SETTLE + timedelta(seconds=1))
    async with db.snapshot() as uow:
        assert (await rollups.marks(uow))["purchases"] == 6


def test_periods_by_name_and_by_dates():
    today = date(2026, 5, 20)
    assert named("today", today) == Period(today, today)
    assert named("30d", today) == Period(date(2026, 4, 21), today)
    assert named("month", today) == Period(date(2026, 5, 1), today)
    assert named("quarter", today) == Period(date(2026, 4, 1), today)
    assert named("month", today).before() == Period(date(2026, 4, 11), date(2026, 4, 30))
    assert named("week", today) is None
    assert between(date(2026, 5, 1), date(2026, 6, 30), today) == \
        Period(date(2026, 5, 1), today)
