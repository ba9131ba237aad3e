"""The purchases API over real HTTP: signatures, replays, idempotency, refunds, errors."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.run import services
from bot.settings import Settings
from domain.members import members
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.points.tables import LedgerEntry, Purchase
from tests.support.api_client import KEY, serving_one_member


@pytest.fixture
async def api(db, programme):
    async with serving_one_member(db, programme) as client:
        yield client


def order(order_id="A-1", amount=12_345, member=None, **extra):
    return {"order_id": order_id, "member": member or {"number": "00000001"},
            "amount": amount, "currency": "CNY", **extra}


async def ledger_rows(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(LedgerEntry))


async def test_a_signed_purchase_earns_and_a_repeat_returns_the_first_result(api, db):
    items = [{"sku": "LONGJING-250G", "category": "tea", "quantity": 1, "amount": 10_000}]
    status, first = await api.post("/api/v1/purchases", order(items=items))
    assert status == 201 and first["duplicate"] is False
    rules = {r["rule"]: r["points"] for r in first["rules"]}
    assert rules["base"] == 123 and rules["sku:LONGJING-250G"] == 30
    assert rules["first_purchase"] == 100
    assert first["points"] == sum(rules.values()) == first["balance"]
    rows = await ledger_rows(db)
    status, again = await api.post("/api/v1/purchases", order(items=items))
    assert status == 200 and again["duplicate"] is True
    assert again["points"] == first["points"] and again["rules"] == first["rules"]
    assert await ledger_rows(db) == rows


async def test_members_are_found_by_phone_or_platform_account(api, db):
    async with db.uow() as uow:
        (await uow.session.get(Member, 1)).phone = "+8613800138000"
        await uow.commit()
    status, body = await api.post("/api/v1/purchases",
                                  order("P-1", member={"phone": "+86 138-0013-8000"}))
    assert status == 201 and body["member"] == "00000001"
    status, body = await api.post("/api/v1/purchases", order(
        "P-2", member={"platform": "telegram", "external_id": "1001"}))
    assert status == 201 and body["member"] == "00000001"
    status, body = await api.post("/api/v1/purchases", order(
        "P-3", member={"platform": "telegram", "external_id": "9999"}))
    assert status == 404 and body["error"]["code"] == "unknown_member"


@pytest.mark.parametrize(("headers", "code"), [
    ({}, "unsigned"),
    ({"X-Memberbot-Timestamp": "now", "X-Memberbot-Signature": "00"}, "bad_timestamp"),
])
async def test_unsigned_requests_are_refused(api, db, headers, code):
    async with api.session.post(api.base + "/api/v1/purchases", json=order(),
                                headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == code
    assert await ledger_rows(db) == 0


async def test_a_forged_or_replayed_request_changes_nothing(api, db):
    status, body = await api.post("/api/v1/purchases", order(), key="not-the-key")
    assert status == 401 and body["error"]["code"] == "bad_signature"
    assert "does not match" in body["error"]["message"]
    stale = int(time.time()) - 301
    status, body = await api.post("/api/v1/purchases", order(), at=stale)
    assert status == 401 and body["error"]["code"] == "stale_timestamp"
    assert "clock" in body["error"]["message"]  # not the key: a till's clock is wrong
    # A body changed after signing no longer matches its signature.
    raw = b'{"order_id": "A-1"}'
    from bot.api import signing
    headers = signing.headers(KEY, int(time.time()), raw)
    async with api.session.post(api.base + "/api/v1/purchases", data=raw + b" ",
                                headers=headers) as resp:
        assert resp.status == 401
    assert await ledger_rows(db) == 0
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Purchase)) == 0


@pytest.mark.parametrize(("payload", "raw", "status", "code"), [
    (None, b"{not json", 400, "malformed_json"),
    (None, b"[1, 2]", 400, "malformed_json"),
    (order(amount=12.5), None, 400, "invalid_field"),
    (order(amount="100"), None, 400, "invalid_field"),
    (order(member={"number": "1", "phone": "+1"}), None, 400, "invalid_field"),
    (order(amount=10**12), None, 422, "invalid_amount"),
    (order(amount=-5), None, 422, "invalid_amount"),
    (order(order_id="bad id!"), None, 400, "invalid_field"),
    ({**order(), "currency": "USD"}, None, 422, "wrong_currency"),
    (order(member={"number": "00000077"}), None, 404, "unknown_member"),
    (order(items=[{"sku": "X", "category": "tea", "quantity": 0, "amount": 1}]), None, 422,
     "invalid_item"),
])
async def test_bad_input_gets_a_json_error_and_changes_nothing(api, db, payload, raw, status,
                                                              code):
    got, body = await api.post("/api/v1/purchases", payload, raw=raw)
    assert (got, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]
    assert await ledger_rows(db) == 0


async def test_an_order_id_reused_for_another_purchase_is_a_conflict(api):
    assert (await api.post("/api/v1/purchases", order(amount=1000)))[0] == 201
    status, body = await api.post("/api/v1/purchases", order(amount=2000))
    assert status == 409 and body["error"]["code"] == "order_conflict"


async def test_concurrent_repeats_of_one_order_earn_once(api, db):
    results = await asyncio.gather(*(api.post("/api/v1/purchases", order()) for _ in range(20)))
    assert sorted(s for s, _ in results) == [200] * 19 + [201]
    assert len({b["points"] for _, b in results}) == 1
    async with db.uow() as uow:
        assert (await uow.session.get(Member, 1)).points_balance == results[0][1]["points"]


async def test_a_purchase_that_reaches_a_tier_upgrades_at_once_and_tells_the_member(api, db):
    status, body = await api.post("/api/v1/purchases", order(amount=100_000))  # 1,000 yuan
    assert status == 201 and body["tier"] == "silver" and body["tier_upgraded"] is True
    async with db.uow() as uow:
        notices = [(n.key, n.params) for n in await uow.session.scalars(select(Notice))]
    assert notices == [("tier.upgraded", {"tier": {"$tier": "silver"}})]
    # A till that lost the answer and asks again, after another purchase, gets the
    # first answer: the upgrade, and the balance as it was then.
    status, later = await api.post("/api/v1/purchases", order("A-2", amount=5_000))
    assert status == 201 and later["balance"] > body["balance"]
    status, again = await api.post("/api/v1/purchases", order(amount=100_000))
    assert status == 200 and again["duplicate"] is True
    assert (again["tier_upgraded"], again["balance"], again["tier"]) == (
        True, body["balance"], "silver")


async def test_partial_refunds_reverse_in_proportion_and_a_full_one_reverses_all(api, db):
    await api.post("/api/v1/purchases", order(amount=10_001))
    async with db.uow() as uow:
        earned = (await uow.session.get(Member, 1)).points_balance
    status, part = await api.post("/api/v1/refunds", {"order_id": "A-1", "amount": 3_333,
                                                      "refund_id": "R-1"})
    assert status == 201 and part["refunded_total"] == 3_333
    assert part["balance"] == earned - part["points_reversed"] and part["points_reversed"] > 0
    status, again = await api.post("/api/v1/refunds", {"order_id": "A-1", "amount": 3_333,
                                                       "refund_id": "R-1"})
    assert status == 200 and again["duplicate"] and again["balance"] == part["balance"]
    status, rest = await api.post("/api/v1/refunds", {"order_id": "A-1"})
    assert status == 201 and rest["refunded_total"] == 10_001
    assert part["points_reversed"] + rest["points_reversed"] == earned
    assert rest["balance"] == 0
    status, body = await api.post("/api/v1/refunds", {"order_id": "A-1", "amount": 1})
    assert status == 409 and body["error"]["code"] == "already_refunded"
    async with db.uow() as uow:  # the cached balance is still the ledger's sum
        total = await uow.session.scalar(select(func.sum(LedgerEntry.delta)))
        assert total == (await uow.session.get(Member, 1)).points_balance == 0


async def test_refund_errors_are_told_apart(api):
    await api.post("/api/v1/purchases", order(amount=5_000))
    cases = [({"order_id": "nope"}, 404, "unknown_order"),
             ({"order_id": "A-1", "amount": 5_001}, 409, "refund_too_large"),
             ({"order_id": "A-1", "amount": 0}, 422, "invalid_amount"),
             ({"order_id": "A-1", "amount": 1.5}, 400, "invalid_field")]
    for payload, status, code in cases:
        got, body = await api.post("/api/v1/refunds", payload)
        assert (got, body["error"]["code"]) == (status, code)


async def test_points_already_spent_are_reported_not_overdrawn(api, db):
    await api.post("/api/v1/purchases", order(amount=10_000))
    async with db.uow() as uow:
        from domain.points import ledger
        balance = (await uow.session.get(Member, 1)).points_balance
        await ledger.post(uow, ledger.Post(member_id=1, delta=-(balance - 10), kind="redeem",
                                           reason="redeemed", key="spent"), datetime.now(UTC))
        await uow.commit()
    status, body = await api.post("/api/v1/refunds", {"order_id": "A-1"})
    assert status == 201 and body["balance"] == 0
    assert body["points_reversed"] == 10 and body["points_unrecovered"] == balance - 10


async def qualifying_and_spend(db, member_id=1) -> tuple[int, int]:
    async with db.uow() as uow:
        row = (await uow.session.execute(select(
            func.coalesce(func.sum(LedgerEntry.qualifying), 0),
            func.coalesce(func.sum(LedgerEntry.spend), 0)).where(
            LedgerEntry.member_id == member_id))).one()
    return int(row[0]), int(row[1])


async def test_a_refund_of_spent_points_still_takes_back_what_counts_for_a_tier(api, db):
    """Buy, spend every point, refund: the points stay spent (reported unrecovered), but
    the purchase no longer counts towards a tier, so no tier is kept for free."""
    status, body = await api.post("/api/v1/purchases", order(amount=50_000))
    assert status == 201 and body["tier"] == "silver"
    async with db.uow() as uow:
        from domain.points import ledger
        await ledger.post(uow, ledger.Post(member_id=1, delta=-body["balance"], kind="redeem",
                                           reason="redeemed", key="spent-all"),
                          datetime.now(UTC))
        await uow.commit()
    assert await qualifying_and_spend(db) == (body["points"], 50_000)
    status, refunded = await api.post("/api/v1/refunds", {"order_id": "A-1"})
    assert status == 201 and refunded["points_reversed"] == 0
    assert refunded["points_unrecovered"] == body["points"] and refunded["balance"] == 0
    assert await qualifying_and_spend(db) == (0, 0)
    async with db.uow() as uow:
        lines = (await uow.session.execute(select(LedgerEntry.delta, LedgerEntry.reason)
                                           .where(LedgerEntry.source == "refund"))).all()
    assert sorted(lines) == [(0, "refund_spent")] * len(body["rules"])


async def test_refunds_too_small_to_move_a_point_still_take_back_their_spend(api, db):
    await api.post("/api/v1/purchases", order(amount=10_000))
    for n in range(5):
        status, _ = await api.post("/api/v1/refunds", {"order_id": "A-1", "amount": 1,
                                                       "refund_id": f"cent-{n}"})
        assert status == 201
    assert (await qualifying_and_spend(db))[1] == 10_000 - 5
    status, _ = await api.post("/api/v1/refunds", {"order_id": "A-1"})
    assert status == 201 and await qualifying_and_spend(db) == (0, 0)


async def test_the_app_serves_its_openapi_document(api):
    async with api.session.get(api.base + "/api/v1/openapi.json") as resp:
        doc = await resp.json()
    assert resp.status == 200 and doc["openapi"].startswith("3.")
    assert {"/api/v1/purchases", "/api/v1/refunds", "/api/v1/coupons/{code}/redeem"} <= set(
        doc["paths"])


def test_without_a_key_the_api_is_off():
    assert not any(s.__module__ == "bot.api.service" for s in services(Settings()))
    assert any(s.__module__ == "bot.api.service" for s in services(Settings(api_key=KEY)))


async def test_oversized_bodies_are_refused_before_parsing(api, db):
    big = b'{"order_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    with pytest.raises(aiohttp.ClientError):
        async with api.session.post(api.base + "/api/v1/purchases", data=big) as resp:
            assert resp.status == 413
            raise aiohttp.ClientError("refused")
    assert await ledger_rows(db) == 0


async def test_purchases_arriving_together_are_each_applied_or_refused_on_their_own(api, db,
                                                                                  programme):
    """One transaction for calls that arrive together: a refused one leaves no trace and
    takes nobody else with it, and two orders of one member both count."""
    async with db.uow() as uow:
        for external_id in ("1002", "1003"):
            await members.register(uow, programme, "telegram", external_id,
                                   datetime.now(UTC))
        await uow.commit()
    calls = [order("T-1", 10_000), order("T-2", 20_000),
             order("T-3", 1_000, member={"number": "00000002"}),
             order("T-4", 1_000, member={"number": "00000999"}),
             order("T-5", 1_000, member={"number": "00000003"}),
             order("T-1", 10_000)]
    results = await asyncio.gather(*(api.post("/api/v1/purchases", c) for c in calls))
    statuses = [status for status, _ in results]
    assert statuses[3] == 404 and results[3][1]["error"]["code"] == "unknown_member"
    assert sorted(statuses[i] for i in (0, 5)) == [200, 201]
    assert all(statuses[i] == 201 for i in (1, 2, 4))
    async with db.uow() as uow:
        orders = set(await uow.session.scalars(select(Purchase.order_id)))
        balance = await uow.session.scalar(select(Member.points_balance).where(Member.id == 1))
    assert orders == {"T-1", "T-2", "T-3", "T-5"}
    # 100 + 200 base points, the first-purchase bonus once.
    assert balance == 100 + 200 + 100
