"""/campaign's offer and its sub-questions, in English and Chinese: the coupon picker
offers only rewards a campaign can give (worded, switched on, in stock), a pick or a
confirmation is checked again, and a wrong answer to any question of buttons asks the
same question again with the choices so far kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.campaigns.tables import Campaign
from domain.rewards import rewards
from tests.handlers.test_campaign_transcripts import boss, offered, the_campaign
from tests.support.transcript import Clock

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)

WORDS = {
    "en": {
        "step3": "Step 3 of 5", "step4": "Step 4 of 5", "step5": "Step 5 of 5",
        "which": "Which reward should every recipient get as a coupon?",
        "left": "Not offered: tote (not yet worded in every language), gaiwan (switched off), "
                "ten_off (out of stock).",
        "pot_off": "A free pot of tea is switched off now, so it cannot be given. "
                   "Switch it on with /stock free_pot on, or choose again.",
        "ceremony_out": "Tea ceremony for two is out of stock now, so it cannot be given.",
        "list": "[1] 20% off teaware  [2] Tea ceremony for two",
        "none": "No reward can be a campaign's coupon now",
        "buttons": "Please choose with the buttons",
        "bonus": "How many times the usual points should purchases earn?",
        "days": "For how long",
        "ready": "Ready to send:", "offer": "Offer: 2× points for 7 days",
        "month": "Birthday month: 3", "tier": "Tier: Gold", "ticked": "✓ Gold",
        "pick": "[1] Member",
        "bad_time": "Please send the date and time like",
    },
    "zh_Hans": {
        "step3": "第 3 步", "step4": "第 4 步", "step5": "第 5 步",
        "which": "每位收件人将获得哪一种优惠券？",
        "left": "未列出：tote（尚未填写所有语言的名称和说明）、gaiwan（已下架）、"
                "ten_off（无库存）。",
        "pot_off": "「免费一壶茶」已下架，不能发放。"
                   "可发送 /stock free_pot on 重新上架，或重新选择。",
        "ceremony_out": "「双人茶艺体验」已无库存，不能发放。",
        "list": "[1] 茶具八折  [2] 双人茶艺体验",
        "none": "目前没有可用作活动优惠券的奖励",
        "buttons": "请用按钮选择",
        "bonus": "活动期间消费积分按平时的几倍计算？", "days": "从活动开始起持续多久？",
        "ready": "准备发送：", "offer": "优惠：7 天内 2 倍积分",
        "month": "生日月份：3", "tier": "等级：黄金会员", "ticked": "✓ 黄金会员",
        "pick": "[1] 普通会员",
        "bad_time": "请按",
    },
}
CHOOSE = {"en": "Choose 1–{}.", "zh_Hans": "请回复 1–{} 之间的数字。"}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def set_stock(db, programme, clock, code: str, remaining: int | None, on: bool) -> None:
    """What another operator's /stock does meanwhile."""
    async with db.uow() as uow:
        await rewards.set_stock(uow, programme.reward(code), remaining, on, clock.now)
        await uow.commit()


async def campaigns_made(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Campaign)) or 0


async def to_step_3(me) -> str:
    await me.say("/campaign")
    await me.say("12")  # everyone
    await me.say("Hello")
    return await me.say("1")  # the same text in the other language


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_the_coupon_picker_offers_only_rewards_that_can_be_given(db, programme, clock,
                                                                     locale):
    w, choose = WORDS[locale], CHOOSE[locale]
    me = await boss(db, programme, clock, locale=locale)
    await me.say("/reward new tote goods 120")  # off until worded
    await me.say("/stock gaiwan off")
    await me.say("/stock ten_off 0")
    assert w["step3"] in await to_step_3(me)
    out = await me.say("2")  # a coupon
    assert w["which"] in out and w["left"] in out
    assert "[1] A free pot of tea" in out or "[1] 免费一壶茶" in out
    for hidden in ("tote]", "Porcelain gaiwan", "瓷盖碗", "¥10 off", "立减10元", "[4]"):
        assert hidden not in out
    # Switched off by someone else while the list was on screen: the pick is refused
    # with a sentence, and the list is shown as it is now.
    await set_stock(db, programme, clock, "free_pot", None, False)
    out = await me.say("1")
    assert w["pot_off"] in out and w["list"] in out and w["step4"] not in out
    out = await me.say("9")  # past the buttons: the same list, with "choose 1–2"
    assert choose.format(2) in out and w["list"] in out and w["step3"] not in out
    out = await me.say("free tea for all")
    assert w["buttons"] in out and w["list"] in out and w["step3"] not in out
    assert w["step4"] in await me.say("2")  # the tea ceremony
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    out = await me.say("1")  # now
    assert w["ready"] in out
    # Sold out before the confirmation: refused, nothing made, step 3 asked again.
    await set_stock(db, programme, clock, "tea_ceremony", 0, True)
    [yes, _] = await offered(db, "boss")
    out = await me.press(yes)
    assert w["ceremony_out"] in out and w["step3"] in out
    assert await campaigns_made(db) == 0
    # Its stock back, the draft goes on from step 3 with the message kept.
    await set_stock(db, programme, clock, "tea_ceremony", None, True)
    await me.say("2")
    assert w["step4"] in await me.say("2")
    await me.say("1")
    await me.say("1")
    await me.say("1")
    [yes, _] = await offered(db, "boss")
    await me.press(yes)
    c = await the_campaign(db)
    assert (c.coupon_reward, [v["text"] for v in c.variants]) == ("tea_ceremony", ["Hello"])


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_no_reward_to_give_says_so_and_offers_no_empty_list(db, programme, clock,
                                                                 locale):
    w = WORDS[locale]
    me = await boss(db, programme, clock, locale=locale)
    for item in programme.catalogue():
        await set_stock(db, programme, clock, item.code, None, False)
    await to_step_3(me)
    out = await me.say("2")
    assert w["none"] in out and w["step3"] in out and w["which"] not in out
    assert len(await offered(db, "boss")) == 3  # no offer, a coupon, a multiplier
    assert w["step4"] in await me.say("1")  # no offer: the flow goes on


