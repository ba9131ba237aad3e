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
        "• Purchases: 1 point for every ¥1.00 you spend, times your tier's multiplier.",
        "• Your first purchase: 100 bonus points.",
        "• Daily check-in (/checkin): 5 points.",
        "• Day 3 of a check-in streak: 5 bonus points.",
        "• Day 7 of a check-in streak: 20 bonus points.",
        "• Streak bonuses come round again every 7 days; missing a day starts the streak again.",
        "• Tea Tuesday: 100% extra points on purchases every Tuesday.",
        "• Singles' Day: 200% extra points on purchases on Nov 11, 2026.",
        "• Teaware: 50% extra purchase points.",
        "• Longjing tea (250 g): 30 extra points for each one you buy.",
        "• Invite friends (/invite): when a friend makes a first purchase, you get 200 points "
        "and your friend gets 100 (for up to 20 friends).",
        "• Complete your profile (/profile): 50 points, once.",
        "• Your birthday: 100 points (add your birthday to your /profile).",
        "Your tier follows the qualifying points you earned in the last 365 days:",
        # ×1 is no benefit; benefits mid-sentence in lower case
        "• Member: from 0 points; birthday gift\n",
        "• Silver: from 500 points, points ×1.2; birthday gift, free tea refill",
        "• Gold: from 2,000 points, points ×1.5; birthday gift, free tea refill, priority seating",
        "Reaching a tier, or qualifying for it again, keeps it for 365 days. If you no longer "
        "qualify when that ends, you keep it 30 days longer, then move to the tier you "
        "qualify for.",
        "Points expire 12 months after you earn them; the oldest points are spent first.",
        "We remind you 30 days before points expire",
    ):
        assert line in out, line
    assert "×1;" not in out and "×1\n" not in out


def test_the_example_programme_explained_zh(programme):
    out = text(programme, "zh_Hans")
    assert out.startswith("茶馆会员俱乐部会员规则\n\n如何获得积分\n")
    for line in (
        "• 消费：每消费 ¥1.00 得 1 积分，再乘以等级倍率。",
        "• 连续签到第 7 天：额外奖励 20 积分。",
        "• 周二品茶日：每周二消费积分额外增加 100%。",
        "• 双十一：2026年11月11日消费积分额外增加 200%。",
        "• 邀请好友（/invite）：好友首次消费后，您得 200 积分，好友得 100 积分（最多 20 位好友）。",
        "• 普通会员：0 积分起；生日礼物\n",
        "• 白银会员：500 积分起，积分 ×1.2；生日礼物、免费续杯",
        "• 茶具：消费积分额外增加 50%。",
        "• 龙井茶（250 克）：每购买一件，额外奖励 30 积分。",
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
    assert "• Silver: from ¥5.00, points ×1.2" in out
    assert "• Member: from ¥0.00; birthday gift" in out
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


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_categories_and_products_are_named_not_coded(programme, locale):
    """The programme file names its bonus categories and products; members never read
    the till's codes (`teaware`, `LONGJING-250G`) in either language."""
    out = text(programme, locale)
    assert "teaware" not in out and "LONGJING" not in out
    assert ("茶具" in out) == (locale == "zh_Hans") and ("Teaware" in out) == (locale == "en")


def test_a_category_or_product_without_a_name_is_shown_by_its_code(programme):
    from domain.config import CategoryBonus, SkuBonus
    chosen = changed(programme, earning={
        "category_bonuses": (CategoryBonus(category="teaware", percent=50),),
        "sku_bonuses": (SkuBonus(sku="LONGJING-250G", points=30),)})
    assert "• teaware: 50% extra purchase points." in text(chosen)
    assert "• LONGJING-250G：每购买一件，额外奖励 30 积分。" in text(chosen, "zh_Hans")


@pytest.mark.parametrize(("locale", "lines"), [
    ("en", ["+30  Tier bonus, points ×1.5 (order T-1)",
            "+10  Category bonus: Teaware (order T-1)",
            "+60  Product bonus: Longjing tea (250 g) ×2 (order T-1)"]),
    ("zh_Hans", ["+30  等级加成：积分 ×1.5（订单 T-1）",
                 "+10  品类奖励：茶具（订单 T-1）",
                 "+60  商品奖励：龙井茶（250 克） ×2（订单 T-1）"])])
async def test_the_statement_names_the_tier_multiplier_and_the_bonus_items(
        db, programme, locale, lines):
    """A Gold purchase earns ×1.5: the statement says ×1.5, not "150%" (which reads
    as if the bonus were one and a half times the purchase)."""
    from domain.members.tables import Member
    from domain.points import purchases
    from domain.points.earning import Item

    clock = Clock(datetime(2026, 3, 11, 1, 0, tzinfo=UTC))  # no bonus day
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    async with db.uow() as uow:
        (await uow.session.get(Member, 1)).tier = "gold"
        await uow.commit()
    async with db.uow() as uow:
        items = (Item("LONGJING-250G", "tea", 2, 4_000), Item("CUP", "teaware", 1, 2_000))
        await purchases.record(uow, programme, 1,
                               purchases.Order("T-1", 6_000, "CNY", items), clock.now)
        await uow.commit()
    out = await alice.say("/points")
    for line in lines:
        assert line in out, out
    assert "150%" not in out and "teaware" not in out and "LONGJING" not in out


async def test_chinese_always_says_您_never_你(db, programme):
    """Every Chinese catalog addresses the reader politely, as the help does."""
    from handlers.engine.i18n import catalog_texts

    for name, source in catalog_texts("zh_Hans").items():
        said = [line for line in source.splitlines()
                if line.startswith(("msgstr", '"')) and "你" in line]
        assert not said, (name, said)
    wang = member(db, programme, Clock(datetime(2026, 3, 10, 1, 0, tzinfo=UTC)),
                  user="wang", locale="zh_Hans")
    await wang.say("/start")
    assert "我可以帮您：" in await wang.say("/help")
