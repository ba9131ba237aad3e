"""Lifecycle stages: the Python rule and the SQL clause agree on every member, purchases
keep the statistics they read, and the migration fills them in for existing orders."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from bot import importing
from bot.app import App
from bot.settings import Settings
from domain.config import Lifecycle
from domain.lifecycle import lifecycle
from domain.lifecycle.lifecycle import STAGES, stage_clause, stage_of
from domain.members import members
from domain.members.tables import Member
from domain.points import purchases, refunds
from domain.storage import schema
from domain.storage.tables import Base
from handlers.routers import build_engine
from tests.conftest import BACKENDS, Backend, require

NOW = datetime(2026, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)
RULES = Lifecycle()


@pytest.fixture(params=BACKENDS)
def loop_db(request, tmp_path):
    require(request.param)
    loop = asyncio.new_event_loop()
    backend = Backend(request.param, tmp_path)

    async def setup():
        database = await backend.empty()
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        return database

    database = loop.run_until_complete(setup())
    yield loop, database
    loop.run_until_complete(database.dispose())
    loop.run_until_complete(backend.cleanup())
    loop.close()


def ago(rules: Lifecycle):
    """Moments before NOW, crowded around the rules' boundaries (to the microsecond)."""
    edges = [timedelta(days=d) + timedelta(microseconds=e)
             for d in (rules.new_days, rules.lapse_floor_days, rules.churn_days)
             for e in (-1, 0, 1)]
    return st.one_of(
        st.sampled_from(edges),
        st.integers(min_value=0, max_value=500 * 86_400 * 10**6).map(
            lambda us: timedelta(microseconds=us)),
    ).map(lambda delta: NOW - delta)


rules_st = st.tuples(st.integers(1, 90), st.integers(1, 300)).flatmap(
    lambda fc: st.builds(Lifecycle, new_days=st.integers(1, 60),
                         lapse_multiple=st.integers(1, 5), lapse_floor_days=st.just(fc[0]),
                         churn_days=st.just(fc[0] + fc[1])))


@st.composite
def population(draw):
    rules = draw(rules_st)
    moment = ago(rules)
    people = []
    for _ in range(draw(st.integers(1, 12))):
        count = draw(st.integers(0, 30))
        first = draw(st.none() | moment) if count else None
        last = draw(st.none() | moment) if count else None
        people.append(dict(joined_at=draw(moment), last_active_at=draw(moment),
                           first_purchase_at=first, last_purchase_at=last,
                           purchase_count=count))
    return rules, people


class Row:
    def __init__(self, values: dict) -> None:
        self.__dict__.update(values)


async def _compare(db, rules: Lifecycle, people: list[dict]) -> None:
    async with db.uow() as uow:
        await uow.session.execute(delete(Member))
        ids = []
        for i, person in enumerate(people):
            ids.append(await uow.session.scalar(insert(Member).values(
                referral_code=f"R{i:07d}", **person).returning(Member.id)))
        await uow.commit()
    expected = {stage: {i for i, p in zip(ids, people, strict=True)
                        if stage_of(Row(p), rules, NOW) == stage} for stage in STAGES}
    async with db.uow() as uow:
        for stage in STAGES:
            found = set(await uow.session.scalars(
                select(Member.id).where(stage_clause(stage, rules, NOW))))
            assert found == expected[stage], stage


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=population())
# A weekly customer silent for a month: lapsing past 3 weeks (the floor is lower).
@example(case=(Lifecycle(lapse_floor_days=10), [dict(
    joined_at=NOW - timedelta(days=200), last_active_at=NOW - timedelta(days=22),
    first_purchase_at=NOW - timedelta(days=92), last_purchase_at=NOW - timedelta(days=22),
    purchase_count=11)]))
# Idle one second beyond the interval, with a last activity at .9997 s: rounding the
# fraction (as SQLite's date functions do) would lose that second.
@example(case=(Lifecycle(lapse_multiple=1), [dict(
    joined_at=NOW - timedelta(days=300),
    last_active_at=NOW.replace(microsecond=999_700) - timedelta(days=40, seconds=1),
    first_purchase_at=NOW - timedelta(days=200),
    last_purchase_at=NOW - timedelta(days=160), purchase_count=2)]))
def test_the_sql_clause_and_the_python_rule_agree(loop_db, case):
    loop, database = loop_db
    loop.run_until_complete(_compare(database, *case))


def member(**overrides) -> Row:
    values = dict(joined_at=NOW - timedelta(days=400), last_active_at=NOW,
                  first_purchase_at=None, last_purchase_at=None, purchase_count=0)
    return Row({**values, **overrides})


