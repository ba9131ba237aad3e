"""Paid plans: who may buy, a payment kept once by its charge id, what an active plan
gives (a tier floor, extra purchase points, a gift once a period, gated chats), and how
it ends (a lapse after the grace, a refund, erasure), each taking those away again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from domain import config
from domain.community import seats
from domain.community.tables import Gate, Seat
from domain.members.tables import Member
from domain.membership import subscriptions
from domain.membership.subscriptions import Charge, Order
from domain.membership.tables import Payment, Subscription
from domain.notices.tables import Notice
from domain.points import imports, purchases
from domain.points.tables import LedgerEntry, Purchase
from domain.privacy import erasure, export
from domain.rewards.tables import Coupon
from tests.support import crowd
from tests.support.crowd import Person

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
MONTH = timedelta(days=30)


def charge(member_id: int, charge_id: str = "ch-1", *, price: int = 100,
           until: datetime = NOW + MONTH, first: bool = True) -> Charge:
    return Charge(charge_id=charge_id, payload=Order("plus", member_id, price).payload,
                  amount=price, currency="XTR", expires_at=until, platform="telegram",
                  account=str(5000 + member_id), recurring=True, first=first)


async def one(db, **kw) -> int:
    [mid] = await crowd.add(db, [Person(**kw)], NOW)
    return mid


async def paid(db, programme, mid: int, c: Charge, at: datetime = NOW):
    async with db.uow() as uow:
        done = await subscriptions.pay(uow, programme, mid, c, at)
        await uow.commit()
    return done


async def member(db, mid: int) -> SimpleNamespace:
    async with db.uow() as uow:
        found = await uow.session.get(Member, mid)
        assert found is not None
        return SimpleNamespace(tier=found.tier, paid_floor=found.paid_floor,
                               points_balance=found.points_balance,
                               tier_valid_until=found.tier_valid_until)


async def checked(db, programme, mid, payload, amount=100, currency="XTR"):
    async with db.uow() as uow:
        return await subscriptions.check(uow, programme, mid, payload, amount, currency)


async def test_pre_checkout_accepts_the_plan_at_its_price_and_refuses_the_rest(db, programme):
    mid = await one(db)
    good = Order("plus", mid, 100).payload
    assert await checked(db, programme, mid, good) is None
    assert await checked(db, programme, mid, "something else") == "bad_order"
    assert await checked(db, programme, mid, good, currency="USD") == "bad_order"
    assert await checked(db, programme, mid + 1, good) == "not_yours"
    assert await checked(db, programme, mid, Order("gone", mid, 100).payload) == "plan_gone"
    assert await checked(db, programme, mid, Order("plus", mid, 90).payload,
                         amount=90) == "price_changed"
    # The file's price changed after the invoice was made: the old invoice is refused.
    dearer = programme.model_copy(update={"membership": programme.membership.model_copy(
        update={"plans": (programme.membership.plans[0].model_copy(update={"price": 150}),)})})
    assert await checked(db, dearer, mid, good) == "price_changed"
    await paid(db, programme, mid, charge(mid))
    assert await checked(db, programme, mid, good) == "already_active"


async def test_an_erased_member_may_not_buy(db, programme):
    mid = await one(db, status="erased")
    assert await checked(db, programme, mid, Order("plus", mid, 100).payload) == "not_allowed"


async def test_a_member_waiting_to_be_erased_may_not_buy(db, programme):
    mid = await one(db)
    async with db.uow() as uow:
        await erasure.ask(uow, programme, mid, "console", NOW)
        await uow.commit()
    good = Order("plus", mid, 100).payload
    assert await checked(db, programme, mid, good) == "erasure_pending"
    async with db.uow() as uow:
        await erasure.cancel(uow, mid)
        await uow.commit()
    assert await checked(db, programme, mid, good) is None


async def test_a_payment_is_kept_once_and_a_redelivery_changes_nothing(db, programme):
    mid = await one(db, tier="member")
    first = await paid(db, programme, mid, charge(mid))
    assert (first.duplicate, first.until, first.gift_points) == (False, NOW + MONTH, 100)
    before = await member(db, mid)
    again = await paid(db, programme, mid, charge(mid), NOW + timedelta(minutes=5))
    assert again.duplicate and again.gift_points == 0
    after = await member(db, mid)
    assert (after.points_balance, after.tier) == (before.points_balance, before.tier)
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Payment)) == 1
        gifts = await uow.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.reason == "plan_gift"))
        assert gifts == 1


async def test_a_renewal_extends_the_plan_and_gives_the_next_gift(db, programme):
    mid = await one(db)
    await paid(db, programme, mid, charge(mid))
    renewed = await paid(db, programme, mid, charge(mid, "ch-2", until=NOW + 2 * MONTH,
                                                    first=False), NOW + MONTH)
    assert renewed.until == NOW + 2 * MONTH and renewed.gift_points == 100
    async with db.uow() as uow:
        sub = await subscriptions.active(uow, mid)
        assert sub is not None and sub.charge_id == "ch-1"  # renewal is named by the first
        assert await subscriptions.revenue(uow, NOW, NOW + 2 * MONTH) == 200
    assert (await member(db, mid)).points_balance == 200


async def test_a_renewal_after_the_lapse_takes_the_plan_up_again_under_its_first_name(
        db, programme):
    mid = await one(db)
    await paid(db, programme, mid, charge(mid))
    await subscriptions.lapse_due(db, programme, NOW + 2 * MONTH)
    late = await paid(db, programme, mid, charge(mid, "ch-2", until=NOW + 3 * MONTH,
                                                 first=False), NOW + 2 * MONTH)
    assert not late.duplicate
    async with db.uow() as uow:
        sub = await subscriptions.active(uow, mid)
        assert sub is not None and sub.charge_id == "ch-1" and sub.expires_at == NOW + 3 * MONTH
    assert (await member(db, mid)).tier == "silver"


async def test_a_coupon_gift_comes_once_each_period_paid(db, programme):
    gifting = programme.membership.plans[0].model_copy(update={"gift_points": 0,
                                                               "gift_reward": "free_pot"})
    prog = programme.model_copy(update={"membership": programme.membership.model_copy(
        update={"plans": (gifting,)})})
    mid = await one(db)
    first = await paid(db, prog, mid, charge(mid))
    again = await paid(db, prog, mid, charge(mid))
    renewed = await paid(db, prog, mid, charge(mid, "ch-2", until=NOW + 2 * MONTH,
                                               first=False), NOW + MONTH)
    assert (first.gift_coupon, again.gift_coupon, renewed.gift_coupon) == (True, False, True)
    async with db.uow() as uow:
        coupons = await uow.session.scalar(select(func.count()).select_from(Coupon).where(
            Coupon.member_id == mid, Coupon.reward == "free_pot"))
        assert coupons == 2


async def test_the_plan_floor_lifts_the_tier_and_a_lapse_after_the_grace_drops_it(db, programme):
    mid = await one(db, tier="member")
    await paid(db, programme, mid, charge(mid))
    got = await member(db, mid)
    assert (got.tier, got.paid_floor) == ("silver", "silver")
    grace = timedelta(days=programme.membership.grace_days)
    # Still within the grace: nothing lapses.
    assert await subscriptions.lapse_due(db, programme, NOW + MONTH + grace
                                         - timedelta(minutes=1)) == {"lapsed": 0}
    assert (await member(db, mid)).tier == "silver"
    assert await subscriptions.lapse_due(db, programme, NOW + MONTH + grace) == {"lapsed": 1}
    gone = await member(db, mid)
    assert (gone.tier, gone.paid_floor) == ("member", None)
    assert await subscriptions.lapse_due(db, programme, NOW + 2 * MONTH) == {"lapsed": 0}
    async with db.uow() as uow:
        assert await subscriptions.active(uow, mid) is None
        told = list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == mid, Notice.key == "membership.lapsed")))
        assert told == ["membership.lapsed"]  # once, however often the job runs


async def test_a_tier_earned_above_the_floor_stays_when_the_plan_lapses(db, programme):
    mid = await one(db, tier="member")
    async with db.uow() as uow:
        await purchases.record(uow, programme, mid, purchases.Order("G-1", 300_000, "CNY"), NOW)
        await uow.commit()
    assert (await member(db, mid)).tier == "gold"
    await paid(db, programme, mid, charge(mid))
    await subscriptions.lapse_due(db, programme, NOW + 2 * MONTH)
    assert (await member(db, mid)).tier == "gold"


async def test_the_plan_multiplier_adds_to_purchase_points_in_whole_points(db, programme):
    mid = await one(db, tier="member")
    async with db.uow() as uow:
        plain = await purchases.record(uow, programme, mid,
                                       purchases.Order("A-1", 1_001, "CNY"), NOW)
        await uow.commit()
    await paid(db, programme, mid, charge(mid))
    at = NOW + timedelta(hours=1)
    async with db.uow() as uow:
        boosted = await purchases.record(uow, programme, mid,
                                         purchases.Order("A-2", 1_001, "CNY"), at)
        await uow.commit()
    rules = {r["rule"]: r["points"] for r in boosted.rules}
    # Silver by the floor: 10 * 120% = 12, then the plan's +20% of 12 = 2 (floored).
    assert rules["plan"] == 12 * 20 // 100
    assert "plan" not in {r["rule"] for r in plain.rules}


async def test_imported_orders_earn_the_plan_multiplier_too(db, programme):
    mid = await one(db, tier="member")
    await paid(db, programme, mid, charge(mid))
    async with db.uow() as uow:
        tally = await imports.import_batch(uow, programme, [imports.Row(
            1, purchases.Order("IMP-1", 1_001, "CNY", source="import"),
            {"number": str(mid)})], NOW + timedelta(hours=1))
        await uow.commit()
    assert tally.imported == 1
    async with db.uow() as uow:
        order = await uow.session.scalar(select(Purchase).where(Purchase.order_id == "IMP-1"))
        assert [p for p, _, rule in order.entries if rule == "plan"] == [12 * 20 // 100]


async def test_a_refund_ends_the_plan_and_leaves_the_revenue(db, programme):
    mid = await one(db, tier="member")
    await paid(db, programme, mid, charge(mid))
    async with db.uow() as uow:
        done = await subscriptions.refund(uow, programme, "ch-1", NOW + timedelta(days=1))
        await uow.commit()
    assert (done.member_id, done.account, done.amount) == (mid, str(5000 + mid), 100)
    got = await member(db, mid)
    assert (got.tier, got.paid_floor) == ("member", None)
    async with db.uow() as uow:
        assert await subscriptions.active(uow, mid) is None
        assert await subscriptions.revenue(uow, NOW, NOW + MONTH) == 0
        notice = await uow.session.scalar(select(Notice).where(
            Notice.member_id == mid, Notice.key == "membership.refunded"))
        assert notice is not None and notice.params["stars"] == 100
        with pytest.raises(subscriptions.RefundRefused) as twice:
            await subscriptions.refund(uow, programme, "ch-1", NOW + timedelta(days=2))
        assert twice.value.code == "refunded"
        with pytest.raises(subscriptions.RefundRefused) as unknown:
            await subscriptions.refundable(uow, "nope")
        assert unknown.value.code == "unknown"


async def test_cancelling_renewal_keeps_the_plan_until_it_lapses(db, programme):
    mid = await one(db)
    await paid(db, programme, mid, charge(mid))
    async with db.uow() as uow:
        sub = await subscriptions.set_renewal(uow, mid, False, NOW)
        assert sub is not None and not sub.renews
        await uow.commit()
    async with db.uow() as uow:
        sub = await subscriptions.active(uow, mid)
        assert sub is not None and not sub.renews
        assert (await subscriptions.set_renewal(uow, mid, True, NOW)).renews
    async with db.uow() as uow:
        assert await subscriptions.set_renewal(uow, mid + 1, False, NOW) is None


async def test_a_plans_chat_opens_while_active_and_the_lapse_closes_it(db, programme):
    club = programme.membership.plans[0].model_copy(update={"chats": ("-1009",)})
    prog = programme.model_copy(update={"membership": programme.membership.model_copy(
        update={"plans": (club,)})})
    mid = await one(db, tier="member", accounts=(("telegram", "777"),))
    async with db.uow() as uow:
        gate = Gate(platform="telegram", chat_id="-1009", kind="supergroup", title="Gold room",
                    min_tier="gold", grace_s=0, created_by="test", created_at=NOW,
                    updated_at=NOW)
        uow.session.add(gate)
        await uow.flush()
        gate_id = gate.id
        await uow.commit()
    await paid(db, prog, mid, charge(mid))
    async with db.uow() as uow:
        gate = await uow.session.get(Gate, gate_id)
        assert await seats.arrived(uow, prog.tiers, gate, "777", False, NOW) == seats.IN
        await uow.commit()
    await subscriptions.lapse_due(db, prog, NOW + 2 * MONTH)
    async with db.uow() as uow:
        seat = await uow.session.scalar(select(Seat).where(Seat.gate_id == gate_id))
        assert seat is not None and seat.status == seats.LAPSED


async def test_erasure_ends_the_plan_and_the_export_lists_the_payments(db, programme):
    mid = await one(db)
    await paid(db, programme, mid, charge(mid))
    async with db.uow() as uow:
        data = await export.gather(uow, await uow.session.get(Member, mid))
    payments = data["paid_membership"]["payments"]
    assert [(p["charge_id"], p["amount"]) for p in payments] == [("ch-1", 100)]
    async with db.uow() as uow:
        await erasure.erase(uow, programme, mid, NOW + timedelta(days=1))
        await uow.commit()
    async with db.uow() as uow:
        sub = await uow.session.scalar(select(Subscription).where(Subscription.member_id == mid))
        assert (sub.status, sub.renews, sub.account) == ("ended", False, "")
        assert await subscriptions.revenue(uow, NOW, NOW + MONTH) == 100  # the books stay


def test_plans_are_checked_when_the_file_is_read():
    base = config.DEFAULT_FILE.read_text(encoding="utf-8")
    with pytest.raises(config.ConfigError, match="price"):
        config.parse(base.replace("price = 100", "price = 10001"))
    with pytest.raises(config.ConfigError, match="tier_floor"):
        config.parse(base.replace('tier_floor = "silver"', 'tier_floor = "platinum"'))
    with pytest.raises(config.ConfigError, match="benefits"):
        config.parse(base.replace('benefits = ["free_refill"]\nmultiplier',
                                  'benefits = ["massage"]\nmultiplier'))


async def test_an_earned_tier_keeps_its_own_standing_when_the_plan_lapses(db, programme):
    # Gold earned by the member (no floor's doing): the plan's end leaves it as it stood,
    # its validity and grace running, where a tier the floor gave would go at once.
    earned_at = NOW - timedelta(days=390)
    mid = await one(db, tier="member")
    async with db.uow() as uow:
        await purchases.record(uow, programme, mid, purchases.Order("G-1", 300_000, "CNY"),
                               earned_at)
        await uow.commit()
    assert (await member(db, mid)).tier == "gold"
    await paid(db, programme, mid, charge(mid, until=NOW - 4 * timedelta(days=1)),
               at=NOW - MONTH)
    before = (await member(db, mid)).tier_valid_until
    await subscriptions.lapse_due(db, programme, NOW)  # past the plan's grace of 3 days
    after = await member(db, mid)
    assert (after.tier, after.tier_valid_until) == ("gold", before)
