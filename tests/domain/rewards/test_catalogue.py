"""Operators edit the rewards catalogue: the edit reaches every screen and every worker,
is validated like the programme file, audited, and only operators and up may make it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from domain.config import load
from domain.members import members
from domain.members.tables import Member
from domain.points import purchases
from domain.rewards import catalogue, rewards
from domain.rewards.catalogue import EditRefused
from domain.rewards.tables import Redemption
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.engine import i18n
from handlers.rewards import catalogue as screens
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday: no bonus-points day
REFUSED = "Sorry, /reward is for the owner, admins and operators."


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


operator = owner


async def give(db, programme, member_id, amount, order, now):
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, amount, "CNY"), now)
        await uow.commit()


async def test_an_operator_changes_a_cost_and_members_see_and_pay_the_new_one(db, programme,
                                                                               clock):
    olga = await operator(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await give(db, programme, 2, 30_000, "A-1", clock.now)  # 400 points
    out = await olga.say("/reward free_pot")
    assert "A free pot of tea (free_pot)" in out and "Cost: 300 points" in out
    out = await olga.press("rwd:edit:free_pot:cost")
    assert "the cost is 300 points" in out
    out = await olga.say("250")
    assert "change the cost?\nNow: 300 points\nNew: 250 points" in out
    assert "[1] Save  [2] Discard" in out
    out = await olga.say("1")
    assert "Saved." in out and "Cost: 250 points" in out
    assert "🎁 A free pot of tea — 250 points" in await alice.say("/rewards")
    await alice.say("/rewards")
    out = await alice.say("2")
    assert "for 250 points? Your balance afterwards: 150." in out
    assert "Points balance: 150." in await alice.say("1")
    async with db.uow() as uow:
        entry = (await uow.session.execute(select(
            AuditEntry.target, AuditEntry.actor, AuditEntry.params).where(
            AuditEntry.action == "reward.edit"))).one()
    assert entry.target == "free_pot" and entry.actor == "member:00000001"
    assert entry.params == {"before": {"cost": 300}, "after": {"cost": 250}}


async def test_a_member_who_saw_the_old_cost_is_asked_to_look_again(db, programme, clock):
    await operator(db, programme, clock)  # member 1, so Alice is member 2
    alice = member(db, programme, clock)
    await alice.say("/start")
    await give(db, programme, 2, 30_000, "A-1", clock.now)
    await alice.say("/rewards")
    assert "for 300 points?" in await alice.say("2")  # the confirmation is on screen
    async with db.uow() as uow:
        await catalogue.change(uow, programme, "free_pot", {"cost": 350}, "cli", clock.now)
        await uow.commit()
    out = await alice.say("1")
    assert "has just changed to 350 points" in out
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Member.points_balance)
                                        .where(Member.id == 2)) == 400
        assert await uow.session.scalar(select(Redemption.id)) is None


async def test_bad_values_are_refused_with_a_reason_and_change_nothing(db, programme, clock):
    olga = await operator(db, programme, clock)
    await olga.press("rwd:edit:teaware_20:value")
    out = await olga.say("150")  # a percentage over 100
    assert "a percentage: a whole number from 1 to 100. Nothing was changed" in out
    assert "from 1 to 100" in await olga.say("lots")
    await olga.say("/cancel")
    await olga.press("rwd:edit:teaware_20:min_tier")
    assert "There is no tier “platinum”" in await olga.say("platinum")
    await olga.say("/cancel")
    await olga.press("rwd:edit:teaware_20:dates")
    assert "The end date cannot be before the start date." in await olga.say(
        "2026-06-01 2026-05-01")
    await olga.say("/cancel")
    await olga.press("rwd:edit:teaware_20:title")
    assert "could not read" in await olga.say("one | two | three")
    assert "title can be at most 200 characters" in await olga.say("x" * 500 + " | y")
    async with db.uow() as uow:
        items = await catalogue.refresh(uow, programme)
    assert next(i for i in items if i.code == "teaware_20") == programme.reward_in_file(
        "teaware_20")


async def test_wording_dates_and_limits_are_edited_in_both_languages(db, programme, clock):
    wang = await operator(db, programme, clock, user="wang", locale="zh_Hans")
    out = await wang.press("rwd:edit:gaiwan:title")
    title = programme.reward_in_file("gaiwan").title
    assert f"gaiwan 的当前名称：\n英文：{title.en}\n中文：{title.zh_Hans}\n" in out
    out = await wang.say("Celadon gaiwan ｜ 龙泉青瓷盖碗")
    assert "修改名称？" in out and "改为：Celadon gaiwan | 龙泉青瓷盖碗" in out
    assert "已保存" in await wang.say("1")
    await wang.press("rwd:edit:gaiwan:per_member")
    await wang.say("none")
    out = await wang.say("1")
    assert "每人限兑：不限" in out
    await wang.press("rwd:edit:gaiwan:dates")
    await wang.say("- 2026-12-31")
    assert "日期：截至 2026-12-31" in await wang.say("1")
    item = programme.reward("gaiwan")
    assert item.title.zh_Hans == "龙泉青瓷盖碗" and item.per_member is None
    assert str(item.ends) == "2026-12-31" and item.starts is None


async def test_a_new_item_starts_switched_off_until_it_is_worded_and_turned_on(
        db, programme, clock):
    olga = await operator(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await give(db, programme, 2, 30_000, "A-1", clock.now)
    out = await olga.say("/reward new tote_bag goods 120")
    assert "Reward tote_bag added. It is off" in out and "Cost: 120 points" in out
    assert "A reward tote_bag exists already." in await olga.say("/reward new tote_bag goods 9")
    out = await olga.say("/reward new mug spaceship 10")
    assert "“spaceship” is not a kind of reward" in out and "goods (goods to take home)" in out
    assert "tote_bag" not in await alice.say("/rewards")
    await olga.press("rwd:edit:tote_bag:title")
    await olga.say("Canvas tote bag | 帆布袋")
    await olga.say("1")
    out = await olga.say("/stock tote_bag on")  # the description still reads "tote_bag"
    assert "tote_bag cannot be turned on yet" in out and "Description (Chinese)" in out
    await olga.press("rwd:edit:tote_bag:description")
    await olga.say("Sturdy canvas | 结实的帆布袋")
    await olga.say("1")
    assert "stock unlimited, on sale." in await olga.say("/stock tote_bag on")
    out = await alice.say("/rewards")
    assert "Canvas tote bag — 120 points" in out


async def test_edits_reach_another_worker_and_survive_a_restart(db, clock):
    one, two = load(), load()  # two processes' programmes, from the same file
    async with db.uow() as uow:
        await catalogue.change(uow, one, "ten_off", {"cost": 180}, "cli", clock.now)
        await uow.commit()
    assert two.reward("ten_off").cost == 200  # not read yet
    async with db.uow() as uow:
        await catalogue.refresh(uow, two)
    assert two.reward("ten_off").cost == 180
    fresh = load()
    async with db.uow() as uow:
        assert [i.cost for i in await catalogue.refresh(uow, fresh)
                if i.code == "ten_off"] == [180]


async def test_only_editable_fields_and_known_items_are_accepted(db, programme, clock):
    async with db.uow() as uow:
        with pytest.raises(EditRefused, match="invalid"):
            await catalogue.change(uow, programme, "ten_off", {"code": "x"}, "cli", clock.now)
        with pytest.raises(EditRefused, match="unknown"):
            await catalogue.change(uow, programme, "nope", {"cost": 1}, "cli", clock.now)
        with pytest.raises(EditRefused, match="invalid"):
            await catalogue.change(uow, programme, "ten_off", {"cost": 0}, "cli", clock.now)


async def test_a_redemption_racing_a_cost_change_charges_one_consistent_cost(db, programme,
                                                                             clock):
    async with db.uow() as uow:
        for user in ("a", "b", "c", "d"):
            await members.register(uow, programme, "console", user, clock.now)
        await uow.commit()
    for member_id in (1, 2, 3, 4):
        await give(db, programme, member_id, 100_000, f"R-{member_id}", clock.now)

    async def redeem(member_id):
        async with db.uow() as uow:
            done = await rewards.redeem(uow, programme, member_id, "ten_off", "tap", clock.now)
            await uow.commit()
            return done.balance

    async def edit():
        async with db.uow() as uow:
            await catalogue.change(uow, programme, "ten_off", {"cost": 120}, "cli", clock.now)
            await uow.commit()

    await asyncio.gather(redeem(1), edit(), redeem(2), redeem(3), redeem(4))
    async with db.uow() as uow:
        charged = dict((await uow.session.execute(
            select(Redemption.member_id, Redemption.cost))).all())
        balances = dict((await uow.session.execute(
            select(Member.id, Member.points_balance))).all())
    assert set(charged.values()) <= {200, 120} and len(charged) == 4
    for member_id, cost in charged.items():
        assert balances[member_id] == 1100 - cost  # 1,000 + 100 first purchase, less cost


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_members_staff_and_moderators_cannot_edit(db, programme, clock, role):
    olga = await operator(db, programme, clock)
    bob = member(db, programme, clock, user="bob")
    await bob.say("/start")
    if role is not None:
        async with db.uow() as uow:
            await roles.grant(uow, 1, role, 2, clock.now)
            await uow.commit()
    assert REFUSED in await bob.say("/reward")
    assert REFUSED in await bob.say("/reward new mug goods 10")
    assert REFUSED in await bob.press("rwd:edit:ten_off:cost")
    assert REFUSED in await bob.press("rwd:open:ten_off")
    assert "Cost: 200 points" in await olga.press("rwd:open:ten_off")


async def test_a_revoked_operator_cannot_finish_an_edit(db, programme, clock):
    olga = await operator(db, programme, clock)
    bob = member(db, programme, clock, user="bob")
    await bob.say("/start")
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    await bob.press("rwd:edit:ten_off:cost")
    assert "Now: 200 points\nNew: 1 point\n" in await bob.say("1")
    async with db.uow() as uow:
        await roles.revoke(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    assert REFUSED in await bob.say("1")
    assert programme.reward("ten_off").cost == 200
    assert "Cost: 200 points" in await olga.press("rwd:open:ten_off")


async def test_forged_and_stale_buttons_change_nothing(db, programme, clock):
    olga = await operator(db, programme, clock)
    for action in ("rwd:save", "rwd:discard", "rwd:edit:nope:cost", "rwd:edit:ten_off:code",
                   "rwd:open", "rwd:zap:ten_off"):
        assert "expired" in await olga.press(action)
    assert programme.reward("ten_off").cost == 200


def test_every_field_has_its_words_in_both_languages():
    for locale in i18n.LOCALES:
        for field in screens.FIELDS:
            assert i18n.has(f"catalogue.ask.{field}", locale)
            assert i18n.has(f"catalogue.field.{field}", locale)
            assert i18n.has(f"catalogue.named.{field}", locale)  # within a sentence
            assert i18n.has(f"catalogue.card.{field}", locale) or field in (
                "title", "description")
        for value in ("value_amount", "value_percent"):
            assert i18n.has(f"catalogue.ask.{value}", locale)
        for kind in catalogue.COUPON_KINDS:
            assert i18n.has(f"catalogue.kind.{kind}", locale)
