"""/rewards with personal picks: up to three items first, each with why, then the
catalogue; a pick's button is the catalogue's (the same confirmation); nothing the
member cannot have; no picks, and no wait, while the model is not built yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from domain.insight.cooccurrence import Models
from domain.members.tables import Member
from domain.points import purchases
from domain.rewards import rewards
from domain.rewards.tables import Redemption
from tests.support import crowd
from tests.support.crowd import Person
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday: no bonus-points day


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def picking(programme):
    """The example programme with a model of its own (the shared one is left alone)."""
    return programme.model_copy()


async def built(db, programme, clock) -> Models:
    """The model as the composition root holds it, built at start-up."""
    models = Models(db)
    programme.keep_recommender(models)
    await models.rebuild(clock.now)
    return models


async def give(db, programme, clock, member_id: int, amount: int, order: str) -> None:
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, amount, "CNY"), clock.now)
        await uow.commit()


async def took(db, clock, member_ids, *codes: str) -> None:
    """Redemptions of the past, written straight to the table: the model only reads them."""
    async with db.uow() as uow:
        for member_id in member_ids:
            for n, code in enumerate(codes):
                uow.session.add(Redemption(
                    key=f"past:{member_id}:{code}:{n}", member_id=member_id, reward=code,
                    cost=1, created_at=clock.now - timedelta(days=10)))
        await uow.commit()


async def tier(db, member_id: int, code: str) -> None:
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == member_id).values(tier=code))
        await uow.commit()


async def others(db, clock, count: int, tier: str = "member") -> list[int]:
    async with db.uow() as uow:
        top = await uow.session.scalar(Member.__table__.select().with_only_columns(
            Member.id).order_by(Member.id.desc()).limit(1)) or 0
    return await crowd.add(db, [Person(tier=tier) for _ in range(count)], clock.now,
                           first_id=top + 1)


async def a_taste_for_tea(db, programme, clock, locale: str):
    """Alice (member 1, tier Member, 400 points) took ¥10 off before; six of forty
    others took ¥10 off with a free pot of tea, the rest a gaiwan."""
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    await give(db, programme, clock, 1, 30_000, "A-1")  # 300 + 100 first-purchase bonus
    crowd_ids = await others(db, clock, 40)
    await took(db, clock, crowd_ids[:6], "ten_off", "free_pot")
    await took(db, clock, crowd_ids[6:], "gaiwan")
    await took(db, clock, [1], "ten_off")
    await built(db, programme, clock)
    return alice


@pytest.mark.parametrize(("locale", "picked", "lines", "catalogue", "buttons"), [
    ("en", "Picked for you",
     ["⭐ A free pot of tea — 300 points (often chosen with ¥10 off)",
      "⭐ ¥10 off — 200 points (popular with members)"],
     "Rewards — your balance: 400 points (page 1 of 2)",
     "[1] A free pot of tea  [2] ¥10 off  [3] Next page ›"),
    ("zh_Hans", "为您推荐",
     ["⭐ 免费一壶茶 — 300 积分（常与立减10元一起兑换）",
      "⭐ 立减10元 — 200 积分（深受会员喜爱）"],
     "积分商城 — 您的积分：400（第 1/2 页）",
     "[1] 免费一壶茶  [2] 立减10元  [3] 下一页 ›")])
async def test_picks_come_first_with_why_then_the_catalogue(db, picking, clock, locale, picked,
                                                            lines, catalogue, buttons):
    alice = await a_taste_for_tea(db, picking, clock, locale)
    out = await alice.say("/rewards")
    assert out.startswith(f"{picked}\n{lines[0]}\n{lines[1]}\n\n{catalogue}\n\n"), out
    # The catalogue's page as ever, below: ¥10 off, the free pot, Silver's teaware.
    assert out.index("🎁 ") < out.index("🔒 ") and out.count("🎁 ") == 2
    # Each item has one button: the picks' first, in their order; the catalogue's open
    # items are not offered twice; then the page's.
    assert buttons in out


async def test_a_pick_redeems_through_the_same_confirmation(db, picking, clock):
    alice = await a_taste_for_tea(db, picking, clock, "en")
    out = await alice.say("/rewards")
    assert "[1] A free pot of tea  [2] ¥10 off  [3] Next page ›" in out
    out = await alice.say("1")
    assert "Redeem A free pot of tea for 300 points? Your balance afterwards: 100." in out
    out = await alice.say("1")
    assert "Redeemed: A free pot of tea. Points balance: 100." in out
    # And pressed as a button (Telegram's callback data), the same.
    await give(db, picking, clock, 1, 30_000, "A-2")
    out = await alice.tap("rewards:pick:free_pot")
    assert "Redeem A free pot of tea for 300 points?" in out


async def test_nothing_the_member_cannot_have_is_picked(db, picking, clock):
    """Gold's ceremony, Silver's teaware, a free pot out of stock: crowds took them all,
    Alice may have none of them; only ¥10 off is left to pick."""
    alice = member(db, picking, clock)
    await alice.say("/start")
    await give(db, picking, clock, 1, 500_000, "A-1")
    await tier(db, 1, "member")  # not what such spending earns: the test's point
    golds = await others(db, clock, 10, tier="gold")
    await took(db, clock, golds, "tea_ceremony", "teaware_20", "gaiwan", "free_pot")
    await took(db, clock, golds[:4], "ten_off")
    async with db.uow() as uow:
        await rewards.set_stock(uow, picking.reward("free_pot"), 0, True, clock.now)
        await uow.commit()
    await built(db, picking, clock)
    out = await alice.say("/rewards")
    head, catalogue = out.split("\n\nRewards — ", 1)
    assert head == "Picked for you\n⭐ ¥10 off — 200 points (popular with members)"
    assert "🔒 A free pot of tea — 300 points (out of stock)" in catalogue


@pytest.mark.parametrize(("locale", "favourite", "to_go"), [
    ("en", "⭐ 20% off teaware — 500 points (popular with Silver members)",
     "⭐ Porcelain gaiwan — 1,500 points (500 points to go)"),
    ("zh_Hans", "⭐ 茶具八折 — 500 积分（深受白银会员喜爱）",
     "⭐ 瓷盖碗 — 1,500 积分（还差 500 积分）")])
async def test_points_to_go_and_a_tiers_favourite(db, picking, clock, locale, favourite, to_go):
    """Bob, Silver, 1,000 points: what Silver members take, and a gaiwan that his usual
    earning reaches within a month."""
    bob = member(db, picking, clock, user="bob", locale=locale)
    await bob.say("/start")
    await give(db, picking, clock, 1, 90_000, "B-1")  # 900 + 100
    await tier(db, 1, "silver")
    silvers = await others(db, clock, 10, tier="silver")
    await took(db, clock, silvers, "teaware_20")
    await took(db, clock, silvers[:5], "gaiwan")
    await took(db, clock, await others(db, clock, 20), "free_pot")
    await built(db, picking, clock)
    out = await bob.say("/rewards")
    picks = out.split("\n\n", 1)[0].splitlines()
    assert len(picks) == 4 and favourite in picks and to_go in picks, out
    # Not affordable yet: no button for it, as in the catalogue.
    gaiwan = to_go.split(" — ")[0][2:]
    assert f"] {gaiwan}" not in out


async def test_no_picks_while_the_model_is_not_built(db, picking, clock):
    """At start-up the model builds in the background: /rewards does not wait for it."""
    alice = member(db, picking, clock)
    await alice.say("/start")
    await give(db, picking, clock, 1, 30_000, "A-1")
    await took(db, clock, await others(db, clock, 10), "free_pot")
    models = Models(db)
    picking.keep_recommender(models)
    out = await alice.say("/rewards")
    assert out.startswith("Rewards — your balance: 400 points (page 1 of 2)")
    assert models.latest is None  # no build in the member's transaction
    await models.rebuild(clock.now)
    assert (await alice.say("/rewards")).startswith("Picked for you\n⭐ A free pot of tea")


async def test_only_the_first_page_has_the_picks(db, picking, clock):
    alice = await a_taste_for_tea(db, picking, clock, "en")
    await alice.say("/rewards")
    out = await alice.tap("rewards:page:2")
    assert out.startswith("Rewards — your balance: 400 points (page 2 of 2)")
    out = await alice.tap("rewards:page:1")
    assert out.startswith("Picked for you\n⭐ A free pot of tea")


async def test_a_stale_model_still_serves_while_it_rebuilds(db, picking, clock):
    alice = await a_taste_for_tea(db, picking, clock, "en")
    models = picking.recommender
    first = models.latest
    clock.advance(hours=2)
    out = await alice.say("/rewards")
    assert out.startswith("Picked for you\n⭐ A free pot of tea")
    await models.settled()
    assert models.latest is not first and models.latest.built_at == clock.now
