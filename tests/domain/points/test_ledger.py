"""The ledger as a specification: balances, keys, FIFO expiry, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain.errors import InsufficientPoints, InvalidAmount
from domain.members import members
from domain.members.tables import Member
from domain.points import ledger
from domain.points.tables import LedgerEntry


async def new_member(db, programme, now, name="alice"):
    async with db.uow() as uow:
        reg = await members.register(uow, programme, "test", name, now)
        await uow.commit()
        return reg.member.id


async def post(db, now, member_id, delta, key, kind=None, expires=None, lot=None):
    async with db.uow() as uow:
        result = await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=delta, kind=kind or ("earn" if delta > 0 else "redeem"),
            reason="test", key=key, expires_at=expires, lot_id=lot,
        ), now)
        await uow.commit()
        return result


async def balance_and_sum(db, member_id):
    async with db.uow() as uow:
        balance = await ledger.balance_of(uow, member_id)
        total = await uow.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.delta), 0))
            .where(LedgerEntry.member_id == member_id))
        return balance, int(total)


async def test_earn_then_redeem_moves_balance(db, programme, now):
    m = await new_member(db, programme, now)
    assert (await post(db, now, m, 100, "e1")).balance == 100
    assert (await post(db, now, m, -30, "r1")).balance == 70
    assert await balance_and_sum(db, m) == (70, 70)


async def test_same_key_twice_changes_nothing(db, programme, now):
    m = await new_member(db, programme, now)
    first = await post(db, now, m, 100, "same")
    again = await post(db, now, m, 100, "same")
    assert not first.duplicate and again.duplicate
    assert again.balance == 100
    assert await balance_and_sum(db, m) == (100, 100)


async def test_overdraw_is_refused_and_leaves_no_entry(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 50, "e1")
    with pytest.raises(InsufficientPoints) as refused:
        await post(db, now, m, -51, "r1")
    assert refused.value.params == {"balance": 50, "needed": 51}
    assert await balance_and_sum(db, m) == (50, 50)
    async with db.uow() as uow:
        assert await ledger.count(uow, m) == 1


async def test_a_refused_debit_caught_mid_transaction_leaves_no_entry(db, programme, now):
    """As a handler does: statements already ran on the connection, inside a savepoint
    of its own, then the refusal is caught and the transaction commits. The debit's
    savepoint must be taken before its entry is written (the ORM takes one lazily),
    or the entry stays while the balance does not move."""
    m = await new_member(db, programme, now)
    await post(db, now, m, 50, "e1")
    async with db.uow() as uow:
        await ledger.balance_of(uow, m)  # the connection is open and in use
        async with uow.savepoint():
            await ledger.balance_of(uow, m)
            with pytest.raises(InsufficientPoints):
                await ledger.post(uow, ledger.Post(m, -80, "adjust", "adjusted", key="r1"), now)
        await uow.commit()
    assert await balance_and_sum(db, m) == (50, 50)
    async with db.uow() as uow:
        assert await ledger.count(uow, m) == 1


@pytest.mark.parametrize("delta", [0, 10**12, -(10**12)])
async def test_absurd_amounts_are_refused(db, programme, now, delta):
    m = await new_member(db, programme, now)
    with pytest.raises(InvalidAmount):
        await post(db, now, m, delta, "x")
    assert await balance_and_sum(db, m) == (0, 0)


async def test_expired_points_are_written_off_oldest_first(db, programme, now):
    m = await new_member(db, programme, now)
    day = timedelta(days=1)
    await post(db, now, m, 100, "old", expires=now + 10 * day)
    await post(db, now + day, m, 50, "new", expires=now + 40 * day)
    # The redemption takes the oldest lot first: 80 of the 100.
    await post(db, now + 2 * day, m, -80, "spend")
    async with db.uow() as uow:
        expired = await ledger.write_off(uow, m, now + 11 * day)
        await uow.commit()
    assert expired == 20
    assert await balance_and_sum(db, m) == (50, 50)
    async with db.uow() as uow:  # running it again is a no-op
        assert await ledger.write_off(uow, m, now + 11 * day) == 0
        await uow.commit()
    assert await balance_and_sum(db, m) == (50, 50)


async def test_redeem_never_spends_points_that_have_expired(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 100, "old", expires=now + timedelta(days=1))
    with pytest.raises(InsufficientPoints):
        await post(db, now + timedelta(days=2), m, -10, "late")
    # The write-off inside the failed redemption rolled back with it; the next
    # operation makes it again, and the balance still equals the entries.
    await post(db, now + timedelta(days=2), m, 30, "fresh", expires=now + timedelta(days=90))
    await post(db, now + timedelta(days=2), m, -10, "ok")
    assert await balance_and_sum(db, m) == (20, 20)


async def test_expiring_soon_reports_what_is_left_of_each_lot(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 100, "a", expires=now + timedelta(days=5))
    await post(db, now, m, 40, "b", expires=now + timedelta(days=100))
    await post(db, now, m, -30, "r")
    async with db.uow() as uow:
        soon = await ledger.expiring_soon(uow, m, now, days=30)
    assert [(e.points, e.on) for e in soon] == [(70, now + timedelta(days=5))]


async def test_concurrent_redemptions_never_overdraw(db, programme, now):
    """50 redemptions of 10 against 200 points: exactly 20 succeed."""
    m = await new_member(db, programme, now)
    await post(db, now, m, 200, "seed")

    async def redeem(i: int) -> bool:
        try:
            await post(db, now, m, -10, f"redeem-{i}")
            return True
        except InsufficientPoints:
            return False

    results = await asyncio.gather(*(redeem(i) for i in range(50)))
    assert sum(results) == 20
    assert await balance_and_sum(db, m) == (0, 0)


async def test_concurrent_duplicate_keys_apply_once(db, programme, now):
    m = await new_member(db, programme, now)
    results = await asyncio.gather(*(post(db, now, m, 7, "tap") for _ in range(20)))
    assert sum(not r.duplicate for r in results) == 1
    assert await balance_and_sum(db, m) == (7, 7)


async def test_database_refuses_a_negative_balance_even_past_the_service(db, programme, now):
    m = await new_member(db, programme, now)
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            await uow.session.execute(update(Member).where(Member.id == m)
                                      .values(points_balance=-1))
            await uow.commit()


async def test_a_nested_unit_of_work_is_refused_not_deadlocked(db):
    async with db.uow():
        with pytest.raises(RuntimeError, match="already open"):
            async with db.uow():
                pass
    async with db.uow() as uow:  # and the outer one released everything
        await uow.commit()


async def test_timestamps_survive_a_database_session_in_another_time_zone(backend, programme,
                                                                           now):
    """A server whose session zone is not UTC must not shift expiry dates."""
    from domain.storage.tables import Base
    db = await backend.empty(session_zone="Asia/Shanghai")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        m = await new_member(db, programme, now)
        expires = now + timedelta(days=365)
        await post(db, now, m, 10, "tz", expires=expires)
        await post(db, now, m, 5, "tz-later", expires=expires + timedelta(days=1))
        async with db.uow() as uow:
            member = await uow.session.get(Member, m)
            entry = await uow.session.scalar(select(LedgerEntry).where(
                LedgerEntry.idempotency_key == "tz"))
            assert member.next_expiry_at == expires
            assert entry.expires_at == expires and entry.created_at == now
            # and the debit guard compares in UTC too: not yet expired, so it succeeds
        await post(db, expires - timedelta(minutes=1), m, -15, "spend-all")
        assert await balance_and_sum(db, m) == (0, 0)
    finally:
        await db.dispose()


async def test_a_refused_debit_that_the_caller_catches_leaves_no_trace(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 50, "e1")
    async with db.uow() as uow:
        with pytest.raises(InsufficientPoints):
            await ledger.post(uow, ledger.Post(member_id=m, delta=-80, kind="redeem",
                                               reason="test", key="r1"), now)
        await uow.commit()  # the caller carries on and commits other work
    assert await balance_and_sum(db, m) == (50, 50)
    await post(db, now, m, 100, "e2")
    retried = await post(db, now, m, -80, "r1")  # the key was not burnt: it really debits
    assert not retried.duplicate and retried.balance == 70
    assert await balance_and_sum(db, m) == (70, 70)


async def test_a_write_off_inside_a_debit_keeps_unsaved_member_changes(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 10, "old", expires=now + timedelta(days=1))
    await post(db, now, m, 50, "new", expires=now + timedelta(days=90))
    later = now + timedelta(days=2)
    async with db.uow() as uow:
        member = await uow.session.get(Member, m)
        member.display_name = "Renamed"
        await ledger.post(uow, ledger.Post(member_id=m, delta=-5, kind="redeem", reason="t",
                                           key="after-expiry"), later)
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.get(Member, m)).display_name == "Renamed"
    assert await balance_and_sum(db, m) == (45, 45)


async def test_settle_writes_off_what_expired_before_showing_a_balance(db, programme, now):
    m = await new_member(db, programme, now)
    await post(db, now, m, 10, "old", expires=now + timedelta(days=1))
    async with db.uow() as uow:
        member = await uow.session.get(Member, m)
        assert await ledger.settle(uow, member, now) == 10
        assert await ledger.settle(uow, member, now + timedelta(days=2)) == 0
        assert await ledger.expiring_soon(uow, m, now + timedelta(days=2), 30) == []
        await uow.commit()
    assert await balance_and_sum(db, m) == (0, 0)
