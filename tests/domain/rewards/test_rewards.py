"""Redemption and coupons on real databases: one transaction, exact stock under a
crowd, one success per coupon however many tills try it."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain.members import members
from domain.members.members import CODE_ALPHABET
from domain.members.tables import Member
from domain.points import ledger
from domain.points.tables import LedgerEntry
from domain.rewards import coupons, rewards
from domain.rewards.coupons import CouponRefused
from domain.rewards.rewards import RewardRefused
from domain.rewards.tables import Coupon, Redemption, RewardStock
from tests.support.api_client import serving


async def crowd(db, programme, now, count: int, points: int) -> list[int]:
    ids = []
    async with db.uow() as uow:
        for i in range(count):
            member = (await members.register(uow, programme, "console", f"m{i}", now)).member
            await ledger.post(uow, ledger.Post(member_id=member.id, delta=points, kind="adjust",
                                               reason="adjusted", key=f"seed:{i}"), now)
            ids.append(member.id)
        await uow.commit()
    return ids


async def redeem(db, programme, member_id, code, tap, now):
    async with db.uow() as uow:
        done = await rewards.redeem(uow, programme, member_id, code, tap, now)
        await uow.commit()
        return done


def test_codes_are_long_random_and_unambiguous():
    codes = {coupons.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == coupons.CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert coupons.CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 64
    assert coupons.normalize("abcd-efgh jkmn_pqrs") == "ABCDEFGHJKMNPQRS"


async def test_one_hundred_members_racing_for_the_last_five(db, programme, now):
    ids = await crowd(db, programme, now, 100, 5_000)
    async with db.uow() as uow:
        await rewards.set_stock(uow, programme.reward("free_pot"), 5, True, now)
        await uow.commit()

    async def attempt(member_id):
        try:
            return await redeem(db, programme, member_id, "free_pot", "tap1", now)
        except RewardRefused as refused:
            return refused.code

    results = await asyncio.gather(*(attempt(m) for m in ids))
    won = [r for r in results if isinstance(r, rewards.Redeemed)]
    assert len(won) == 5 and results.count("stock") == 95
    async with db.uow() as uow:
        stock = await uow.session.get(RewardStock, "free_pot")
        assert stock.remaining == 0
        assert await uow.session.scalar(select(func.count()).select_from(Coupon)) == 5
        assert await uow.session.scalar(select(func.count()).select_from(Redemption)) == 5
        spent = await uow.session.scalar(select(func.count()).select_from(LedgerEntry)
                                         .where(LedgerEntry.kind == "redeem"))
        assert spent == 5
        balances = list(await uow.session.scalars(select(Member.points_balance)))
        assert sorted(balances)[:5] == [4_700] * 5 and min(balances) >= 0


async def test_a_double_tap_redeems_once_and_returns_the_same_coupon(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 1_000)
    taps = await asyncio.gather(*(redeem(db, programme, member_id, "free_pot", "same", now)
                                  for _ in range(10)))
    assert len({t.coupon.code for t in taps}) == 1
    assert sorted(t.duplicate for t in taps) == [False] + [True] * 9
    async with db.uow() as uow:
        assert await ledger.balance_of(uow, member_id) == 700


async def test_refusals_take_back_everything(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 250)
    with pytest.raises(RewardRefused) as poor:
        await redeem(db, programme, member_id, "free_pot", "t1", now)
    assert poor.value.code == "points" and poor.value.params["needed"] == 50
    with pytest.raises(RewardRefused) as low:
        await redeem(db, programme, member_id, "teaware_20", "t2", now)
    assert low.value.code == "tier"
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Redemption)) == 0
        assert await ledger.balance_of(uow, member_id) == 250


async def test_the_per_member_limit_holds(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 10_000)
    for tap in range(5):
        await redeem(db, programme, member_id, "ten_off", f"t{tap}", now)
    with pytest.raises(RewardRefused) as limit:
        await redeem(db, programme, member_id, "ten_off", "t6", now)
    assert limit.value.code == "limit"


async def consume(db, code, actor, now):
    async with db.uow() as uow:
        try:
            return await coupons.consume(uow, code, actor, now)
        except CouponRefused as refused:
            return refused.code
        finally:
            await uow.commit()


async def test_two_tills_at_once_give_one_success(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 1_000)
    code = (await redeem(db, programme, member_id, "free_pot", "t", now)).coupon.code
    results = await asyncio.gather(*(consume(db, code, f"till{i}", now) for i in range(10)))
    assert sum(isinstance(r, Coupon) for r in results) == 1
    assert results.count("coupon_used") == 9


async def test_wrong_expired_and_used_are_told_apart_and_guessing_is_slowed(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 1_000)
    code = (await redeem(db, programme, member_id, "free_pot", "t", now)).coupon.code
    later = now + timedelta(days=31)
    assert await consume(db, code, "till", later) == "coupon_expired"
    assert isinstance(await consume(db, coupons.display(code).lower(), "till", now), Coupon)
    assert await consume(db, code, "till", now) == "coupon_used"
    for _ in range(coupons.GUESSES):
        assert await consume(db, "AAAA-BBBB-CCCC-DDDD", "guesser", now) == "coupon_unknown"
    assert await consume(db, code, "guesser", now) == "too_many_attempts"
    assert await consume(db, code, "other-till", now) == "coupon_used"
    assert await consume(db, code, "guesser", now + coupons.GUESS_WINDOW) == "coupon_used"


async def test_the_api_redeems_a_coupon_once(db, programme, now):
    [member_id] = await crowd(db, programme, now, 1, 1_000)
    from datetime import UTC, datetime
    code = (await redeem(db, programme, member_id, "free_pot", "t",
                         datetime.now(UTC))).coupon.code
    async with serving(db, programme) as api:
        results = await asyncio.gather(*(api.post(f"/api/v1/coupons/{code}/redeem",
                                                  {"till": f"t{i}"}) for i in range(5)))
        assert sorted(s for s, _ in results) == [200, 409, 409, 409, 409]
        ok = next(b for s, b in results if s == 200)
        assert ok["reward"] == "free_pot" and ok["member"] == members.member_number(member_id)
        status, body = await api.post("/api/v1/coupons/WRONGCODE/redeem", {})
        assert status == 404 and body["error"]["code"] == "coupon_unknown"
