"""Random sequences of earn / redeem / expire / repeated keys against a plain model.

Each example runs against a fresh member in a real database of each backend. The
model is written independently of domain.points.lots, so FIFO mistakes in either show.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from domain.errors import InsufficientPoints
from domain.members import members
from domain.points import ledger
from domain.points.tables import LedgerEntry
from domain.storage.tables import Base
from tests.conftest import BACKENDS, Backend, require

START = datetime(2026, 1, 1, tzinfo=UTC)
LIFETIME = timedelta(days=30)

op = st.tuples(
    st.sampled_from(["earn", "redeem", "expire"]),
    st.integers(min_value=1, max_value=120),
    st.integers(min_value=0, max_value=12),  # key: a small pool, so keys repeat
    st.integers(min_value=0, max_value=20),  # days that pass before the op
)


@dataclass
class Model:
    lots: list[list] = field(default_factory=list)  # [expires_at, remaining], oldest first
    seen: set[str] = field(default_factory=set)

    def expire(self, now: datetime) -> int:
        gone = sum(rem for exp, rem in self.lots if exp <= now)
        self.lots = [lot for lot in self.lots if lot[0] > now]
        return gone

    def available(self, now: datetime) -> int:
        return sum(rem for exp, rem in self.lots if exp > now)

    def redeem(self, amount: int) -> None:
        for lot in self.lots:
            taken = min(lot[1], amount)
            lot[1] -= taken
            amount -= taken
        self.lots = [lot for lot in self.lots if lot[1]]


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


async def _totals(db, member_id):
    async with db.uow() as uow:
        balance = await ledger.balance_of(uow, member_id)
        total = await uow.session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                                         .where(LedgerEntry.member_id == member_id))
    return balance, int(total)


async def _check(db, programme, ops) -> None:
    prefix = uuid.uuid4().hex[:8]
    async with db.uow() as uow:
        member_id = (await members.register(uow, programme, "prop", prefix, START)).member.id
        await uow.commit()
    model, now = Model(), START
    for kind, amount, key_no, days in ops:
        now += timedelta(days=days)
        key = f"{prefix}:{key_no}"
        if kind == "expire":
            async with db.uow() as uow:
                expired = await ledger.write_off(uow, member_id, now)
                await uow.commit()
            assert expired == model.expire(now)
            assert (await _totals(db, member_id))[0] == model.available(now)
            continue
        async with db.uow() as uow:
            delta = amount if kind == "earn" else -amount
            try:
                posted = await ledger.post(uow, ledger.Post(
                    member_id=member_id, delta=delta, kind=kind, reason="prop", key=key,
                    expires_at=now + LIFETIME if kind == "earn" else None), now)
                await uow.commit()
                refused = False
            except InsufficientPoints:
                refused = True
        if key in model.seen:
            assert not refused and posted.duplicate
        elif kind == "earn":
            model.lots.append([now + LIFETIME, amount])
            model.seen.add(key)
        else:
            affordable = model.available(now) >= amount
            assert refused == (not affordable)
            if affordable:
                model.expire(now)
                model.redeem(amount)
                model.seen.add(key)
        balance, total = await _totals(db, member_id)
        assert balance == total
        assert balance >= 0
    async with db.uow() as uow:
        await ledger.write_off(uow, member_id, now + LIFETIME)
        await uow.commit()
    assert await _totals(db, member_id) == (0, 0)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=1, max_size=25))
# Two lots, a partial redemption, then expiry between their dates: FIFO decides it.
@example(ops=[("earn", 100, 0, 0), ("earn", 50, 1, 10), ("redeem", 80, 2, 1), ("expire", 1, 3, 20)])
def test_ledger_matches_the_model(loop_db, programme, ops):
    loop, database = loop_db
    loop.run_until_complete(_check(database, programme, ops))
