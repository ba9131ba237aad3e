"""The ledger's figures for monitoring (domain.monitoring): points are counted once their
transaction commits, never for a rollback, an undone savepoint or a repeated key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import monitoring
from domain.errors import InsufficientPoints
from domain.members import members
from domain.points import ledger


async def a_member(db, programme) -> int:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "telegram", "1", datetime.now(UTC),
                                          )).member
        await uow.commit()
        return member.id


def earn(member_id: int, points: int, key: str, **extra) -> ledger.Post:
    return ledger.Post(member_id, points, "earn", "test", key, **extra)


async def test_points_count_at_commit_and_not_for_what_was_undone(db, programme, heard):
    member_id = await a_member(db, programme)
    now = datetime.now(UTC)
    async with db.uow() as uow:
        await ledger.post(uow, earn(member_id, 40, "a"), now)
        assert heard.points["issued"] == 0  # not yet committed
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                await ledger.post(uow, earn(member_id, 1000, "undone"), now)
                raise RuntimeError("the block fails: its entry is gone, and its figure")
        await ledger.post(uow, earn(member_id, 40, "a"), now)  # the same key: nothing moves
        await uow.commit()
    assert heard.points == {"issued": 40}
    async with db.uow() as uow:  # rolled back: never counted
        await ledger.post(uow, earn(member_id, 500, "b"), now)
    async with db.uow() as uow:
        with pytest.raises(InsufficientPoints):
            await ledger.post(uow, ledger.Post(member_id, -41, "redeem", "test", "too-much"),
                              now)
        await ledger.post(uow, ledger.Post(member_id, -15, "redeem", "test", "r"), now)
        await ledger.post(uow, ledger.Post(member_id, -5, "reverse", "test", "v"), now)
        await uow.commit()
    assert heard.points == {"issued": 40, "redeemed": 15, "reversed": 5}


async def test_bulk_credits_and_write_offs_count(db, programme, heard):
    member_id = await a_member(db, programme)
    now = datetime.now(UTC)
    async with db.uow() as uow:
        await ledger.post_credits(uow, [earn(member_id, 10, "c1"), earn(member_id, 15, "c2"),
                                        earn(member_id, 30, "old",
                                             expires_at=now - timedelta(days=1))],
                                  now - timedelta(days=2))
        await ledger.post_credits(uow, [earn(member_id, 10, "c1")], now)  # seen: skipped
        await uow.commit()
    async with db.uow() as uow:
        assert await ledger.write_off(uow, member_id, now) == 30
        await uow.commit()
    assert heard.points == {"issued": 55, "expired": 30}


async def test_with_nobody_watching_nothing_is_kept_for_the_commit(db, programme):
    member_id = await a_member(db, programme)
    now = datetime.now(UTC)
    assert not monitoring.watched()
    async with db.uow() as uow:
        await ledger.post(uow, earn(member_id, 40, "a"), now)
        assert uow._after is None  # a hot path pays nothing when nobody listens
        await uow.commit()
