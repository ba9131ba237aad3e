"""Wording staff and members read: refusals in our own words naming the field and its
range (never a validator's English), refusals naming the role a command needs, page
buttons, coupon dates, the audit log in words and the programme's time zone, /jobs
times with their zone, the catalogue list with stock, and no unworded reward on show."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.config import RewardItem
from domain.points import purchases
from domain.rewards import catalogue
from domain.rewards.catalogue import EditRefused
from domain.staff import audit, roles
from handlers.engine import i18n
from handlers.engine.types import Inbound, Text
from handlers.engine.words import zone_label
from handlers.rewards import catalogue as screens
from handlers.staff import audit as audit_words
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Wednesday
# What pydantic (or any validator) says, in any of its forms: none of it may show.
VALIDATOR = ("Input should", "String should", "Value error", "value_error", "pattern",
             "validation error", "greater than", "less than", "should be", "should have",
             "ends comes", "^[", "type=", "pydantic", "Field required")
PLACEHOLDER = re.compile(r"\{(low|high|field|language|tier|tiers|why|code)\}")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def clean(out: str) -> None:
    found = [f for f in VALIDATOR if f.lower() in out.lower()]
    assert not found, f"validator text {found} in: {out}"


# item, field, what is typed, what names the field (en, zh), a range or rule it states
COST = ("The cost", "所需积分")
BILLION = ("1 to 1,000,000,000", "1 到 1,000,000,000")
# A coupon's value is money, shown and typed as money (never in fen).
MONEY_OFF = ("money-off", "满减/代金券")
MONEY_RANGE = ("¥0.01 to ¥10,000,000.00", "¥0.01 到 ¥10,000,000.00")
EDITS = [
    ("ten_off", "cost", "0", COST, BILLION),
    ("ten_off", "cost", "-5", COST, BILLION),
    ("ten_off", "cost", "lots", COST, ("whole number", "整数")),
    ("ten_off", "cost", "99999999999", COST, BILLION),
    ("ten_off", "cost", "1.5", COST, ("whole number", "整数")),
    ("teaware_20", "value", "150", ("percent-off", "折扣券"), ("1 to 100", "1 到 100")),
    ("teaware_20", "value", "0", ("percent-off", "折扣券"), ("1 to 100", "1 到 100")),
    ("ten_off", "value", "0", MONEY_OFF, MONEY_RANGE),
    ("ten_off", "value", "-5", MONEY_OFF, MONEY_RANGE),
    ("ten_off", "value", "99999999999", MONEY_OFF, MONEY_RANGE),
    ("ten_off", "value", "12.345", MONEY_OFF, ("for example 12.50", "例如 12.50")),
    ("ten_off", "value", "none", MONEY_OFF, MONEY_RANGE),
    ("gaiwan", "value", "x", ("The value", "面值"),
     ("¥0.00 to ¥10,000,000.00", "¥0.00 到 ¥10,000,000.00")),
    ("ten_off", "per_member", "0", ("limit per member", "每人限兑"),
     ("1 to 10,000", "1 到 10,000")),
    ("ten_off", "per_member", "10001", ("limit per member", "每人限兑"),
     ("1 to 10,000", "1 到 10,000")),
    ("ten_off", "per_member", "many", ("limit per member", "每人限兑"),
     ("or none", "或发送“不限”")),
    ("ten_off", "coupon_days", "0", ("Coupon validity", "券有效期"), ("1 to 3,650", "1 到 3,650")),
    ("ten_off", "coupon_days", "4000", ("Coupon validity", "券有效期"),
     ("1 to 3,650", "1 到 3,650")),
    ("ten_off", "dates", "2026-06-01 2026-05-01", ("end date", "结束日期"),
     ("before the start date", "早于开始日期")),
    ("ten_off", "title", "x" * 201 + " | 中文", ("English title", "英文名称"), ("200", "200")),
    ("ten_off", "title", "ok | " + "字" * 201, ("Chinese title", "中文名称"), ("200", "200")),
    ("ten_off", "title", "x" * 300 + " | " + "y" * 300, ("title", "名称"), ("200", "200")),
    ("ten_off", "description", "ok | " + "字" * 250, ("Chinese description", "中文说明"),
     ("200", "200")),
    ("ten_off", "min_tier", "platinum", ("tier", "等级"), ("platinum", "platinum")),
]


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_every_field_refuses_bad_values_in_our_own_words(db, programme, clock, locale):
    olga = await owner(db, programme, clock, locale=locale)
    side = 0 if locale == "en" else 1
    for code, field, typed, names, rule in EDITS:
        await olga.press(f"rwd:edit:{code}:{field}")
        out = await olga.say(typed)
        clean(out)
        assert names[side] in out and rule[side] in out, (field, typed, out)
        assert ("Nothing was changed" if side == 0 else "未做任何修改") in out
        await olga.say("/cancel")
    for item in ("ten_off", "teaware_20", "gaiwan"):
        assert programme.reward(item) == programme.reward_in_file(item)


CREATES = [
    ("/reward new pct percent_off 100 150", ("percent-off", "折扣券"), ("1 to 100", "1 到 100")),
    ("/reward new cake amount_off 100", MONEY_OFF, MONEY_RANGE),
    ("/reward new cake amount_off 100 1000000000", MONEY_OFF, MONEY_RANGE),
    ("/reward new cake free_item 100 5", ("free item has no value", "免费兑换券没有面值"),
     ("leave VALUE out", "请不要填写面值")),
    ("/reward new 9cake goods 10", ("reward code", "礼品代码"), ("32", "32")),
    ("/reward new " + "a" * 33 + " goods 10", ("reward code", "礼品代码"), ("32", "32")),
    ("/reward new 蛋糕 goods 10", ("reward code", "礼品代码"), ("lower-case", "小写字母")),
    ("/reward new mug goods 0", ("The cost", "所需积分"), ("1 to", "1 到")),
    ("/reward new mug goods lots", ("The cost", "所需积分"), ("whole number", "整数")),
]


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_a_new_item_is_refused_for_what_is_wrong_with_it(db, programme, clock, locale):
    olga = await owner(db, programme, clock, locale=locale)
    side = 0 if locale == "en" else 1
    for line, names, rule in CREATES:
        out = await olga.say(line)
        clean(out)
        assert names[side] in out and rule[side] in out, (line, out)
        assert ("Nothing was added" if side == 0 else "未新增礼品") in out
    # The percentage was the problem, not the code: the code is not mentioned as wrong.
    assert "code" not in (await olga.say("/reward new pct percent_off 100 150")).lower()
    assert len(programme.catalogue()) == len(programme.rewards)


def test_the_ranges_stated_are_the_models_own():
    assert catalogue.bounds(RewardItem, "per_member") == (1, 10_000)
    assert catalogue.bounds(RewardItem, "cost") == (1, 1_000_000_000)
    assert catalogue.bounds(RewardItem, "coupon_days") == (1, 3650)
    base = programme_item()
    for field, (low, high) in (("per_member", (1, 10_000)), ("coupon_days", (1, 3650)),
                               ("cost", (1, 1_000_000_000))):
        RewardItem.model_validate({**base, field: low})
        RewardItem.model_validate({**base, field: high})
        for bad in (low - 1, high + 1):
            with pytest.raises(EditRefused) as refused:
                catalogue.validated(SimpleNamespace(tiers=None), {**base, field: bad})
            assert refused.value.params == {"field": field, "rule": "range", "low": low,
                                            "high": high, "kind": "goods"}
    catalogue.validated(SimpleNamespace(tiers=None), {**base, "kind": "percent_off",
                                                      "value": 100})
    with pytest.raises(EditRefused) as refused:
        catalogue.validated(SimpleNamespace(tiers=None), {**base, "kind": "percent_off",
                                                          "value": 101})
    assert refused.value.params["high"] == 100


def programme_item() -> dict:
    return {"code": "mug", "kind": "goods", "cost": 10, "title": {"en": "Mug", "zh_Hans": "杯"},
            "description": {"en": "A mug", "zh_Hans": "一个杯子"}}


JUNK = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
                 st.text(max_size=250), st.dictionaries(st.sampled_from(["en", "zh_Hans", "x"]),
                                                        st.text(max_size=250), max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(catalogue.EDITABLE + ("code", "kind")), JUNK,
                               min_size=1, max_size=3))
def test_whatever_is_refused_is_said_in_a_sentence_of_ours(programme, changes):
    """Any value in any field: either it is an item, or the refusal is one of our
    sentences in both languages, with no validator text and no placeholder left."""
    try:
        catalogue.validated(programme, {**programme_item(), **changes})
    except EditRefused as refused:
        assert "detail" not in refused.params
        why = screens.reason(SimpleNamespace(programme=programme), refused)
        assert why.key != "catalogue.refused.unknown" or not refused.params.get("field")
        for locale in i18n.LOCALES:
            assert i18n.has(why.key, locale)
            text = i18n.translate(why, locale)
            clean(text)
            assert not PLACEHOLDER.search(text), text
        if refused.params.get("rule") == "range":
            assert isinstance(refused.params["low"], int)
            assert isinstance(refused.params["high"], int)


@pytest.mark.parametrize(("locale", "line", "refusal"), [
    ("en", "/audit", "Sorry, /audit is for the owner and admins."),
    ("zh_Hans", "/audit", "抱歉，/audit 仅限店主和管理员使用。"),
    ("en", "/grant staff 3", "Sorry, /grant is for the owner and admins."),
    ("en", "/revoke staff 3", "Sorry, /revoke is for the owner and admins."),
])
async def test_an_operator_is_told_which_role_a_command_needs(db, programme, clock, locale,
                                                              line, refusal):
    await owner(db, programme, clock, user="boss")
    op = member(db, programme, clock, user="otto", locale=locale)
    await op.say("/start")
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    out = await op.say(line)
    assert refusal in out and "staff only" not in out and "工作人员" not in out


async def test_a_member_is_told_who_may_use_each_staff_command(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    for line, needed in (("/verify ABCD", "the owner, admins, operators and staff"),
                         ("/stock gaiwan 3", "the owner, admins and operators"),
                         ("/reward", "the owner, admins and operators"),
                         ("/jobs", "the owner, admins and operators"),
                         ("/tag 1 vip", "the owner, admins and operators"),
                         ("/purchase", "the owner, admins and operators")):
        assert f"Sorry, {line.split()[0]} is for {needed}." in await alice.say(line)
    # A button names the command it belongs to.
    assert "Sorry, /reward is for" in await alice.press("rwd:open:ten_off")
    assert "Sorry, /jobs is for" in await alice.press("jobs:list")
    assert "Sorry, /audit is for the owner and admins." in await alice.press("audit:page:2")


def test_every_permission_belongs_to_a_role_and_those_above_it():
    for permission, allowed in roles.PERMISSIONS.items():
        least = roles.least(permission)
        assert allowed == set(roles.ROLES[:roles.ROLES.index(least) + 1]), permission
        for locale in i18n.LOCALES:
            assert i18n.has(f"staff.needs.{least}", locale)


@pytest.mark.parametrize(("locale", "next_page", "previous_page"), [
    ("en", "Next page ›", "‹ Previous page"), ("zh_Hans", "下一页 ›", "‹ 上一页")])
async def test_rewards_pages_use_page_words(db, programme, clock, locale, next_page,
                                           previous_page):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    out = await alice.say("/rewards")
    assert next_page in out and "Older" not in out and "更早" not in out
    assert previous_page in await buttons(alice, "rewards:page:2")


async def buttons(chat, action: str) -> list[str]:
    """The labels of the buttons a press answers with."""
    answer = await chat.chat.engine.handle(Inbound(
        platform="console", user_id=chat.chat.user, chat_id=chat.chat.user, action=action,
        locale=chat.chat.locale))
    return [label for r in answer.rendered() for row in r.buttons for label, _ in row]


async def give(db, programme, clock, member_id, amount, order):
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, amount, "CNY"), clock.now)
        await uow.commit()


@pytest.mark.parametrize(("locale", "line"), [
    ("en", "¥10 off — ready to use, valid until Apr 10, 2026"),
    ("zh_Hans", "立减10元 — 可使用，有效期至 2026年4月10日")])
async def test_coupon_dates_stand_without_brackets(db, programme, clock, locale, line):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    await give(db, programme, clock, 1, 30_000, "A-1")
    await alice.say("/rewards")
    await alice.press("rewards:pick:ten_off")
    await alice.say("1")  # Yes, redeem
    out = await alice.say("/coupons")
    assert line in out, out
    assert "(Apr" not in out and "（2026" not in out


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", ["Audit log (page 1 of 1, times in Asia/Shanghai, UTC+8):",
            "2026-03-11 09:00 member 00000001 recorded purchase P-1: amount ¥60,000.00; "
            "member 00000002",
            "tagged member 00000002: vip, tea lover, 标签",
            "edited reward ten_off: cost 200 points → 250 points",
            "set the stock of reward gaiwan: status off; stock unlimited"]),
    ("zh_Hans", ["审计日志（第 1/1 页，时区：Asia/Shanghai，UTC+8）：",
                 "登记消费（订单 P-1）：金额 ¥60,000.00；会员 00000002",
                 "为会员 00000002 添加标签：vip、tea lover、标签",
                 "修改礼品 ten_off：所需积分 200 → 250",
                 "设置礼品 gaiwan 的库存：状态 已下架；库存 不限"])])
async def test_the_audit_log_reads_as_words_in_the_programmes_zone(db, programme, clock,
                                                                   locale, wanted):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    await member(db, programme, clock, user="ann").say("/start")
    async with db.uow() as uow:  # as /purchase records it: minor units
        await audit.record(uow, "member:00000001", "purchase.record", "P-1",
                           {"member": "00000002", "amount": 6_000_000}, clock.now)
        await uow.commit()
    await boss.say('/tag 2 VIP "Tea Lover" 标签')
    await boss.press("rwd:edit:ten_off:cost")
    await boss.say("250")
    await boss.press("rwd:save")
    await boss.say("/stock gaiwan unlimited")
    await boss.say("/stock gaiwan off")
    out = await boss.say("/audit")
    for line in wanted:
        assert line in out, out
    assert "['" not in out and "=" not in out and "6000000" not in out


@pytest.mark.parametrize(("locale", "header"), [
    ("en", "Scheduled jobs (times in Asia/Shanghai, UTC+8)"),
    ("zh_Hans", "定时任务（时区：Asia/Shanghai，UTC+8）")])
async def test_jobs_name_the_zone_of_their_times(db, programme, clock, locale, header):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    assert (await boss.say("/jobs")).startswith(header)
    out = await boss.say("/jobs run birthdays")
    zone = "Asia/Shanghai, UTC+8" if locale == "en" else "Asia/Shanghai，UTC+8"
    assert "2026-03-11 09:00" in out and zone in out


def test_a_zone_is_named_with_its_offset_unless_its_clocks_change():
    when = datetime(2026, 3, 1, tzinfo=UTC)
    assert zone_label(ZoneInfo("Asia/Shanghai"), when) == "Asia/Shanghai, UTC+8"
    assert zone_label(ZoneInfo("Asia/Kolkata"), when) == "Asia/Kolkata, UTC+5:30"
    assert zone_label(ZoneInfo("America/Sao_Paulo"), when) == "America/Sao_Paulo, UTC-3"
    assert zone_label(ZoneInfo("Europe/London"), when) == "Europe/London"
    assert zone_label(ZoneInfo("UTC"), when) == "UTC"


async def test_the_catalogue_list_shows_stock_and_on_or_off(db, programme, clock):
    olga = await owner(db, programme, clock)
    await olga.say("/stock gaiwan 3")
    await olga.say("/stock free_pot off")
    out = await olga.say("/reward")
    assert "gaiwan — Porcelain gaiwan: 1,500 points · stock 3 · on" in out
    assert "free_pot — A free pot of tea: 300 points · stock unlimited · off" in out
    assert "tea_ceremony — Tea ceremony for two: 3,000 points · stock 5 · on" in out
    assert "Stock: 3 · on" in await olga.press("rwd:open:gaiwan")
    wang = await owner(db, programme, clock, user="wang", locale="zh_Hans")
    out = await wang.say("/reward")
    assert "gaiwan — 瓷盖碗：1,500 积分 · 库存 3 · 已上架" in out
    assert "free_pot — 免费一壶茶：300 积分 · 库存 不限 · 已下架" in out


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_an_unworded_reward_cannot_be_turned_on(db, programme, clock, locale):
    olga = await owner(db, programme, clock, locale=locale)
    alice = member(db, programme, clock, user="alice", locale="zh_Hans")
    await alice.say("/start")
    await olga.say("/reward new cake goods 100")
    assert "cake" in await olga.say("/reward")
    out = await olga.say("/stock cake on")
    if locale == "en":
        assert "cake cannot be turned on yet" in out
        for missing in ("Title (English)", "Title (Chinese)", "Description (English)",
                        "Description (Chinese)"):
            assert f"• {missing}" in out
        assert "/reward cake" in out
    else:
        assert "暂不能上架 cake" in out
        for missing in ("名称（英文）", "名称（中文）", "说明（英文）", "说明（中文）"):
            assert f"• {missing}" in out
    assert "cake" not in await alice.say("/rewards")
    for field, words in (("title", "Birthday cake | 生日蛋糕"),
                         ("description", "A slice | 一块蛋糕")):
        await olga.press(f"rwd:edit:cake:{field}")
        await olga.say(words)
        await olga.press("rwd:save")
    assert ("stock unlimited, on sale." if locale == "en" else "库存 不限，已上架。") in \
        await olga.say("/stock cake on")
    out = await alice.say("/rewards")
    assert "生日蛋糕" in out and "/ cake" not in out and "cake —" not in out


def test_no_stray_spaces_in_chinese_around_chinese_words():
    """Chinese runs on without spaces; a reward's or tier's name is Chinese in Chinese
    text, so a space beside it, or before a Chinese mark, is a stray one."""
    han = "\u4e00-\u9fff"
    named = r"\{(title|reward|tier|field)\}"
    stray = re.compile(rf"[{han}] {named}|{named} [{han}]| [，。：；！？、）」』]")
    for message in i18n.catalog("zh_Hans"):
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in texts:
            assert not stray.search(text or ""), (message.id, text)


@pytest.mark.parametrize(("locale", "words"), [
    ("en", {"list": "Member 00000002 tags: spaced tag, vip, 标签",
            "after": "Member 00000002 tags: vip",
            "quote": "A quote is not closed: add the closing ”",
            "char": "“not/a/tag” cannot be a tag because of “/”: a tag has letters, digits, "
                    "spaces, - and _. Nothing was changed.",
            "dash": "“-x” cannot be a tag: a tag cannot start with -",
            "long": "is too long for a tag: 40 characters, and a tag has at most 32."}),
    ("zh_Hans", {"list": "会员 00000002 的标签：spaced tag, vip, 标签",
                 "after": "会员 00000002 的标签：vip",
                 "quote": "引号没有闭合：请补上 ”",
                 "char": "“not/a/tag”不能作为标签，因为含有“/”："
                         "标签只能包含文字、数字、空格、- 和 _。未做任何修改。",
                 "dash": "“-x”不能作为标签：标签不能以 - 开头",
                 "long": "太长：共 40 个字符，标签最多 32 个字符。"})])
async def test_tags_may_be_quoted_and_in_any_letters(db, programme, clock, locale, words):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    await member(db, programme, clock, user="ann").say("/start")
    assert words["list"] in await boss.say('/tag 00000002 "Spaced  Tag" 标签 ＶＩＰ')
    assert words["quote"] in await boss.say("/tag 2 “tea lover")
    assert words["char"] in await boss.say("/tag 2 not/a/tag vip2")
    assert words["dash"] in await boss.say("/tag 2 --x")
    assert words["long"] in await boss.say("/tag 2 " + "y" * 40)
    assert words["after"] in await boss.say('/tag 2 -"spaced tag" -标签')
    out = await boss.say("/audit")
    assert ("removed tags from member 00000002: spaced tag, 标签" if locale == "en"
            else "移除会员 00000002 的标签：spaced tag、标签") in out
    assert "vip2" not in out  # a line with a refused word changes nothing


def test_every_tag_refusal_has_its_sentence_in_both_languages():
    from pathlib import Path
    source = (Path(__file__).resolve().parents[2] / "domain" / "members" / "tags.py")
    codes = set(re.findall(r'TagRefused\("(\w+)"', source.read_text(encoding="utf-8")))
    assert {"tag_empty", "tag_control", "tag_dash", "tag_too_long", "tag_char",
            "tag_quote", "tag_separator"} <= codes
    for code in codes:
        for locale in i18n.LOCALES:
            assert i18n.has(f"tag.{code}", locale), code


@pytest.mark.parametrize(("locale", "words"), [
    ("en", {"hash": "Member 00000002 tags: hash, vip\n“#hash” is taken as “hash”: a leading "
                    "# only marks a tag.",
            "comma": "“a,b” cannot be a tag because of “,”: tags are separated by spaces",
            "absent": "Member 00000002 tags: vip\n“nonexistent” was not on member 00000002, "
                      "so there was nothing to take away."}),
    ("zh_Hans", {"hash": "会员 00000002 的标签：hash, vip\n“#hash”按“hash”处理：开头的 # "
                         "只是标签记号，不属于标签。",
                 "comma": "“a,b”不能作为标签，因为含有“,”：多个标签之间请用空格分隔",
                 "absent": "会员 00000002 的标签：vip\n会员 00000002 没有标签“nonexistent”，"
                           "无需移除。"})])
async def test_a_hashtag_is_said_to_be_a_tag_and_a_missing_tag_is_named(db, programme, clock,
                                                                       locale, words):
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    await member(db, programme, clock, user="ann").say("/start")
    assert words["hash"] in await boss.say("/tag 2 #hash vip")
    out = await boss.say("/tag 2 a,b")
    assert words["comma"] in out and ("Nothing was changed" in out or "未做任何修改" in out)
    out = await boss.say("/tag 2 -nonexistent -#hash")  # -#hash takes hash away
    assert words["absent"] in out
    assert "hash" not in out.split("\n")[0]
    # Nothing to note: the plain list alone. The usage says the rule for #.
    assert (await boss.say("/tag 2")).strip().count("\n") == 0
    assert ("#vip is the tag vip" if locale == "en" else "#vip 即标签 vip") in await boss.say(
        "/tag")


@pytest.mark.parametrize(("locale", "already"), [
    ("en", "Nothing changed: Porcelain gaiwan already has stock 3, off sale"),
    ("zh_Hans", "未作更改：瓷盖碗本来就是库存 3，已下架")])
async def test_stock_set_to_what_it_already_is_changes_and_logs_nothing(
        db, programme, clock, locale, already):
    olga = await owner(db, programme, clock, locale=locale)
    await olga.say("/stock gaiwan 3")
    await olga.say("/stock gaiwan off")
    async with db.uow() as uow:
        logged = await audit.count(uow)
    for again in ("/stock gaiwan off", "/stock gaiwan 3"):
        assert already in await olga.say(again)
    async with db.uow() as uow:
        assert await audit.count(uow) == logged  # no audit row for a no-op
    assert already not in await olga.say("/stock gaiwan on")  # a real change still is one
    async with db.uow() as uow:
        assert await audit.count(uow) == logged + 1


def test_chinese_typography_in_the_bonus_notice_and_the_audit_zone():
    """No space between a date and 前; a Chinese comma inside the audit's zone."""
    notice = i18n.translate(Text("campaign.message_bonus", {
        "body": "春茶", "until": "2026年12月8日", "times": 2}), "zh_Hans")
    assert notice.endswith("✨ 2026年12月8日前消费可获得 2 倍积分。"), notice
    for key, text in i18n.catalog_texts("zh_Hans").items():
        assert "} 前" not in text, key
    zone = audit_words.zone(SimpleNamespace(programme=SimpleNamespace(
        zone=ZoneInfo("Asia/Shanghai")), now=datetime(2026, 3, 1, tzinfo=UTC)))
    assert i18n.translate(zone, "zh_Hans") == "Asia/Shanghai，UTC+8"
    assert i18n.translate(zone, "en") == "Asia/Shanghai, UTC+8"
