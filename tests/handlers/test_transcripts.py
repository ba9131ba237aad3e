"""Every flow, as a member would see it in the console, in English and Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.members.tables import Member
from domain.points.tables import LedgerEntry
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def test_start_registers_at_once_and_offers_the_profile_en(db, programme, clock):
    alice = member(db, programme, clock, locale="en")
    out = await alice.say("/start")
    assert "Welcome to Tea House Club!" in out
    assert "Member number: 00000001" in out and "Tier: Member" in out and "Points: 0" in out
    assert ("[1] Check in  [2] Points  [3] Rewards  [4] Coupons  [5] Tier & rules  "
            "[6] Invite friends  [7] Complete profile") in out
    again = await alice.say("/start")
    assert "Welcome back" in again and "00000001" in again


async def test_start_registers_at_once_and_offers_the_profile_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh-CN")
    out = await wang.say("/start")
    assert "欢迎加入茶馆会员俱乐部" in out
    assert "会员号：00000001" in out and "等级：普通会员" in out
    assert ("[1] 签到  [2] 积分  [3] 积分兑换  [4] 优惠券  [5] 等级与规则  [6] 邀请好友  "
            "[7] 完善资料") in out
    assert "回复数字即可选择" in out


async def test_first_message_that_is_not_start_still_registers_and_greets(db, programme, clock):
    bob = member(db, programme, clock, user="bob")
    out = await bob.say("/points")
    assert out.startswith("Welcome to Tea House Club!")
    assert "Points balance: 0" in out


async def test_profile_walk_explains_bad_values_and_awards_completion_en(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert "What should we call you?" in await alice.say("7")  # Complete profile
    assert "Name saved." in await alice.say("Alice Liddell")
    assert "only digits" in await alice.say("call me maybe")
    assert "not a phone number we can use" in await alice.say("123")
    out = await alice.say("+44 20 7946 0958")
    assert "Phone number saved." in out and "birthday" in out
    assert "does not exist" in await alice.say("31-02")
    assert "could not read" in await alice.say("next tuesday")
    out = await alice.say("1990-03-14")
    assert "Birthday saved." in out and "[1] Yes  [2] No  [3] Skip" in out
    assert await alice.say("maybe later") == "Please answer with 1–3, yes or no, or send /cancel."
    out = await alice.say("1")
    assert "Your profile is complete. Bonus points: +50!" in out
    assert "Name: Alice Liddell" in out and "Phone: +44 20 7946 0958" in out
    assert "Birthday: 1990-03-14" in out and "Marketing messages: Yes" in out
    assert "Points balance: 50" in await alice.say("/points")


async def test_profile_steps_are_skippable_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    out = await wang.say("5")  # 补全资料
    assert "请问怎么称呼您" in out
    assert "请输入您的电话号码" in await wang.say("1")  # skip name
    assert "电话号码只能包含数字" in await wang.say("一三八")
    assert "生日是哪天" in await wang.say("1")  # skip phone
    assert "该日期不存在" in await wang.say("2月30日")
    out = await wang.say("3月14日")
    assert "生日已保存" in out and "是否愿意接收" in out
    out = await wang.say("3")  # skip consent
    assert "姓名：未填写" in out and "生日：03-14" in out
    assert "+50" not in out


async def test_profile_edit_one_field_then_back_to_summary(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "What should we call you?" in await alice.say("1")  # [1] Name
    out = await alice.say("Al")
    assert "Name saved." in out and "Name: Al" in out and "phone number" not in out


async def test_cancel_leaves_the_flow(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("1")
    assert "Cancelled" in await alice.say("/cancel")
    assert "didn't understand" in await alice.say("Alice")
    assert "nothing to cancel" in await alice.say("/cancel")


async def test_a_command_mid_flow_leaves_the_flow(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("1")
    assert "Points balance" in await alice.say("/points")
    assert "didn't understand" in await alice.say("Alice")


async def test_a_restart_mid_conversation_resumes_it(db, programme, clock):
    first = member(db, programme, clock)
    await first.say("/profile")
    assert "What should we call you?" in await first.say("1")
    restarted = member(db, programme, clock)  # a new engine: nothing kept in memory
    assert "Name saved." in await restarted.say("Alice")


async def test_checkin_once_a_day_with_streaks_en(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("/checkin")
    assert "Points +5, balance 5. Streak: 1 day." in out
    assert "already checked in today (streak: 1 day)" in await alice.say("/checkin")
    clock.advance(days=1)
    assert "Streak: 2 days" in await alice.say("/checkin")
    clock.advance(days=1)
    out = await alice.say("/checkin")
    assert "Points +10, balance 20. Streak: 3 days." in out
    assert "streak bonus of 5 for 3 days" in out


async def test_checkin_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    assert "签到成功！+5 积分，已连续签到 1 天" in await wang.say("/checkin")
    assert "今天已经签到过了" in await wang.say("/checkin")


async def test_points_statement_says_why_pages_and_warns_of_expiry(db, programme, clock):
    alice = member(db, programme, clock)
    for _ in range(7):
        await alice.say("/checkin")
        clock.advance(days=1)
    out = await alice.say("/points")
    assert "Points balance: 60" in out
    assert "(page 1 of 2)" in out and "Daily check-in (day 7 of streak)" in out
    assert "+25" in out  # day 7: base 5 and a bonus of 20
    assert "Older" in out and "Expiring soon" not in out
    older = await alice.say("1")
    assert "(page 2 of 2)" in older and "day 1 of streak" in older and "Newer" in older
    clock.advance(days=350)  # a year after the first check-in draws near
    soon = await alice.say("/points")
    assert "Expiring soon:" in soon and "Mar 10, 2027: 5" in soon


async def test_points_statement_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/checkin")
    out = await wang.say("/points")
    assert "积分余额：5" in out and "每日签到（连续第 1 天）" in out and "2026年3月10日" in out


async def test_tier_shows_progress_and_upgrades_at_once(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("/tier")
    assert "Your tier: Member" in out and "You need 500 more qualifying points" in out
    assert "Birthday gift" in out and "valid until" not in out  # the lowest tier stays
    async with db.uow() as uow:  # an operator's award, straight through the ledger
        from domain.points import ledger
        m = await uow.session.scalar(select(Member))
        await ledger.post(uow, ledger.Post(member_id=m.id, delta=495, kind="adjust",
                                           reason="adjusted", key="award-1", qualifying=495),
                          clock.now)
        await uow.commit()
    out = await alice.say("/checkin")
    assert "Congratulations, you have reached Silver!" in out
    out = await alice.say("/tier")
    assert "Your tier: Silver" in out and "×1.2" in out and "Free tea refill" in out
    assert "Next tier: Gold. You need 1,500 more" in out


async def test_tier_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    out = await wang.say("/tier")
    assert "您的等级：普通会员" in out and "下一等级：白银会员，还需 500 积分" in out


async def test_language_choice_beats_the_platform_hint(db, programme, clock):
    alice = member(db, programme, clock, locale="en")
    out = await alice.say("/language")
    assert "[1] English  [2] 简体中文" in out
    assert "语言已切换为简体中文" in await alice.say("2")
    assert "积分余额" in await alice.say("/points")
    assert "Language set to English" in await alice.say("/language en")
    assert "I speak English and Simplified Chinese" in await alice.say("/language klingon")


async def test_no_hint_falls_back_to_the_programme_default(db, programme, clock):
    anon = member(db, programme, clock, user="anon", locale=None)
    assert "欢迎加入" in await anon.say("/start")  # the example programme defaults to zh_Hans


async def test_unknown_input_gets_help_not_silence(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("/frobnicate")
    assert "I don't know the command /frobnicate" in out and "/checkin — daily check-in" in out
    out = await alice.say("what is this")
    assert "didn't understand" in out and "/points" in out
    assert "/cancel — stop" in await alice.say("/help")
    assert "Choose 1–" in await alice.say("9")  # the welcome card's buttons stay offered


async def test_link_two_platforms_to_one_member(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")
    out = await alice.say("/link")
    code = out.split("link code is ")[1].split(".")[0]
    other = member(db, programme, clock, user="alice-on-wechat")
    other.chat.user = "alice-on-wechat"
    from handlers.engine.types import Inbound
    answer = await other.chat.engine.handle(Inbound(platform="wechat", user_id="oAlice",
                                                    chat_id="oAlice", text=f"/link {code}",
                                                    locale="en"))
    text = answer.rendered()[-1].text
    assert "Linked! This account now belongs to member 00000001. Points balance: 5." in text
    again = await other.chat.engine.handle(Inbound(platform="wechat", user_id="oBob",
                                                   chat_id="oBob", text=f"/link {code}"))
    assert "已被使用" in again.rendered()[-1].text  # used, in the default language


async def test_huge_text_is_refused_and_changes_nothing(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("x" * 100_000)
    assert "too long" in out
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 0


async def test_stale_or_forged_buttons_are_refused_politely(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    for action in ["nonsense:1", "points:page:-3", "profile:edit:password", "lang:fr", "x" * 500]:
        assert "This button has expired" in await alice.press(action), action
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_a_failing_step_rolls_back_and_answers_politely(db, programme, clock, caplog):
    from domain.points import ledger
    from handlers.engine.engine import Engine
    from handlers.engine.routing import Outcome
    from handlers.engine.types import Inbound
    from handlers.routers import build_router

    router = build_router()

    async def broken(ctx):
        await ledger.post(ctx.uow, ledger.Post(member_id=ctx.member.id, delta=10, kind="earn",
                                               reason="test", key="broken-1"), ctx.now)
        raise RuntimeError("bug in a step")
        return Outcome([])

    router.commands["broken"] = broken
    engine = Engine(db, programme, router, clock=clock)
    answer = await engine.handle(Inbound(platform="console", user_id="zoe", chat_id="zoe",
                                         text="/broken", locale="zh_Hans"))
    assert "系统出了点问题，没有做任何更改" in answer.rendered()[0].text
    assert "inbound failed" in caplog.text
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 0


async def test_expired_points_are_gone_from_every_screen(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")  # 09:00 on 10 March in Shanghai
    clock.advance(days=400)
    out = await alice.say("/points")
    assert "Points balance: 0" in out and "Expiring soon" not in out
    assert "-5  Expired (earned on Mar 10, 2026)" in out
    assert "Points: 0" in await alice.say("/start")


async def test_a_downgrade_is_not_congratulated(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        m = await uow.session.scalar(select(Member))
        m.tier, m.tier_valid_until = "gold", clock.now - timedelta(days=60)
        await uow.commit()
    out = await alice.say("/checkin")
    assert "Congratulations" not in out
    assert "Your tier is now Member. Send /tier to see how to move up again." in out


async def test_odd_digits_are_text_not_a_crash(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")  # offers two buttons
    for text in ("²", "٣"):
        out = await alice.say(text)
        assert "didn't understand" in out and "went wrong" not in out
    # A full-width "１" from a Chinese keyboard is a number: tests/handlers/test_conversations.py


async def test_an_older_button_of_the_same_feature_works_mid_flow(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "What should we call you?" in await alice.say("1")
    assert "phone number" in await alice.press("profile:edit:phone")
    assert "Phone number saved." in await alice.say("13800138000")


async def test_nul_characters_are_dropped_not_fatal(db, programme, clock):
    alice = member(db, programme, clock)
    assert "I don't know the command /ab" in await alice.say("/a\x00b")
    out = await alice.say("/start ref_\x00XYZ")
    assert "Welcome back to Tea House Club" in out and "went wrong" not in out


async def test_first_contact_with_a_buttoned_command_numbers_only_its_buttons(db, programme,
                                                                             clock):
    alice = member(db, programme, clock)
    out = await alice.say("/language")
    assert "Welcome to Tea House Club" in out and "Complete profile" not in out
    assert "[1] English  [2] 简体中文" in out
    assert "语言已切换为简体中文" in await alice.say("2")


async def test_a_page_past_the_end_shows_the_last_page(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")
    text = await alice.press("points:page:9999")
    assert "(page 1 of 1)" in text and "Daily check-in" in text


async def test_a_command_for_another_bot_is_left_alone(db, programme, clock):
    from handlers.engine.types import Inbound
    from handlers.routers import build_engine
    engine = build_engine(db, programme, clock=clock, username="MemberBot")

    async def say(text):
        return await engine.handle(Inbound(platform="telegram", user_id="7", chat_id="-100",
                                           text=text, locale="en"))

    assert (await say("/checkin@OtherBot")).replies == []
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Member)) == 0
    assert "Points +5" in (await say("/CHECKIN@memberbot")).rendered()[-1].text


async def test_spend_tiers_show_money_not_minor_units(db, programme, clock):
    by_spend = programme.model_copy(update={"tiers": programme.tiers.model_copy(
        update={"basis": "spend"})})
    alice = member(db, by_spend, clock)
    assert "You need ¥5.00 more qualifying spend" in await alice.say("/tier")
    wang = member(db, by_spend, clock, user="wang", locale="zh_Hans")
    assert "还需 ¥5.00 消费" in await wang.say("/tier")
