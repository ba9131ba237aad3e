"""Many tills, few members: concurrent purchase batches share members. On PostgreSQL
they once locked members in opposite orders and deadlocked, and the victims answered
500. Every purchase must be recorded once and answered 201."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import func, select

from domain.members import members
from domain.members.tables import Member
from domain.points.tables import LedgerEntry, Purchase
from tests.support.api_client import serving

TILLS, EACH = 16, 12


async def test_sixteen_tills_on_two_members_never_answer_500(db, programme, caplog):
    async with db.uow() as uow:
        for external_id in ("a", "b"):
            await members.register(uow, programme, "till-test", external_id, datetime.now(UTC))
        await uow.commit()
    plain = programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"promotions": ()})})
    caplog.set_level(logging.INFO, logger="bot.api.service")
    async with serving(db, plain) as api:
        earned = {1: 0, 2: 0}

        async def till(t: int) -> list[int]:
            statuses = []
            for n in range(EACH):
                member_id = 1 + (t + n) % 2
                status, body = await api.post("/api/v1/purchases", {
                    "order_id": f"T{t}-{n}", "member": {"number": str(member_id)},
                    "amount": 1_000, "currency": "CNY"})
                statuses.append(status)
                earned[member_id] += body.get("points", 0)
            return statuses
        answers = await asyncio.gather(*(till(t) for t in range(TILLS)))
    assert [s for statuses in answers for s in statuses] == [201] * (TILLS * EACH)
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Purchase)) \
            == TILLS * EACH
        for member_id in (1, 2):
            balance = await uow.session.scalar(
                select(Member.points_balance).where(Member.id == member_id))
            total = await uow.session.scalar(
                select(func.sum(LedgerEntry.delta)).where(LedgerEntry.member_id == member_id))
            # What the answers said was earned, and at least 10 points a purchase.
            assert balance == total == earned[member_id] >= 10 * TILLS * EACH // 2 + 100
    assert "recording one by one" not in caplog.text  # no batch failed
