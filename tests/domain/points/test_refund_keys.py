"""A refund is keyed by its order: a refund id reused on another order, or one that
looks like another order's key, is its own refund and never another's answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from domain.members.tables import Member
from domain.points.tables import LedgerEntry, Refund
from domain.storage import schema
from tests.support.api_client import serving, serving_one_member


@pytest.fixture
async def api(db, programme):
    async with serving_one_member(db, programme) as client:
        yield client


def purchase(order_id: str, amount: int) -> dict:
    return {"order_id": order_id, "member": {"number": "1"}, "amount": amount,
            "currency": "CNY"}


async def balance_and_sum(db) -> tuple[int, int]:
    async with db.uow() as uow:
        balance = await uow.session.scalar(select(Member.points_balance).where(Member.id == 1))
        total = await uow.session.scalar(select(func.sum(LedgerEntry.delta)))
    return balance, total


async def test_a_refund_id_reused_on_another_order_refunds_that_order(api, db):
    assert (await api.post("/api/v1/purchases", purchase("d-r3", 10_000)))[0] == 201
    assert (await api.post("/api/v1/purchases", purchase("e-r3", 20_000)))[0] == 201
    status, first = await api.post("/api/v1/refunds", {"order_id": "d-r3", "amount": 6_000,
                                                       "refund_id": "r1"})
    assert status == 201 and first["amount"] == 6_000
    status, second = await api.post("/api/v1/refunds", {"order_id": "e-r3", "amount": 5_000,
                                                        "refund_id": "r1"})
    assert status == 201 and second["duplicate"] is False
    assert second["order_id"] == "e-r3" and second["amount"] == 5_000
    assert second["refunded_total"] == 5_000 and second["points_reversed"] == 50
    # A retry of either is that refund's own first answer.
    status, again = await api.post("/api/v1/refunds", {"order_id": "e-r3", "amount": 5_000,
                                                       "refund_id": "r1"})
    assert status == 200 and again["duplicate"] and again["amount"] == 5_000
    balance, total = await balance_and_sum(db)
    # Base points of both orders and the first-purchase bonus, less both reversals.
    assert balance == total == 100 + 200 + 100 - first["points_reversed"] - 50


async def test_a_refund_id_shaped_like_another_orders_key_does_not_swallow_it(api, db):
    for order_id, amount in (("f-r3", 10_000), ("g-r3", 10_000)):
        assert (await api.post("/api/v1/purchases", purchase(order_id, amount)))[0] == 201
    status, _ = await api.post("/api/v1/refunds", {"order_id": "g-r3", "amount": 1_000,
                                                   "refund_id": "f-r3:rest"})
    assert status == 201
    status, full = await api.post("/api/v1/refunds", {"order_id": "f-r3"})
    assert status == 201 and full["duplicate"] is False
    assert full["refunded_total"] == 10_000 and full["points_reversed"] == 100 + 100


async def test_a_refund_id_repeated_with_another_amount_is_a_conflict(api, db):
    await api.post("/api/v1/purchases", purchase("h-r3", 10_000))
    assert (await api.post("/api/v1/refunds", {"order_id": "h-r3", "amount": 1_000,
                                               "refund_id": "r9"}))[0] == 201
    status, body = await api.post("/api/v1/refunds", {"order_id": "h-r3", "amount": 2_000,
                                                      "refund_id": "r9"})
    assert status == 409 and body["error"]["code"] == "refund_conflict"
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Refund)) == 1


async def test_the_migration_rekeys_recorded_refunds_so_retries_still_match(backend,
                                                                           programme):
    """Refunds recorded under the old global keys keep answering their retries."""
    db = await backend.empty()
    try:
        await schema.upgrade(db.engine, "0008")
        now = datetime.now(UTC).replace(tzinfo=None)  # raw SQL: stored as naive UTC
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO members (id, joined_at, last_active_at, referral_code, tier, "
                "points_balance, phone_verified, marketing_consent, status) VALUES "
                "(1, :now, :now, 'R1', 'member', 0, false, false, 'active')"), {"now": now})
            for pid, order_id in ((1, "o-1"), (2, "o-2")):
                await conn.execute(text(
                    "INSERT INTO purchases (id, order_id, member_id, amount, currency, items, "
                    "points, entries, refunded, source, created_at) VALUES (:id, :o, 1, 100, "
                    "'CNY', '[]', 0, '[]', 50, 'api', :now)"), {"id": pid, "o": order_id,
                                                                "now": now})
            for rid, pid, key in ((1, 1, "refund:r1"), (2, 2, "refund:o-2:50")):
                await conn.execute(text(
                    "INSERT INTO refunds (id, purchase_id, key, amount, points, short, "
                    "created_at) VALUES (:id, :p, :k, 50, 0, 0, :now)"),
                    {"id": rid, "p": pid, "k": key, "now": now})
        await schema.upgrade(db.engine)
        async with db.engine.connect() as conn:
            keys = dict((await conn.execute(text("SELECT id, key FROM refunds"))).all())
        assert keys == {1: "refund:o-1|id=r1", 2: "refund:o-2|amount=50"}
        async with serving(db, programme) as client:
            status, body = await client.post("/api/v1/refunds", {"order_id": "o-1",
                                                                 "amount": 50,
                                                                 "refund_id": "r1"})
            assert status == 200 and body["duplicate"] is True
            status, body = await client.post("/api/v1/refunds", {"order_id": "o-2",
                                                                 "amount": 50})
            assert status == 200 and body["duplicate"] is True
    finally:
        await db.dispose()


async def test_an_order_id_repeated_with_other_items_is_a_conflict_not_a_duplicate(api):
    item = {"sku": "LONGJING-250G", "category": "tea", "quantity": 1, "amount": 5_000}
    assert (await api.post("/api/v1/purchases", {**purchase("i-1", 10_000),
                                                 "items": [item]}))[0] == 201
    status, body = await api.post("/api/v1/purchases", {**purchase("i-1", 10_000),
                                                        "items": [{**item, "quantity": 2}]})
    assert status == 409 and body["error"]["code"] == "order_conflict"
    status, body = await api.post("/api/v1/purchases", {**purchase("i-1", 10_000),
                                                        "items": [item]})
    assert status == 200 and body["duplicate"] is True


async def test_an_order_id_shaped_like_a_tier_review_does_not_silence_its_notice(api, db):
    """Tier notices are keyed by member and cause; an order's cause says it is an order,
    so an order named like a review period leaves the review's own notice its key."""
    from domain.notices.tables import Notice
    from domain.tiers import upgrades
    status, body = await api.post("/api/v1/purchases", purchase("review:none", 100_000))
    assert status == 201 and body["tier_upgraded"] is True
    async with db.uow() as uow:
        await upgrades.tell_upgrade(uow, 1, "gold", "review:none", datetime.now(UTC))
        await uow.commit()
    async with db.uow() as uow:
        told = sorted((n.params["tier"]["$tier"], n.idempotency_key)
                      for n in await uow.session.scalars(select(Notice)))
    assert told == [("gold", "tier:1:review:none"), ("silver", "tier:1:order:review:none")]