async def test_a_stale_coupon_button_is_refused_with_a_sentence(db, programme, clock):
    me = await boss(db, programme, clock)
    await to_step_3(me)
    await me.say("2")
    await set_stock(db, programme, clock, "free_pot", None, False)
    out = await me.press("cnew:coupon:free_pot")  # the button of the list on screen
    assert WORDS["en"]["pot_off"] in out and "Step 4" not in out
    for code in ("ten_off", "teaware_20", "gaiwan", "tea_ceremony"):
        await set_stock(db, programme, clock, code, None, False)
    out = await me.press("cnew:coupon:teaware_20")  # in the list the refusal showed
    assert "20% off teaware is switched off now" in out
    assert WORDS["en"]["none"] in out and "Step 3 of 5" in out and "Step 4" not in out


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_a_wrong_answer_to_a_sub_question_asks_it_again(db, programme, clock, locale):
    w, choose = WORDS[locale], CHOOSE[locale]
    me = await boss(db, programme, clock, locale=locale)
    await to_step_3(me)
    assert w["bonus"] in await me.say("3")  # points multiplier
    out = await me.say("9")
    assert choose.format(3) in out and w["bonus"] in out and w["step3"] not in out
    out = await me.say("Hi A")
    assert w["buttons"] in out and w["bonus"] in out and w["step3"] not in out
    assert w["days"] in await me.say("2")  # 2×
    out = await me.say("Hi A")
    assert w["buttons"] in out and w["days"] in out and w["step3"] not in out
    out = await me.say("7")
    assert choose.format(4) in out and w["days"] in out and w["step3"] not in out
    assert w["step4"] in await me.say("2")  # 7 days: the multiplier was kept
    out = await me.say("5")
    assert choose.format(2) in out and w["step4"] in out
    await me.say("1")  # one message
    out = await me.say("9")  # the holdout
    assert choose.format(4) in out and w["step5"] not in out
    assert w["step5"] in await me.say("1")
    out = await me.say("3")
    assert choose.format(2) in out and w["step5"] in out
    await me.say("2")  # at a time
    out = await me.say("1")  # a bad time, not the Now button above the question
    assert w["bad_time"] in out and w["ready"] not in out
    assert await offered(db, "boss") == ["cnew:when:now", "cnew:when:later"]
    out = await me.say("2026-03-12 18:30")
    assert w["ready"] in out and w["offer"] in out
    [yes, _] = await offered(db, "boss")
    await me.press(yes)
    c = await the_campaign(db)
    assert (c.bonus_percent, c.bonus_days, c.coupon_reward) == (100, 7, None)


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_wrong_answers_in_the_segment_step_keep_the_question(db, programme, clock,
                                                                   locale):
    w, choose = WORDS[locale], CHOOSE[locale]
    me = await boss(db, programme, clock, locale=locale)
    await me.say("/campaign")
    out = await me.say("13")
    assert choose.format(12) in out
    await me.say("1")  # the tier picker
    await me.say("3")  # ✓ Gold
    out = await me.say("hello")  # the picker again, its tick kept
    assert w["buttons"] in out and w["ticked"] in out and w["pick"] in out
    out = await me.say("7")
    assert choose.format(4) in out and w["ticked"] in out
    await me.say("4")  # done
    await me.say("8")  # birthday months
    out = await me.say("3")  # March, not the menu's third button (language)
    assert w["month"] in out and w["tier"] in out  # back at the menu, both filters kept
