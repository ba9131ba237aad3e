"""/campaign, /campaigns and /tag as operators see them in the console, in English and
Chinese; every command and every button refuses anyone below operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from domain.campaigns import campaigns, deliveries
from domain.campaigns.tables import Campaign, Delivery
from domain.conversations.tables import Conversation
from domain.members.tables import MemberTag
from domain.points import purchases
from domain.rewards.tables import Coupon
from domain.staff import jobs, roles
from domain.staff.tables import AuditEntry
from tests.support import crowd
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Shanghai


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def boss(db, programme, clock, locale="en", user="boss"):
    """The owner (member 1) in the console, and 6 members who may be messaged (2-7)."""
    chat = await owner(db, programme, clock, user=user, locale=locale)
    await crowd.plain(db, 4, clock.now, first_id=2, tier="gold", locale="en")
    await crowd.plain(db, 2, clock.now, first_id=6, tier="silver", locale="zh_Hans")
    return chat


async def offered(db, user: str) -> list[str]:
    async with db.uow() as uow:
        return list((await uow.session.get(Conversation, ("console", user))).options)


async def the_campaign(db) -> Campaign:
    async with db.uow() as uow:
        [found] = await campaigns.recent(uow, 5)
        return found


async def audit_actions(db) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def test_an_a_b_campaign_with_a_coupon_and_a_holdout_scheduled_en(db, programme, clock):
    me = await boss(db, programme, clock)
    out = await me.say("/campaign")
    assert "step 1 of 5" in out and "Everyone" in out and "This reaches 6 members" in out
    assert "[1] Tier  [2] Tags  [3] Language" in out
    out = await me.say("1")
    assert "[1] Member  [2] Silver  [3] Gold  [4] Done" in out
    assert "[3] ✓ Gold" in await me.say("3")
    out = await me.say("4")
    assert "Tier: Gold" in out and "This reaches 4 members" in out
    await me.say("7")  # points
    out = await me.say("lots")
    assert "That is not a points range." in out and "Send the points balance range" in out
    out = await me.say("-500")
    assert "Points balance at most 500" in out and "This reaches 4 members" in out
    out = await me.say("12")
    assert "Step 2 of 5" in out
    out = await me.say("x" * 1001)
    assert "at most 1,000 characters" in out
    out = await me.say("Spring tea has arrived, {name}!")
    assert "Step 3 of 5" in out and "[2] A coupon" in out
    out = await me.say("2")
    assert "[1] A free pot of tea  [2] ¥10 off" in out
    out = await me.say("2")
    assert "Step 4 of 5" in out
    assert "Write variant B" in await me.say("2")
    assert "[1] A 50% / B 50%  [2] A 70% / B 30%" in await me.say("Variant B: new leaves")
    out = await me.say("2")
    assert "[1] No holdout  [2] 5%  [3] 10%  [4] 20%" in out
    out = await me.say("3")
    assert "Step 5 of 5" in out and "[1] Now  [2] At a time…" in out
    out = await me.say("2")
    assert "like 2026-03-12 09:00 (time zone Asia/Shanghai)" in out
    assert "The time must be in the future" in await me.say("2026-03-01 10:00")
    # A bad time gets the same example as the question: tomorrow, never a past date.
    assert "Please send the date and time like 2026-03-12 09:00." in await me.say("tomorrow")
    out = await me.say("2026-03-12 18:30")
    # The previews come with the confirmation, dated from the send time (a coupon is
    # valid 30 days from then), in English only: the segment reaches no Chinese reader.
    assert "Preview of variant A in English, as members will see it:" in out
    assert ("Spring tea has arrived, {name}!\n\n🎟 Your coupon: ¥10 off. Code "
            "ABCD-EFGH-JKMN-PQRS, valid until Apr 11, 2026.") in out
    assert "Preview of variant B in English" in out and "简体中文" not in out
    assert out.index("Preview of variant B") < out.index("Ready to send:")
    assert "Ready to send:" in out and "Members now: 4" in out
    assert "Variant A (63%): “Spring tea has arrived, {name}!”" in out
    assert "Variant B (27%): “Variant B: new leaves”" in out
    assert "Holdout (10%): sent nothing" in out and "Offer: coupon: ¥10 off" in out
    assert "When: 2026-03-12 18:30" in out
    [yes, _] = await offered(db, "boss")
    out = await me.press(yes)
    assert "Campaign #1 is scheduled for 2026-03-12 18:30." in out
    # No scheduler has been seen (as in `memberbot chat`): the operator is told.
    assert "⚠️ No scheduler is running right now." in out
    assert "expired" in await me.press(yes)  # a double tap makes nothing more
    c = await the_campaign(db)
    assert (c.status, c.coupon_reward, c.holdout, c.send_at) == (
        "scheduled", "ten_off", 1_000, datetime(2026, 3, 12, 10, 30, tzinfo=UTC))
    assert [v["text"] for v in c.variants] == ["Spring tea has arrived, {name}!",
                                                "Variant B: new leaves"]
    assert c.segment == {"tiers": ["gold"], "points_max": 500}
    assert (c.operator_platform, c.operator_chat, c.operator_locale) == ("console", "boss", "en")
    assert await audit_actions(db) == ["role.grant", "campaign.create"]


async def test_a_points_multiplier_sent_now_zh(db, programme, clock):
    me = await boss(db, programme, clock, locale="zh_Hans", user="wang")
    out = await me.say("/campaign")
    assert "第 1 步（共 5 步）" in out and "全部会员" in out and "共覆盖 6 位会员" in out
    await me.say("3")  # language
    out = await me.say("2")
    assert "[1] 英语  [2] ✓ 中文" in out
    out = await me.say("3")
    assert "语言：中文" in out and "共覆盖 2 位会员" in out
    await me.say("6")  # last purchase
    out = await me.say("never")
    assert "从未消费" in out
    assert "第 2 步" in await me.say("12")
    assert "第 3 步" in await me.say("春茶上市！")
    out = await me.say("3")
    assert "[1] 1.5 倍积分  [2] 2 倍积分  [3] 3 倍积分" in out
    out = await me.say("2")
    assert "[1] 3 天  [2] 7 天  [3] 14 天  [4] 30 天" in out
    assert "第 4 步" in await me.say("2")
    assert "是否保留对照组" in await me.say("1")
    assert "第 5 步" in await me.say("1")
    out = await me.say("1")
    # One message, no A/B test: no "方案 A" anywhere.
    assert "使用中文的会员将看到：" in out and "方案" not in out and "英语" not in out
    assert "消息：“春茶上市！”" in out
    assert "春茶上市！\n\n✨ 2026年3月18日前消费可获得 2 倍积分。" in out
    assert "准备发送" in out and "优惠：7 天内 2 倍积分" in out and "时间：立即" in out
    out = await me.say("1")
    assert "营销活动 #1 已确认，现在开始发送" in out
    assert await campaigns.start_due(db, programme, clock.now) == 1
    async with db.uow() as uow:
        members_in = set(await uow.session.scalars(select(Delivery.member_id)))
    assert members_in == {6, 7}
    c = await the_campaign(db)
    assert (c.bonus_percent, c.bonus_ends) == (100, clock.now + timedelta(days=7))
    out = await me.say("/campaign 1")
    assert "📣 营销活动 #1：发送中" in out and "剩余 2" in out
    assert "[1] ⏸ 暂停  [2] ✖ 取消  [3] 📊 效果" in out


async def test_previews_in_each_language_reached_and_a_time_passed_meanwhile_is_asked_again(
        db, programme, clock):
    me = await boss(db, programme, clock)  # reads English; 4 English and 2 Chinese members
    await me.say("/campaign")
    out = await me.say("12")  # everyone
    assert "Step 2 of 5 — write the message for 4 members who read English" in out
    assert "Then you write it for 2 members who read Chinese, or send them the same." in out
    out = await me.say("Autumn oolong is in")
    assert "Now write the message for 2 members who read Chinese" in out
    assert "[1] Same text for all" in out
    await me.say("秋季乌龙上市")
    await me.say("3")  # a points multiplier
    await me.say("2")  # 2x
    await me.say("2")  # for 7 days
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    await me.say("2")  # at a time
    out = await me.say("2026-03-20 09:00")
    # Each language the segment reaches, the operator's first; the window runs 7 days
    # from the send time, not from now.
    english, chinese = (out.index("Preview in English, as members will see it:"),
                        out.index("Preview in Chinese, as members will see it:"))
    assert english < chinese < out.index("Ready to send:")
    assert "Autumn oolong is in\n\n✨ 2× points on your purchases until Mar 27, 2026." in out
    assert "秋季乌龙上市\n\n✨ 2026年3月27日前消费可获得 2 倍积分。" in out
    assert "Autumn oolong is in\n\n✨ 2026年" not in out
    assert "Message: English “Autumn oolong is in”, Chinese “秋季乌龙上市”" in out
    assert "variant" not in out.lower() and "Messages:" not in out
    assert "Members now: 6" in out
    clock.advance(days=9, hours=1)  # the operator confirms after the time has passed
    out = await me.say("1")
    assert "The time must be in the future and within 90 days." in out
    assert "Step 5 of 5" in out and "[1] Now  [2] At a time…" in out
    async with db.uow() as uow:
        assert await campaigns.count(uow) == 0
    await me.say("2")
    assert "Ready to send:" in await me.say("2026-03-25 09:00")
    async with db.uow() as uow:  # a scheduler beats: no warning
        await jobs.beat(uow, "host:1", clock.now, clock.now)
        await uow.commit()
    out = await me.say("1")
    assert "Campaign #1 is scheduled for 2026-03-25 09:00." in out
    assert "No scheduler" not in out
    c = await the_campaign(db)
    assert (c.bonus_percent, c.bonus_days, c.send_at) == (
        100, 7, datetime(2026, 3, 25, 1, 0, tzinfo=UTC))


async def test_full_width_input_from_a_chinese_keyboard_is_understood_zh(db, programme, clock):
    me = await boss(db, programme, clock, locale="zh_Hans", user="li")
    await me.say("/campaign")
    await me.say("7")  # points
    assert "积分余额 100 至 500" in await me.say("１００－５００")
    await me.say("8")  # birthday months
    assert "生日月份：3, 4, 5" in await me.say("3、4，５")
    await me.say("6")  # last purchase
    assert "最近 30 天内有消费" in await me.say("＜３０")
    await me.say("11")  # clear them all: everyone
    assert "第 2 步" in await me.say("12")
    assert "现在请输入发给使用英语的 4 位会员的消息" in await me.say("秋茶")
    await me.say("1")  # the same text for all
    await me.say("1")  # no offer
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    await me.say("2")  # at a time
    assert "准备发送" in await me.say("２０２６－０３－２０　１８：３０")
    assert "已定于 2026-03-20 18:30 发送" in await me.say("1")


async def test_pause_resume_cancel_by_button_with_results_and_audit(db, programme, clock):
    me = await boss(db, programme, clock)
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, campaigns.Author(1, "console", "boss",
                                                                         "en"),
                                      campaigns.Draft(campaigns.Segment(), ("Hello",),
                                                      holdout=20, coupon="free_pot"),
                                      "x", clock.now)
        # A seed that holds out two of the six, so the figures below are known.
        c = made.campaign
        c.seed = next(s for s in range(2, 10_000) if sum(
            campaigns.bucket(s, m) < c.holdout for m in range(2, 8)) == 2)
        await uow.session.execute(update(Campaign).values(seed=c.seed))
        await uow.commit()
    await campaigns.start_due(db, programme, clock.now)
    out = await me.press("camp:pause:1")
    assert "Campaign #1 is paused" in out and "Campaign #1: paused" in out
    assert "⏸ Pause" not in out
    assert "Message (80%): “Hello”" in out and "Variant" not in out
    assert "cannot be paused: it is paused" in await me.say("/campaign pause 1")
    assert "Campaign #1 resumes." in await me.press("camp:resume:1")
    out = await me.press("camp:cancel:1")
    assert "Cancel campaign #1?" in out
    assert (await the_campaign(db)).status == "running"  # asked, not done
    # The messages go out meanwhile, and one member buys.
    async with db.uow() as uow:
        work = await deliveries.claim(uow, programme, made.campaign, clock.now)
        await deliveries.finish(uow, [(w.delivery_id, "sent", "console", None) for w in work],
                                clock.now)
        await uow.commit()
    buyer = work[0].member_id
    async with db.uow() as uow:
        await purchases.record(uow, programme, buyer, purchases.Order("P-1", 12_345, "CNY"),
                               clock.now + timedelta(hours=2))
        await uow.session.execute(update(Coupon).where(Coupon.member_id == buyer)
                                  .values(status="used"))
        await uow.commit()
    out = await me.press("camp:cancel_ok:1")
    assert "Campaign #1 is cancelled" in out and "Campaign #1: cancelled" in out
    clock.advance(days=1)
    out = await me.press("camp:results:1")
    assert "Results of campaign #1" in out
    assert len(work) == 4
    assert ("Recipients, 4 in the group: delivered 4, coupons used 1, buyers 1 (25.0%), "
            "orders 1, spend ¥123.45; uplift +25.0 pp against the holdout") in out
    assert "Holdout, 2 in the group: delivered 0, coupons used 0, buyers 0 (0.0%)" in out
    out = await me.say("/campaigns")
    assert "#1 cancelled — 4 recipients, from" in out and "[1] #1" in out
    assert await audit_actions(db) == ["role.grant", "campaign.create", "campaign.send",
                                       "campaign.pause", "campaign.resume", "campaign.cancel"]


def test_the_uplift_is_an_exact_fraction_rounded_once():
    from fractions import Fraction

    from handlers.campaigns.words import percent_text
    assert percent_text(Fraction(1, 3)) == "33.3"
    assert percent_text(Fraction(2, 3)) == "66.7"
    assert percent_text(Fraction(1, 2000), signed=True) == "+0.1"  # 0.05% rounds up
    assert percent_text(Fraction(-1, 40), signed=True) == "-2.5"
    assert percent_text(Fraction(0), signed=True) == "+0.0"


async def test_tags_by_command_and_segments_use_them(db, programme, clock):
    me = await boss(db, programme, clock)
    assert "Usage: /tag" in await me.say("/tag")
    assert "Member 00000003 tags: vip, wholesale" in await me.say("/tag 00000003 VIP #wholesale")
    assert "Member 00000003 tags: vip" in await me.say("/tag 3 -wholesale")
    assert "cannot be a tag" in await me.say("/tag 3 not/a/tag")
    assert "There is no member 00000099." in await me.say("/tag 99 vip")
    assert "tags: none" in await me.say("/tag 00000004")
    await me.say("/campaign")
    await me.say("2")
    out = await me.say("vip")
    assert "Tags (any of): vip" in out and "This reaches 1 member (" in out
    assert await audit_actions(db) == ["role.grant", "tag.add", "tag.remove"]


COMMANDS = ["/campaign", "/campaign 1", "/campaign pause 1", "/campaign resume 1",
            "/campaign cancel 1", "/campaigns", "/tag 00000002 vip"]
BUTTONS = ["camp:show:1", "camp:pause:1", "camp:resume:1", "camp:cancel:1", "camp:cancel_ok:1",
           "camp:results:1", "camp:list:1"]


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_every_command_and_button_is_for_operators_and_up(db, programme, clock, role):
    await boss(db, programme, clock)
    async with db.uow() as uow:
        await campaigns.create(uow, programme, campaigns.Author(1, "console", "boss", "en"),
                               campaigns.Draft(campaigns.Segment(), ("Hello",)), "p", clock.now)
        await uow.commit()
    who = member(db, programme, clock, user="sam")
    await who.say("/start")  # member 8
    if role is not None:
        async with db.uow() as uow:
            await roles.grant(uow, 1, role, 8, clock.now)
            await uow.commit()
    for line in COMMANDS:
        assert "is for the owner, admins and operators." in await who.say(line), line
    for action in BUTTONS:
        assert "is for the owner, admins and operators." in await who.press(action), action
    # Buttons of the new-campaign flow, pressed without it (forged): refused as well.
    for action in ("cnew:next", "cnew:ok", "cnew:dim:tier"):
        out = await who.press(action)
        assert "is for the owner, admins and operators." in out or "expired" in out
    c = await the_campaign(db)
    assert c.status == "scheduled"
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(MemberTag)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert "role.grant" in (await audit_actions(db))[-1] or role is None
    assert [a for a in await audit_actions(db) if a.startswith(("campaign", "tag"))] == [
        "campaign.create"]


async def test_a_role_revoked_mid_flow_stops_the_next_step(db, programme, clock):
    me = await boss(db, programme, clock)
    op = member(db, programme, clock, user="olga")
    await op.say("/start")  # member 8
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 8, clock.now)
        await uow.commit()
    await op.say("/campaign")
    assert "Step 2 of 5" in await op.say("12")
    assert "Member 00000008 no longer has the role operator." in await me.say(
        "/revoke operator 00000008")
    assert "is for the owner, admins and operators." in await op.say("Hello everyone")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_forged_and_stale_values_in_the_flow_change_nothing(db, programme, clock):
    me = await boss(db, programme, clock)
    await me.say("/campaign")
    await me.say("1")  # the tier picker; its buttons are the offered ones now
    for forged in ("cnew:set:tier:platinum", "cnew:set:colour:red", "cnew:set:tier"):
        assert "expired" in await me.press(forged)
    out = await me.say("4")  # the picker's numbers outlast the refusal: [4] Done
    assert "Please choose with the buttons" not in out
    assert "Everyone" in out and "This reaches 6 members" in out
    assert "Step 2 of 5" in await me.say("12")
    await me.say("Hello")
    await me.say("2")  # a coupon: the catalogue
    assert "expired" in await me.press("cnew:coupon:caviar")
    assert "expired" in await me.press("cnew:bonus:999")
    assert "Please choose with the buttons" in await me.say("free tea for all")
    assert "Step 4 of 5" in await me.say("1")  # no offer, after all
    assert "/campaign N" in await me.say("/campaign launch everything")
    assert "There is no campaign #42." in await me.say("/campaign 42")
    assert "expired" in await me.press("camp:pause:x") and "expired" in await me.press("camp:show:")
    assert "There is no campaign #7." in await me.press("camp:resume:7")
    # /cancel leaves the flow at any step: its buttons and numbers are gone with it.
    await me.say("/campaign")
    await me.say("12")
    await me.say("Hello")
    assert "Cancelled" in await me.say("/cancel")
    assert "Step 4 of 5" not in await me.say("1")
    assert "expired" in await me.press("cnew:offer:none")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(("locale", "example", "bad"), [
    ("en", "like 2026-12-06 20:00 (time zone Asia/Shanghai)",
     "Please send the date and time like 2026-12-06 20:00."),
    ("zh_Hans", "例如 2026-12-06 20:00（时区 Asia/Shanghai）",
     "请按 2026-12-06 20:00 的格式发送日期和时间。")])
async def test_time_examples_come_from_the_clock_and_agree(db, programme, locale, example,
                                                           bad):
    clock = Clock(datetime(2026, 12, 5, 12, 12, tzinfo=UTC))  # 20:12 in Shanghai
    me = await boss(db, programme, clock, locale=locale)
    await me.say("/campaign")
    await me.say("12")  # everyone
    await me.say("Hello")
    await me.say("1")  # the same text for all
    await me.say("1")  # no offer
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    assert example in await me.say("2")  # at a time
    out = await me.say("next week")
    assert bad in out and "2026-03" not in out


async def test_a_started_campaign_offers_its_buttons_once(db, programme, clock):
    me = await boss(db, programme, clock)
    async with db.uow() as uow:
        await campaigns.create(uow, programme, campaigns.Author(1, "console", "boss", "en"),
                               campaigns.Draft(campaigns.Segment(), ("Hello",)), "one",
                               clock.now)
        await uow.commit()
    await campaigns.start_due(db, programme, clock.now)
    out = await me.say("/campaign 1")
    assert "Campaign #1: sending" in out and "Campaign #1 — sending" in out
    assert out.count("📊 Results") == 1 and out.count("⏸ Pause") == 1
    assert "[1] ⏸ Pause  [2] ✖ Cancel  [3] 📊 Results" in out
    # One message, no A/B test: it is "Message", not "Variant A (100%)".
    assert "Message: “Hello”" in out and "Variant" not in out


@pytest.mark.parametrize(("locale", "quoted", "shown"), [
    ("en", 'vip "tea lover"', "Tags (any of): vip, tea lover"),
    ("zh_Hans", "vip “tea lover”", "标签（任一）：vip, tea lover")])
async def test_the_tag_prompt_says_quotes_keep_a_tag_whole(db, programme, clock, locale,
                                                           quoted, shown):
    me = await boss(db, programme, clock, locale=locale)
    await me.say("/campaign")
    prompt = await me.say("2")  # tags
    assert quoted in prompt
    assert shown in await me.say(quoted)