def test_stages_by_example():
    assert stage_of(member(joined_at=NOW - timedelta(days=3)), RULES, NOW) == "new"
    assert stage_of(member(last_active_at=NOW - timedelta(days=29)), RULES, NOW) == "active"
    assert stage_of(member(last_active_at=NOW - timedelta(days=31)), RULES, NOW) == "lapsing"
    assert stage_of(member(last_active_at=NOW - timedelta(days=181)), RULES, NOW) == "churned"
    # A monthly customer (10 purchases over 9 months) is not lapsing after 40 days...
    monthly = dict(first_purchase_at=NOW - timedelta(days=310),
                   last_purchase_at=NOW - timedelta(days=40), purchase_count=10)
    assert stage_of(member(last_active_at=NOW - timedelta(days=40), **monthly),
                    RULES, NOW) == "active"
    # ...but is after three of their months.
    assert stage_of(member(last_active_at=NOW - timedelta(days=91), **monthly),
                    RULES, NOW) == "lapsing"
    assert lifecycle.usual_interval(Row(monthly)) == timedelta(days=30)


def plain(programme):
    return programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"promotions": ()})})


async def stats(db, member_id):
    async with db.uow() as uow:
        m = await uow.session.get(Member, member_id)
        return m.purchase_count, m.first_purchase_at, m.last_purchase_at, m.last_active_at


async def test_purchases_keep_the_statistics_and_refunds_leave_them(db, programme, now):
    programme = plain(programme)
    async with db.uow() as uow:
        mid = (await members.register(uow, programme, "console", "a", now)).member.id
        await uow.commit()
    assert await stats(db, mid) == (0, None, None, now)
    later = now + timedelta(days=3)
    for when, order in ((now, "O-1"), (later, "O-2"), (later, "O-2")):  # O-2 repeated
        async with db.uow() as uow:
            await purchases.record(uow, programme, mid,
                                   purchases.Order(order, 5000, "CNY"), when)
            await uow.commit()
    assert await stats(db, mid) == (2, now, later, later)
    async with db.uow() as uow:
        await refunds.refund(uow, programme, "O-2", None, None, later + timedelta(days=1))
        await uow.commit()
    assert await stats(db, mid) == (2, now, later, later)


async def test_an_import_counts_each_new_order_once(db, programme, tmp_path):
    programme = plain(programme)
    async with db.uow() as uow:
        mid = (await members.register(uow, programme, "console", "a",
                                      datetime(2025, 1, 1, tzinfo=UTC))).member.id
        await uow.commit()
    app = App(Settings(), programme, db, build_engine(db, programme))
    path = tmp_path / "orders.csv"
    path.write_text("order_id,member,amount,currency\nI-1,1,100,CNY\nI-2,1,200,CNY\n",
                    encoding="utf-8")
    await importing.run(app, path, out=io.StringIO(), err=io.StringIO())
    await importing.run(app, path, out=io.StringIO(), err=io.StringIO())
    count, first, last, active = await stats(db, mid)
    assert count == 2 and first == last and active == last
    assert active > datetime(2025, 1, 1, tzinfo=UTC)


async def test_the_migration_fills_in_statistics_from_existing_orders(backend):
    db = await backend.empty()
    try:
        await schema.upgrade(db.engine, "0004")
        joined, bought = datetime(2026, 1, 1), datetime(2026, 2, 1)
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO members (id, phone_verified, marketing_consent, status, joined_at,"
                " last_active_at, referral_code, points_balance) VALUES "
                "(1, false, false, 'active', :j, :j, 'AAAA', 0),"
                "(2, false, false, 'active', :j, :j, 'BBBB', 0)"), {"j": joined})
            for i, days in enumerate((0, 10, 20)):
                await conn.execute(text(
                    "INSERT INTO purchases (order_id, member_id, amount, currency, items,"
                    " points, entries, refunded, source, created_at) VALUES "
                    "(:o, 1, 100, 'CNY', '[]', 1, '[]', 0, 'api', :at)"),
                    {"o": f"M-{i}", "at": bought + timedelta(days=days)})
        await schema.upgrade(db.engine)
        async with db.uow() as uow:
            one, two = (await uow.session.get(Member, 1)), (await uow.session.get(Member, 2))
            assert one.purchase_count == 3
            assert one.first_purchase_at == bought.replace(tzinfo=UTC)
            assert one.last_purchase_at == one.last_active_at == (
                bought + timedelta(days=20)).replace(tzinfo=UTC)
            assert (two.purchase_count, two.last_purchase_at) == (0, None)
            assert two.last_active_at == joined.replace(tzinfo=UTC)
    finally:
        await db.dispose()
