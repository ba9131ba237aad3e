"""Rewards, coupons, staff and the operator's /purchase, as members and staff see
them in the console, in English and Chinese."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.telegram.gateway import start_link
from domain.conversations.tables import Conversation
from domain.members.tables import Member
from domain.points import purchases
from domain.rewards.tables import Coupon, Redemption
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday: no bonus-points day


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def give(db, programme, clock, member_id: int, amount: int, order: str) -> None:
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, amount, "CNY"), clock.now)
        await uow.commit()


async def offered(db, user: str) -> list[str]:
    async with db.uow() as uow:
        return list((await uow.session.get(Conversation, ("console", user))).options)


async def owner(db, programme, clock, user: str) -> None:
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"console:{user}", clock.now)
        await uow.commit()


async def test_redeem_a_reward_and_show_the_coupon_en(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    await give(db, programme, clock, 1, 30_000, "A-1")  # 300 + 100 first-purchase bonus
    out = await alice.say("/rewards")
    assert "Rewards — your balance: 400 points (page 1 of 2)" in out
    assert "🎁 ¥10 off — 200 points" in out and "🎁 A free pot of tea — 300 points" in out
    assert "🔒 20% off teaware — 500 points (Silver and above)" in out
    assert "[1] ¥10 off  [2] A free pot of tea  [3] Next page ›" in out
    out = await alice.say("3")
    assert "(page 2 of 2)" in out and "🔒 Porcelain gaiwan — 1,500 points (Silver and above)" in out
    assert "Tea ceremony for two — 3,000 points (Gold only)" in out  # the top tier: no "above"
    await alice.say("/rewards")
    out = await alice.say("2")
    assert "Redeem A free pot of tea for 300 points? Your balance afterwards: 100." in out
    out = await alice.say("1")
    assert "Redeemed: A free pot of tea. Points balance: 100." in out
    assert "Code: " in out and "QR code saved to " in out
    out = await alice.say("/coupons")
    assert "A free pot of tea — ready to use, valid until Apr 10, 2026" in out
    assert out.count("QR code saved to ") == 1
    out = await alice.say("/points")
    assert "-300  Reward redeemed: A free pot of tea" in out and "First purchase bonus" in out


async def test_redeem_zh_with_locked_reason(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/start")
    await give(db, programme, clock, 1, 10_000, "W-1")  # 100 + 100
    out = await wang.say("/rewards")
    assert "积分商城 — 您的积分：200" in out
    assert "🔒 免费一壶茶 — 300 积分（还差 100 积分）" in out
    assert "[1] 立减10元" in out
    out = await wang.say("1")
    assert "确认用 200 积分兑换立减10元？兑换后余额：0。" in out
    assert "兑换成功：立减10元。积分余额：0。" in await wang.say("1")
    assert "券码：" in await wang.say("/coupons")


async def test_a_double_tap_redeems_once_and_a_forged_button_is_judged_again(db, programme,
                                                                            clock):
    alice = member(db, programme, clock)
    await give_after_start(alice, db, programme, clock, 30_000)
    # Confirmations never shown, crafted by the client, with or without the cost: an
    # item she can afford gets its confirmation screen, one she cannot is refused.
    for forged in ("rewards:ok:ten_off:FORGED1", "rewards:ok:ten_off:FORGED1:100",
                   "rewards:ok:ten_off:FORGED1:200"):
        assert "Redeem ¥10 off for 200 points?" in await alice.press(forged)
    assert "cannot redeem this now: Gold only" in await alice.press(
        "rewards:ok:tea_ceremony:FORGED1:3000")
    assert "This button has expired" in await alice.press("rewards:ok:nothing:X")
    for control in ("\x00", "\n", "\x1b"):  # a NUL would be a 500 on PostgreSQL
        assert "This button has expired" in await alice.press(f"rewards:ok:ten_off:T{control}:200")
    await alice.say("/rewards")
    await alice.say("2")  # a free pot of tea
    [older, _] = await offered(db, "alice")
    await alice.say("/points")
    # A confirmation replaced since by other buttons or none asks again; it never redeems.
    assert "Redeem A free pot of tea for 300 points?" in await alice.press(older)
    [yes, _] = await offered(db, "alice")
    assert yes != older
    first = await alice.press(yes)
    again = await alice.press(yes)
    assert "Redeemed:" in first and "already redeemed" in again
    assert first.split("Code: ")[1][:19] == again.split("Code: ")[1][:19]
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Redemption)) == 1
        assert (await uow.session.get(Member, 1)).points_balance == 100


async def give_after_start(who, db, programme, clock, amount):
    await who.say("/start")
    await give(db, programme, clock, 1, amount, "G-1")


async def test_staff_verify_coupons_and_everything_is_audited(db, programme, clock):
    boss = member(db, programme, clock, user="boss")
    await boss.say("/start")
    await owner(db, programme, clock, "boss")
    ann = member(db, programme, clock, user="ann")
    await ann.say("/start")  # member 2
    await give(db, programme, clock, 2, 30_000, "N-1")
    await ann.say("/rewards")
    await ann.say("2")
    code = (await ann.say("1")).split("Code: ")[1][:19]
    assert "Sorry, /verify is for the owner, admins, operators and staff." in await ann.say(
        f"/verify {code}")
    staff = member(db, programme, clock, user="sam")
    await staff.say("/start")  # member 3
    assert "Member 00000003 now has the role staff." in await boss.say("/grant staff 00000003")
    assert "already has the role" in await boss.say("/grant staff 3")
    assert "There is no role “wizard”" in await boss.say("/grant wizard 3")
    assert "Usage: /grant" in await boss.say("/grant staff")
    assert "Sorry, /grant is for the owner and admins." in await staff.say("/grant admin 3")
    assert "Valid. Coupon used now: A free pot of tea for member 00000002." in await staff.say(
        f"/verify {code.lower()}")
    assert "already used on Mar 11, 2026" in await staff.say(f"/verify {code}")
    assert "No coupon has that code" in await staff.say("/verify AAAA-BBBB-CCCC-DDDD")
    assert "Sorry, /audit is for the owner and admins." in await staff.say("/audit")
    out = await boss.say("/audit")
    assert "used coupon" in out and "gave member 00000003 the role staff" in out
    assert "no longer has the role staff" in await boss.say("/revoke staff 3")
    assert "/verify is for the owner" in await staff.say(f"/verify {code}")


async def test_operator_purchase_is_confirmed_and_a_revoked_operator_is_refused_zh(
        db, programme, clock):
    boss = member(db, programme, clock, user="boss", locale="zh_Hans")
    await boss.say("/start")
    await owner(db, programme, clock, "boss")
    olga = member(db, programme, clock, user="olga", locale="zh_Hans")
    await olga.say("/start")  # member 2
    assert "抱歉，/purchase 仅限店主、管理员和运营人员使用。" in await olga.say("/purchase")
    await boss.say("/grant operator 2")
    assert "哪位会员" in await olga.say("/purchase")
    assert "没有会员 00000099" in await olga.say("00000099")
    assert "消费金额是多少" in await olga.say("00000001")
    assert "金额格式不对" in await olga.say("12.345")
    out = await olga.say("128.50")
    assert "为会员 00000001 记录消费 ¥128.50？" in out
    [yes, _] = await offered(db, "olga")
    out = await olga.say("1")
    assert "会员 00000001 获得 228 积分" in out  # 128 + 100 first purchase
    assert "已记录过" in await olga.press(yes)
    async with db.uow() as uow:
        actions = list(await uow.session.scalars(select(AuditEntry.action)))
    assert actions.count("purchase.record") == 1
    # The role is taken away: the confirmation button still on screen does nothing.
    await olga.say("/purchase 1 10")
    [yes, _] = await offered(db, "olga")
    await boss.say("/revoke operator 2")
    assert "/purchase 仅限店主、管理员和运营人员使用" in await olga.press(yes)
    async with db.uow() as uow:
        assert (await uow.session.get(Member, 1)).points_balance == 228


async def test_invite_shows_a_telegram_deep_link(db, programme, clock):
    engine = build_engine(db, programme, clock=clock, username="TeaHouseBot",
                          start_link=start_link("TeaHouseBot"))
    answer = await engine.handle(Inbound(platform="telegram", user_id="7", chat_id="7",
                                         text="/invite", locale="en"))
    text = answer.rendered()[-1].text
    async with db.uow() as uow:
        code = (await uow.session.get(Member, 1)).referral_code
    assert f"https://t.me/TeaHouseBot?start=ref_{code}" in text
    assert "you get 200 points and your friend gets 100" in text
    alice = member(db, programme, clock)
    assert "send /start ref_" in await alice.say("/invite")


async def test_stock_is_set_by_operators_only(db, programme, clock):
    boss = member(db, programme, clock, user="boss")
    await boss.say("/start")
    assert "/stock is for the owner, admins and operators." in await boss.say("/stock gaiwan 3")
    await owner(db, programme, clock, "boss")
    assert "Porcelain gaiwan: stock 3, on sale." in await boss.say("/stock gaiwan 3")
    assert "stock unlimited" in await boss.say("/stock gaiwan unlimited")
    assert "stock unlimited, off sale (members do not see it)." in await boss.say(
        "/stock gaiwan off")
    assert "There is no reward" in await boss.say("/stock nothing 3")
    assert "Usage: /stock" in await boss.say("/stock gaiwan -1")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Coupon)) == 0


async def test_every_earn_entry_names_its_rule_on_the_statement(db, programme, clock):
    clock.now = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # a Tuesday: Tea Tuesday
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/start")
    async with db.uow() as uow:
        from domain.points.earning import Item
        await purchases.record(uow, programme, 1, purchases.Order(
            "T-1", 20_000, "CNY", (Item("LONGJING-250G", "tea", 1, 12_000),
                                   Item("CUP", "teaware", 1, 8_000))), clock.now)
        await uow.commit()
    out = await wang.say("/points")
    for line in ("+200  消费（订单 T-1）", "+200  积分加倍日：周二品茶日（订单 T-1）",
                 "+30  商品奖励：龙井茶（250 克） ×1（订单 T-1）",
                 "+40  品类奖励：茶具（订单 T-1）", "+100  首次消费奖励（订单 T-1）"):
        assert line in out
