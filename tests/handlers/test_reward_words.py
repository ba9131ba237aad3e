"""How rewards read, to members and to the staff who edit them, in both languages: a
minimum tier is that tier and above, a coupon's value is money (typed as at the till,
never in fen), empty fields read as what they mean, no doubled marks, an unknown kind
is named, a saved item that is off says so, and coupons are shown at the till."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from domain.points import purchases
from handlers.engine import i18n
from handlers.rewards import fields
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday: no bonus-points day
EN, ZH = "en", "zh_Hans"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def own(programme):
    """The programme, with a catalogue of its own: edits here reach no other test."""
    copy = programme.model_copy()
    copy.keep_catalogue(None)
    return copy


async def give(db, programme, clock, member_id: int, amount: int, order: str) -> None:
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, amount, "CNY"), clock.now)
        await uow.commit()


def pick(locale: str, en: str, zh: str) -> str:
    return en if locale == EN else zh


# ------------------------------------------------------------------ the minimum tier

@pytest.mark.parametrize("locale", [EN, ZH])
async def test_a_minimum_tier_means_that_tier_and_above(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)  # member 1
    ann = member(db, own, clock, user="ann", locale=locale)
    await ann.say("/start")  # member 2, tier Member
    await give(db, own, clock, 2, 30_000, "A-1")
    out = await ann.say("/rewards")
    assert pick(locale, "🔒 20% off teaware — 500 points (Silver and above)",
                "🔒 茶具八折 — 500 积分（白银会员及以上）") in out
    assert "only" not in out and "仅限白银" not in out
    out = await ann.press("rewards:ok:teaware_20:FORGED1:500")
    assert pick(locale, "you cannot redeem this now: Silver and above.",
                "暂时无法兑换：白银会员及以上。") in out
    # The top tier has nobody above it: it is that tier only.
    out = await ann.press("rewards:page:2")
    assert pick(locale, "(Gold only)", "（仅限黄金会员）") in out
    # A Gold member may redeem a Silver item: what "and above" promised.
    gus = member(db, own, clock, user="gus", locale=locale)
    await gus.say("/start")  # member 3
    await give(db, own, clock, 3, 300_000, "G-1")
    assert "🎁 " + pick(locale, "20% off teaware", "茶具八折") in await gus.say("/rewards")
    out = await gus.press("rewards:pick:teaware_20")
    assert pick(locale, "Redeem 20% off teaware for 500 points?",
                "确认用 500 积分兑换茶具八折？") in out
    # Staff read the same: on the card, in the prompt, and before and after a change.
    out = await olga.say("/reward teaware_20")
    assert pick(locale, "Tiers: Silver and above", "适用等级：白银会员及以上") in out
    out = await olga.press("rwd:edit:teaware_20:min_tier")
    assert pick(locale, "teaware_20: open to Silver and above.",
                "teaware_20：当前适用等级：白银会员及以上。") in out
    assert pick(locale, "(Member, Silver, Gold)", "（普通会员、白银会员、黄金会员）") in out
    out = await olga.say(pick(locale, "gold", "黄金会员"))  # a tier by its code or name
    assert pick(locale, "Now: Silver and above\nNew: Gold only",
                "当前：白银会员及以上\n改为：仅限黄金会员") in out
    await olga.say("1")
    assert own.reward("teaware_20").min_tier == "gold"
    await olga.press("rwd:edit:teaware_20:min_tier")
    out = await olga.say(pick(locale, "none", "不限"))
    assert pick(locale, "New: every tier", "改为：所有等级") in out


def test_the_floor_is_said_from_the_ladder(programme):
    ladder = programme.tiers
    assert fields.floor(ladder, "silver").key == "rewards.floor.above"
    assert fields.floor(ladder, "member").key == "rewards.floor.above"
    assert fields.floor(ladder, "gold").key == "rewards.floor.only"
    assert fields.floor(ladder, None).key == "rewards.floor.all"
    assert fields.tier_code(ladder, " Silver ") == "silver"
    assert fields.tier_code(ladder, "黄金会员") == "gold"
    assert fields.tier_code(ladder, "platinum") == "platinum"  # the catalogue refuses it


# ------------------------------------------------------------------ a coupon's value

@pytest.mark.parametrize("locale", [EN, ZH])
async def test_a_coupons_value_is_money_typed_as_at_the_till(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.say("/reward ten_off")
    assert pick(locale, "Value: ¥10.00", "面值：¥10.00") in out and "1,000" not in out
    assert pick(locale, "Value: 20% off", "面值：减免20%") in await olga.say("/reward teaware_20")
    # Goods without a value say so beside their Value button; a free item has neither.
    out = await olga.say("/reward gaiwan")
    assert pick(locale, "Value: not set", "面值：未设置") in out
    assert pick(locale, "[2] Value", "[2] 面值") in out
    assert pick(locale, "Value:", "面值：") not in await olga.say("/reward free_pot")
    # A free item has no value to edit: no button, and a forged one is stale.
    assert pick(locale, "Value", "面值") not in await olga.say("/reward free_pot")
    assert pick(locale, "expired", "已失效") in await olga.press("rwd:edit:free_pot:value")
    out = await olga.press("rwd:edit:ten_off:value")
    assert pick(locale, "ten_off: the value is ¥10.00. Send the new amount, for example "
                        "12.50 for ¥12.50.",
                "ten_off：当前面值：¥10.00。请发送新的金额，例如 12.50 表示 ¥12.50。") in out
    assert "minor" not in out and "以分为单位" not in out
    out = await olga.say("¥15.5")
    assert pick(locale, "Now: ¥10.00\nNew: ¥15.50", "当前：¥10.00\n改为：¥15.50") in out
    await olga.say("1")
    assert own.reward("ten_off").value == 1550  # kept in minor units, as the file holds it
    # A new item's VALUE is typed the same way.
    out = await olga.say("/reward new cake amount_off 100 8.80")
    assert pick(locale, "Value: ¥8.80", "面值：¥8.80") in out
    assert own.reward("cake").value == 880
    await olga.say("/reward new pct percent_off 100 15")
    assert own.reward("pct").value == 15


@pytest.mark.parametrize(("kind", "typed", "minor"), [
    ("amount_off", "12.50", 1250), ("amount_off", "¥12.5", 1250), ("amount_off", "1,250", 125000),
    ("amount_off", "7", 700), ("goods", "none", 0), ("goods", "0", 0), ("goods", "无", 0),
    ("percent_off", "20", 20), ("percent_off", "20%", 20),
])
def test_a_value_is_read_as_purchase_reads_an_amount(programme, kind, typed, minor):
    assert fields.amount(programme, typed, kind) == minor


# ------------------------------------------------------------------ no stray marks or codes

@pytest.mark.parametrize("locale", [EN, ZH])
async def test_prompts_have_no_doubled_marks_and_say_empty_fields_in_words(db, own, clock,
                                                                          locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.press("rwd:edit:ten_off:description")
    # The value may end in its own full stop: it stands on a line of its own.
    assert pick(locale, "\nEnglish: ¥10 off a bill of ¥50 or more.\nChinese: 满50元立减10元。\n",
                "\n英文：¥10 off a bill of ¥50 or more.\n中文：满50元立减10元。\n") in out
    assert "。。" not in out and ".." not in out and "。." not in out
    out = await olga.press("rwd:edit:ten_off:dates")
    assert pick(locale, "ten_off: offered any day.", "ten_off：当前日期：不限。") in out
    assert " none." not in out and "为 无" not in out
    out = await olga.say("2027-01-01 -")
    assert pick(locale, "Now: any day\nNew: from 2027-01-01, no end date",
                "当前：不限\n改为：2027-01-01 起，不限结束日期") in out
    assert " -?" not in out and " -？" not in out
    await olga.say("1")
    assert pick(locale, "Dates: from 2027-01-01, no end date",
                "日期：2027-01-01 起，不限结束日期") in await olga.say("/reward ten_off")
    out = await olga.press("rwd:edit:teaware_20:per_member")
    assert pick(locale, "teaware_20: limit per member: no limit.",
                "teaware_20：当前每人限兑：不限。") in out
    # Chinese prompts say what to type in Chinese; 无 works as well as 不限.
    if locale == ZH:
        assert "none" not in out and "“不限”" in out
    await olga.press("rwd:edit:ten_off:per_member")
    out = await olga.say(pick(locale, "none", "无"))
    assert pick(locale, "Now: 5\nNew: no limit", "当前：5\n改为：不限") in out
    # Field names are lower case inside an English sentence.
    await olga.press("rwd:edit:ten_off:title")
    out = await olga.say("Ten off | 立减十元")
    assert pick(locale, "¥10 off: change the title?", "立减10元：修改名称？") in out
    assert "change Title" not in out


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_chinese_edit_prompts_name_no_english_words(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    for field in ("min_tier", "per_member", "dates", "value"):
        out = await olga.press(f"rwd:edit:gaiwan:{field}")
        if locale == ZH:
            assert "none" not in out, out
        else:
            assert "none" in out, out
        await olga.say("/cancel")


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_the_same_value_again_changes_nothing_and_says_so(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.press("rwd:edit:ten_off:cost")
    out = await olga.say("200")
    assert pick(locale, "Nothing to change: the cost is already\n200 points",
                "无需修改，所需积分已经是：\n200 积分") in out
    assert "[1]" not in out
    assert pick(locale, "change the cost?", "修改所需积分？") in await olga.say("250")


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_saving_an_item_that_is_off_says_it_is_still_off(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.say("/stock ten_off off")
    await olga.press("rwd:edit:ten_off:cost")
    await olga.say("250")
    out = await olga.say("1")
    assert pick(locale, "Saved. The item is still off, so members do not see it; once it is "
                        "worded in every language, turn it on with /stock ten_off on.",
                "已保存。该礼品仍处于下架状态，会员看不到；各语言的文字都填写后，"
                "用 /stock ten_off on 上架。") in out
    assert pick(locale, "Members see the change", "会员即刻可见") not in out
    await olga.say("/stock ten_off on")
    await olga.press("rwd:edit:ten_off:cost")
    await olga.say("260")
    assert pick(locale, "Saved. Members see the change from now on.",
                "已保存，会员即刻可见。") in await olga.say("1")


# ------------------------------------------------------------------ an unknown kind

@pytest.mark.parametrize("locale", [EN, ZH])
async def test_an_unknown_kind_is_named_and_the_kinds_listed(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.say("/reward new cake cakes 10")
    assert pick(locale, "“cakes” is not a kind of reward. The kinds are: amount_off (money off), "
                        "percent_off (percentage off), free_item (a free item)",
                "“cakes”不是礼品类型。可用的类型：amount_off（满减/代金券）、percent_off（折扣券）、"
                "free_item（免费兑换券）") in out
    assert "experience" in out and "/reward new tote_bag goods 120" in out
    assert own.reward("cake") is None
    # The usage line lists them the same way, and says VALUE is money.
    out = await olga.say("/reward new cake")
    assert pick(locale, "goods (goods to take home)", "goods（实物）") in out
    assert pick(locale, "VALUE is an amount such as 12.50", "面值为金额，例如 12.50") in out


# ------------------------------------------------------------------ one word for the till

@pytest.mark.parametrize(("locale", "words"), [
    (EN, ("show it at the till", "Show the code or the QR image at the till")),
    (ZH, ("结账时出示即可", "结账时出示券码或二维码即可"))])
async def test_coupons_are_shown_at_the_till_in_one_word(db, own, clock, locale, words):
    alice = member(db, own, clock, locale=locale)
    await alice.say("/start")
    await give(db, own, clock, 1, 30_000, "A-1")
    await alice.say("/rewards")
    await alice.press("rewards:pick:free_pot")
    out = await alice.say("1")
    assert words[0] in out and words[1] in out


def test_every_catalog_says_till_and_never_counter():
    """One word per language for where a coupon is shown: the till, 结账时."""
    for message in i18n.catalog(EN):
        text = message.string if isinstance(message.string, str) else " ".join(message.string)
        assert not re.search(r"\bcounter\b", text or ""), message.id
    for message in i18n.catalog(ZH):
        text = message.string if isinstance(message.string, str) else " ".join(message.string)
        assert "到店出示" not in (text or "") and "柜台" not in (text or ""), message.id


@pytest.mark.parametrize(("locale", "line"), [
    (EN, "Choose a field to change it."), (ZH, "请选择要修改的项目。")])
async def test_the_profile_asks_to_choose_a_field_not_to_tap_one(db, own, clock, locale, line):
    """The console answers by number and Telegram by tap: "choose" fits both."""
    alice = member(db, own, clock, locale=locale)
    await alice.say("/start")
    out = await alice.say("/profile")
    assert line in out and "Tap" not in out and "点击" not in out


# ------------------------------------------------------------------ discard, wording, stock

@pytest.mark.parametrize("locale", [EN, ZH])
async def test_discard_returns_to_the_item_card_as_save_does(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.say("/reward ten_off")
    await olga.say("1")  # [1] Cost
    await olga.say("250")
    out = await olga.say("2")  # [2] Discard
    assert out.startswith(pick(locale, "Discarded. Nothing was changed.\n",
                               "已放弃，未做任何修改。\n"))
    assert pick(locale, "Cost: 200 points", "200 积分") in out
    assert pick(locale, "[1] Cost  [2] Value", "[1] 所需积分  [2] 面值") in out
    # Its buttons answer: 1 is the cost again, not "nothing to choose".
    assert pick(locale, "ten_off: the cost is 200 points.", "ten_off：当前需 200 积分。") in \
        await olga.say("1")
    assert own.reward("ten_off").cost == 200


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_wording_is_edited_one_language_at_a_time_or_both(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.press("rwd:edit:ten_off:title")
    assert pick(locale, "Send the new English title alone, or both as English | 中文.",
                "请发送新的中文名称；要同时修改英文和中文，请按“英文 | 中文”的格式发送。") in out
    assert "English | 中文 发送" not in out and "请按 English" not in out
    mine = pick(locale, "Ten yuan off", "立减十元")
    out = await olga.say(mine)
    assert pick(locale, "¥10 off: change the English title?\nNow: ¥10 off\nNew: Ten yuan off\n"
                        "The Chinese title stays: 立减10元",
                "立减10元：修改中文名称？\n当前：立减10元\n改为：立减十元\n"
                "英文名称不变：¥10 off") in out
    assert pick(locale, "Saved", "已保存") in await olga.say("1")
    title = own.reward("ten_off").title
    assert (title.en, title.zh_Hans) == pick(locale, ("Ten yuan off", "立减10元"),
                                             ("¥10 off", "立减十元"))
    # Both at once, as before.
    await olga.press("rwd:edit:ten_off:title")
    out = await olga.say("Ten off | 减十元")
    assert pick(locale, "Now: Ten yuan off | 立减10元\nNew: Ten off | 减十元",
                "当前：¥10 off | 立减十元\n改为：Ten off | 减十元") in out


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_unreadable_wording_says_what_is_wrong_first(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.press("rwd:edit:ten_off:description")
    out = await olga.say("one | two | three")
    assert out.startswith(pick(locale, "I could not read that: put one | between",
                               "没能看懂：英文和中文之间用一个 | 隔开"))
    assert out.index(pick(locale, "could not read", "没能看懂")) < out.index(
        pick(locale, "the description now reads", "的当前说明"))
    out = await olga.say("| 只有中文")
    assert out.startswith(pick(locale, "I could not read that", "没能看懂"))
    await olga.press("rwd:edit:ten_off:cost")
    out = await olga.say("2026-01-01")  # not a number: refused with the range, alone
    assert pick(locale, "The cost must be", "所需积分") in out.splitlines()[0]


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_a_new_item_worded_in_one_language_says_the_other_is_its_code(db, own, clock,
                                                                             locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.say("/reward new tote goods 120")
    await olga.press("rwd:edit:tote:title")
    out = await olga.say(pick(locale, "Canvas tote", "帆布袋"))
    assert pick(locale, "The Chinese title still reads tote, its code: word it too before you "
                        "turn the item on.",
                "英文名称仍是代码 tote：上架前请一并填写。") in out
    await olga.say("1")
    assert pick(locale, "Title (Chinese)", "名称（英文）") in await olga.say("/stock tote on")


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_a_value_button_only_beside_a_value_line(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.say("/reward new present gift 50")
    assert pick(locale, "Value: not set", "面值：未设置") in out
    assert pick(locale, "[2] Value", "[2] 面值") in out
    out = await olga.say("/reward new tea free_item 50")
    assert pick(locale, "Value", "面值") not in out


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_stock_says_on_sale_or_off_in_words(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    out = await olga.say("/stock gaiwan 3")
    assert out == pick(locale, "Porcelain gaiwan: stock 3, on sale.", "瓷盖碗：库存 3，已上架。")
    out = await olga.say("/stock gaiwan off")
    assert out == pick(locale, "Porcelain gaiwan: stock 3, off sale (members do not see it).",
                       "瓷盖碗：库存 3，已下架（会员看不到）。")
    assert "Yes" not in out and "是" not in out


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_one_date_alone_says_how_to_write_an_open_end(db, own, clock, locale):
    olga = await owner(db, own, clock, locale=locale)
    await olga.press("rwd:edit:ten_off:dates")
    out = await olga.say("2027-01-01")
    assert pick(locale, '"2027-01-01 -" is from that day on and "- 2027-01-01" is until',
                "“2027-01-01 -”表示从该日起，“- 2027-01-01”表示截至该日") in out
    assert pick(locale, "Now: any day\nNew: from 2027-01-01, no end date",
                "当前：不限\n改为：2027-01-01 起，不限结束日期") in await olga.say("2027-01-01 -")
