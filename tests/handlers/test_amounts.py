"""Amounts as a till writes them, for /purchase and the /reward editor: thousands
separated by commas, full-width digits, the currency's marks before or after; a comma
where a decimal point would be is refused in our words (never guessed), in both
languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.points.tables import Purchase
from handlers.points.purchase import decimal_comma, parse_amount, read_amount
from handlers.rewards import fields
from tests.support.transcript import Clock, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
EN, ZH = "en", "zh_Hans"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def pick(locale: str, en: str, zh: str) -> str:
    return en if locale == EN else zh


@pytest.mark.parametrize(("typed", "minor"), [
    ("1,250", 125_000), ("1,250.00", 125_000), ("1,250,000.5", 125_000_050),
    ("128.5元", 12_850), ("128.50 元", 12_850), ("¥1,250", 125_000), ("￥ 60", 6_000),
    ("RMB 60", 6_000), ("rmb60", 6_000), ("60 cny", 6_000), ("CNY60.5", 6_050),
    ("CN¥9", 900), ("１，２５０．００", 125_000), ("￥１２８．５", 12_850), ("12.500", 1_250),
    (".5", 50), ("-5", -500), ("−5元", -500), ("¥-5", -500), ("-¥5", -500),
])
def test_an_amount_is_read_as_a_till_writes_it(typed, minor):
    assert read_amount(typed, "CNY") == minor


@pytest.mark.parametrize("typed", [
    "12,5", "12,50", "1.250,50", "1,25,000", "1 250", "12.345", "1e3", "NaN", "--5", "¥",
    "元", "$5", "USD 5", "5 yuan", "12.5.0", ",", "1,,250", "1,2500",
])
def test_what_is_no_amount_is_not_read(typed):
    assert read_amount(typed, "CNY") is None
    assert parse_amount(typed, "CNY") is None


def test_a_decimal_comma_is_told_apart_from_other_mistakes():
    for typed in ("12,5", "12,50", "¥12,50", "1.250,50", "１２，５"):
        assert decimal_comma(typed, "CNY"), typed
    for typed in ("abc", "1,2500", "12.345", "1,250", "12.5"):
        assert not decimal_comma(typed, "CNY"), typed


def test_another_currency_takes_its_own_marks_only():
    assert read_amount("$5", "USD") == read_amount("US$5", "USD") == read_amount("5 usd", "USD")
    assert read_amount("¥5", "USD") is None and read_amount("5元", "USD") is None


@pytest.mark.parametrize("locale", [EN, ZH])
@pytest.mark.parametrize(("typed", "shown"), [
    ("1,250.00", "¥1,250.00"), ("1,250", "¥1,250.00"), ("128.5元", "¥128.50"),
    ("¥ 1,250", "¥1,250.00"), ("RMB 60", "¥60.00"), ("１，２５０", "¥1,250.00"),
])
async def test_purchase_reads_thousands_and_currency_marks(db, programme, clock, locale,
                                                          typed, shown):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    out = await boss.say(f"/purchase 00000001 {typed}")
    assert pick(locale, f"Record a purchase of {shown} for member 00000001?",
                f"为会员 00000001 记录消费 {shown}？") in out
    # And the same typed alone, when the amount is asked for.
    await boss.say("/purchase 00000001")
    assert pick(locale, f"Record a purchase of {shown} for member 00000001?",
                f"为会员 00000001 记录消费 {shown}？") in await boss.say(typed)


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_a_decimal_comma_is_refused_with_the_way_to_write_it(db, programme, clock,
                                                                  locale):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    out = await boss.say("/purchase 00000001 12,5")
    assert out == pick(
        locale,
        "“12,5” has a comma where a decimal point would be. Write decimals with a point, as "
        "in 12.50; a comma only separates thousands, as in 1,250. Send the amount again, or "
        "/cancel.",
        "“12,5”里的逗号用在了小数点的位置。小数请用小数点，如 12.50；逗号只用于千位分隔，"
        "如 1,250。请重新发送金额，或 /cancel 取消。")
    # Neither ¥12.50 nor ¥125 was guessed: the amount is asked again, and read with a point.
    assert pick(locale, "“12,50” has a comma", "“12,50”里的逗号") in await boss.say("12,50")
    assert pick(locale, "That is not an amount. Send it like 128.50 or 1,250",
                "金额格式不对，请按 128.50 或 1,250 这样发送") in await boss.say("lots")
    assert pick(locale, "Record a purchase of ¥12.50", "记录消费 ¥12.50？") in \
        await boss.say("12.5")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Purchase)) == 0


async def test_the_member_and_an_amount_with_a_space_come_together(db, programme, clock):
    boss = await owner(db, programme, clock, user="boss")
    assert "Which member?" in await boss.say("/purchase")
    assert "¥1,250.00 for member 00000001" in await boss.say("00000001 ¥ 1,250")
    await boss.say("/purchase 00000001")
    assert "¥60.00 for member 00000001" in await boss.say("60 元")
    assert "Usage: /purchase" in await boss.say("/purchase 00000001 12 lots of money")


@pytest.mark.parametrize("locale", [EN, ZH])
async def test_the_reward_editor_reads_values_the_same_way(db, programme, clock, locale):
    own = programme.model_copy()
    own.keep_catalogue(None)
    olga = await owner(db, own, clock, locale=locale)
    await olga.press("rwd:edit:ten_off:value")
    out = await olga.say("12,5")
    assert out.startswith(pick(locale, "Write decimals with a point, as in 12.50",
                               "小数请用小数点，如 12.50"))
    assert pick(locale, "Nothing was changed", "未做任何修改") in out
    assert pick(locale, "New: ¥1,250.00", "改为：¥1,250.00") in await olga.say("￥1,250元")
    assert fields.amount(own, "1,250.00", "amount_off") == 125_000
