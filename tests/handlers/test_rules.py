"""/rules: the programme explained to members from the programme file itself, in both
languages, whatever the file chooses (tier modes, bases, expiry policies)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.config import Programme
from handlers.engine.i18n import translate
from handlers.engine.types import Text
from handlers.members.rules import explain
from tests.support.transcript import Clock, member

TODAY = date(2026, 3, 10)


def text(programme: Programme, locale: str = "en", today: date = TODAY) -> str:
    rules = explain(programme, today)
    return translate(Text(rules.key, rules.params), locale)


def changed(programme: Programme, **sections: dict) -> Programme:
    return programme.model_copy(update={
        name: getattr(programme, name).model_copy(update=values)
        for name, values in sections.items()})


def test_the_example_programme_explained_en(programme):
    out = text(programme)
    assert out.startswith("How Tea House Club works\n\nEarning points\n")
    for line in (
        "• Purchases: 1 point for every CN¥1.00 you spend, times your tier's multiplier.",
        "• Your first purchase: 100 bonus points.",
        "• Daily check-in (/checkin): 5 points.",
        "• Day 3 of a check-in streak: 5 bonus points.",
        "• Day 7 of a check-in streak: 20 bonus points.",
        "• Streak bonuses come round again every 7 days; missing a day starts the streak again.",
        "• Tea Tuesday: 100% extra points on purchases every Tuesday.",
        "• Singles' Day: 200% extra points on purchases on Nov 11, 2026.",
        "• 50% extra points on teaware items.",
        "• Invite friends (/invite): when a friend makes a first purchase, you get 200 points "
        "and your friend gets 100 (for up to 20 friends).",
        "• Complete your profile (/profile): 50 points, once.",
        "• Your birthday: 100 points (add your birthday to your /profile).",
        "Your tier follows the qualifying points you earned in the last 365 days:",
        "• Member: from 0 points, points ×1; Birthday gift",
        "• Silver: from 500 points, points ×1.2; Birthday gift, Free tea refill",
        "• Gold: from 2,000 points, points ×1.5; Birthday gift, Free tea refill, Priority seating",
        "Reaching a tier, or qualifying for it again, keeps it for 365 days. If you no longer "
        "qualify when that ends, you keep it 30 days longer, then move to the tier you "
        "qualify for.",
        "Points expire 12 months after you earn them; the oldest points are spent first.",
        "We remind you 30 days before points expire",
    ):
        assert line in out, line


def test_the_example_programme_explained_zh(programme):
    out = text(programme, "zh_Hans")
    assert out.startswith("茶馆会员俱乐部会员规则\n\n如何获得积分\n")
    for line in (
        "• 消费：每消费 ¥1.00 得 1 积分，再乘以等级倍率。",
        "• 连续签到第 7 天：额外奖励 20 积分。",
        "• 周二品茶日：每周二消费积分额外增加 100%。",
        "• 双十一：2026年11月11日消费积分额外增加 200%。",
        "• 邀请好友（/invite）：好友首次消费后，您得 200 积分，好友得 100 积分（最多 20 位好友）。",
        "• 白银会员：500 积分起，积分 ×1.2；生日礼物、免费续杯",
        "另有 30 天宽限期",
        "积分自获得之日起 12 个月后过期",
    ):
        assert line in out, line


def test_a_promotion_that_is_over_is_left_out(programme):
    assert "Singles' Day" not in text(programme, today=date(2026, 11, 12))
    assert "Singles' Day" in text(programme, today=date(2026, 11, 11))


def test_tiers_kept_for_good_and_counted_in_spend(programme):
    out = text(changed(programme, tiers={"mode": "only_up", "basis": "spend",
                                         "window_days": 180}))
    assert "Once you reach a tier, it is yours to keep." in out
    assert "Your tier follows what you spent in the last 180 days:" in out
    assert "• Silver: from CN¥5.00, points ×1.2" in out
    assert "grace" not in out and "keeps it for" not in out


def test_tiers_without_grace(programme):
    out = text(changed(programme, tiers={"grace_days": 0, "validity_days": 1}))
    assert ("keeps it for 1 day. If you no longer qualify when that ends, you move to the "
            "tier you qualify for.") in out


@pytest.mark.parametrize(("policy", "en", "zh"), [
    ("never", "Points never expire.", "积分永久有效。"),
    ("end_of_next_year", "points earned in 2026 expire after Dec 31, 2027.",
     "2026 年获得的积分于 2027年12月31日 后过期。"),
])
def test_expiry_policies(programme, policy, en, zh):
    chosen = changed(programme, expiry={"policy": policy})
    assert en in text(chosen) and zh in text(chosen, "zh_Hans")
    assert ("remind you" in text(chosen)) == (policy != "never")


def test_streaks_without_a_cycle_and_a_birthday_for_some_tiers(programme):
    chosen = changed(programme, checkin={"cycle_days": 0},
                     birthday={"benefit": "free_refill", "points": 0, "reward": "free_pot"})
    out = text(chosen)
    assert "• Each streak bonus comes once per streak" in out
    assert "• Your birthday (Silver, Gold): a coupon for A free pot of tea" in out


def test_nothing_to_earn_is_said_plainly(programme):
    chosen = changed(programme, earning={
        "points_per_unit": 0, "first_purchase": 0, "referrer": 0, "referee": 0,
        "profile_completion": 0, "promotions": (), "category_bonuses": (), "sku_bonuses": ()},
        checkin={"base_points": 0, "streak_bonuses": ()}, birthday={"points": 0})
    assert "Earning points\n• There is no way to earn points at the moment.\n" in text(chosen)


async def test_rules_command_and_the_tier_button(db, programme):
    clock = Clock(datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert "How Tea House Club works" in await alice.say("/rules")
    out = await alice.say("/tier")
    assert "[1] How it works" in out
    assert "When points expire" in await alice.say("1")
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/start")
    out = await wang.say("/tier")
    assert "[1] 会员规则" in out
    assert "积分有效期" in await wang.say("1")
