"""Repeated Core statements on SQLite skip SQLAlchemy's execution path and read the same.

Each case runs a statement several times (the first run is SQLAlchemy's, later ones
the plan's) and compares with what SQLAlchemy itself returns; on PostgreSQL the same
cases show both backends agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, bindparam, event, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from domain.members.tables import Member
from domain.points.tables import LedgerEntry
from domain.storage.tables import UTCDateTime

M, E = Member.__table__, LedgerEntry.__table__
NEW_MEMBER = insert(M).returning(*M.c)
NEW_ENTRY = insert(E)
ENTRIES = select(E).where(E.c.member_id == bindparam("b_member")).order_by(E.c.id)
BALANCE = select(M.c.points_balance).where(M.c.id == bindparam("b_member"))
CREDIT = (update(M).where(M.c.id == bindparam("b_member"))
          .values(points_balance=M.c.points_balance + bindparam("b_amount")))


async def _member(uow, now, code: str):
    return (await uow.execute(NEW_MEMBER, {
        "joined_at": now, "last_active_at": now, "referral_code": code, "tier": "silver",
        "tier_valid_until": None})).one()


def _entry(member_id: int, key: str, now: datetime, **extra) -> dict:
    return {"member_id": member_id, "delta": 5, "kind": "earn", "reason": "checkin",
            "source": "test", "idempotency_key": key, "created_at": now,
            "expires_at": now + timedelta(days=365), **extra}


async def test_repeated_statements_read_as_sqlalchemy_reads_them(db, now):
    async with db.uow() as uow:
        rows = [await _member(uow, now, f"CODE{i}") for i in range(3)]
        # Column defaults are filled in on every path: scalars and a fresh dict each.
        assert [(r.status, r.points_balance, r.phone_verified) for r in rows] == \
            [("active", 0, False)] * 3
        assert rows[0]._mapping["referral_code"] == "CODE0"
        assert rows[0].joined_at == now and rows[0].joined_at.tzinfo is not None
        member_id = rows[0].id
        await uow.execute(NEW_ENTRY, [_entry(member_id, f"k{i}", now) for i in range(3)])
        await uow.execute(NEW_ENTRY, [_entry(member_id, "k3", now, params={"streak": 2})])
        for _ in range(3):
            changed = await uow.execute(CREDIT, {"b_member": member_id, "b_amount": 7})
            assert changed.rowcount == 1
        direct = [list(await uow.execute(ENTRIES, {"b_member": member_id})) for _ in range(3)]
        reference = list(await uow.session.execute(ENTRIES, {"b_member": member_id}))
        assert direct[0] == direct[1] == direct[2] == reference
        assert [r.params for r in direct[2]] == [{}, {}, {}, {"streak": 2}]
        assert direct[2][0].created_at == now
        assert direct[2][0].expires_at == now + timedelta(days=365)
        assert [await uow.scalar(BALANCE, {"b_member": member_id}) for _ in range(3)] == \
            [21] * 3
        assert await uow.scalar(BALANCE, {"b_member": 10_000}) is None
        await uow.commit()


async def test_many_rows_with_returning_come_back_in_order_without_the_skipped(db, now):
    upsert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[db.dialect](E)
    statement = (upsert.on_conflict_do_nothing(index_elements=["idempotency_key"])
                 .returning(E.c.idempotency_key))
    async with db.uow() as uow:
        member = await _member(uow, now, "MANY")
        got = []
        for round_ in range(3):
            keys = [f"r{round_}a", "shared", f"r{round_}b"]
            got.append((await uow.execute(statement, [_entry(member.id, k, now)
                                                      for k in keys])).scalars().all())
    assert got == [["r0a", "shared", "r0b"], ["r1a", "r1b"], ["r2a", "r2b"]]


async def test_from_the_second_run_sqlalchemy_sees_no_statement(db, backend, now):
    seen: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda *args: seen.append(args[2]))
    async with db.uow() as uow:
        member = await _member(uow, now, "SEEN")
        statement = select(M.c.referral_code).where(M.c.id == bindparam("b"))
        seen.clear()
        answers = [await uow.scalar(statement, {"b": member.id}) for _ in range(4)]
    assert answers == ["SEEN"] * 4
    assert len(seen) == (1 if backend.kind == "sqlite" else 4)


async def test_a_unique_violation_is_sqlalchemys_integrity_error(db, now):
    async with db.uow() as uow:
        member = await _member(uow, now, "DUP")
        for i in range(2):
            await uow.execute(NEW_ENTRY, _entry(member.id, f"once{i}", now))
        with pytest.raises(IntegrityError):
            await uow.execute(NEW_ENTRY, _entry(member.id, "once0", now))


async def test_a_missing_parameter_is_refused_not_bound_as_null(db, now):
    async with db.uow() as uow:
        member = await _member(uow, now, "MISS")
        for _ in range(2):
            assert await uow.scalar(BALANCE, {"b_member": member.id}) == 0
        with pytest.raises(SQLAlchemyError, match="b_member"):
            await uow.scalar(BALANCE, {})


async def test_a_statement_derived_from_a_planned_one_gets_its_own_plan(db, now):
    async with db.uow() as uow:
        first, second = await _member(uow, now, "ONE"), await _member(uow, now, "TWO")
        base = select(M.c.id).where(M.c.id >= bindparam("b_from")).order_by(M.c.id)
        for _ in range(2):
            assert (await uow.execute(base, {"b_from": 0})).scalars().all() == \
                [first.id, second.id]
        narrower = base.where(M.c.referral_code == "TWO")
        for _ in range(2):
            assert (await uow.execute(narrower, {"b_from": 0})).scalars().all() == [second.id]


async def test_text_and_expanding_statements_keep_working(db, now):
    async with db.uow() as uow:
        ids = [(await _member(uow, now, f"IN{i}")).id for i in range(3)]
        raw = text("SELECT count(*) FROM members WHERE referral_code LIKE :p")
        listed = select(M.c.id).where(M.c.id.in_(bindparam("b_ids", expanding=True)))
        for n in (1, 3, 2):
            assert await uow.scalar(raw, {"p": "IN%"}) == 3
            assert sorted((await uow.execute(listed, {"b_ids": ids[:n]})).scalars().all()) \
                == ids[:n]


_SQLITE = sqlite.dialect()
# Looked up as SQLAlchemy looks them up when it binds and reads a column.
_TO_TEXT = UTCDateTime()._cached_bind_processor(_SQLITE)
_FROM_TEXT = UTCDateTime()._cached_result_processor(_SQLITE, None)
_SQLALCHEMY_TEXT = DateTime()._cached_bind_processor(_SQLITE)


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)),
                                               timezone(timedelta(hours=-5, minutes=-30))])))
def test_utc_text_is_sqlalchemys_own_layout_and_reads_back(moment):
    assert _TO_TEXT(moment) == _SQLALCHEMY_TEXT(moment.astimezone(UTC).replace(tzinfo=None))
    assert _FROM_TEXT(_TO_TEXT(moment)) == moment
    assert _FROM_TEXT(_TO_TEXT(moment)).tzinfo is UTC


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="naive"):
        _TO_TEXT(datetime(2026, 1, 1))
