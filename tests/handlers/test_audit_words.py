"""/audit reads as sentences in the reader's language: who did what to what, never the
log's own keys (`tag.add`, `member:00000002`, `settings`, `role owner`, `kind gift`).
And roles are named alike in /help, /grant and the log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.staff import audit, roles
from tests.support.transcript import Clock, member, owner


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 11, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai


RAW = ("tag.add", "tag.remove", "role.grant", "role.revoke", "reward.stock", "reward.create",
       "purchase.record", "purchase.refund", "coupon.verify", "campaign.", "job.",
       "member:", "campaign:", "api:", "09:00 settings ")


async def logged(db, programme, clock, locale: str) -> str:
    """The log after one of every kind of entry, as the owner reads it (two pages)."""
    boss = await owner(db, programme, clock, user="boss", locale=locale)  # settings: owner
    await member(db, programme, clock, user="ann").say("/start")  # member 2
    await boss.say('/tag 2 vip "tea lover"')
    await boss.say("/tag 2 -vip")
    await boss.say("/grant staff 2")
    await boss.say("/revoke staff 2")
    await boss.say("/stock gaiwan off")
    await boss.say("/reward new cake gift 10")
    async with db.uow() as uow:
        for actor, action, target, params in (
                ("member:00000001", "purchase.record", "P-1",
                 {"member": "00000002", "amount": 12_850}),
                ("api", "purchase.refund", "P-1", {}),
                ("api:till-3", "coupon.verify", "ABCD-EFGH",
                 {"reward": "free_pot", "member": "00000002"}),
                ("member:00000001", "job.pause", "birthdays", {}),
                ("member:00000001", "campaign.create", "campaign:1", {
                    "segment": {"locales": ["zh_Hans"]}, "variants": 1,
                    "languages": ["en", "zh_Hans"], "split": 100, "holdout": 10,
                    "coupon": "ten_off", "bonus": None, "send_at": clock.now.isoformat()}),
                ("member:00000001", "campaign.pause", "campaign:1", {"status": "paused"})):
            await audit.record(uow, actor, action, target, params, clock.now)
        await uow.commit()
    return await boss.say("/audit") + "\n" + await boss.press("audit:page:2")


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", [
        "09:00 the settings (MEMBERBOT_OWNER) gave member 00000001 the role owner",
        "09:00 member 00000001 tagged member 00000002: vip, tea lover",
        "09:00 member 00000001 removed tags from member 00000002: vip",
        "09:00 member 00000001 gave member 00000002 the role staff",
        "09:00 member 00000001 took the role staff from member 00000002",
        "09:00 member 00000001 set the stock of reward gaiwan: status off",
        "09:00 member 00000001 added reward cake: cost 10 points; kind ",
        "09:00 member 00000001 recorded purchase P-1: amount ¥128.50; member 00000002",
        "09:00 the purchases API refunded order P-1",
        "09:00 the purchases API (till till-3) used coupon ABCD-EFGH: member 00000002; "
        "reward A free pot of tea",
        "09:00 member 00000001 paused the job “Birthday gifts”",
        "09:00 member 00000001 created campaign #1: coupon ¥10 off; holdout 10%; "
        "languages English, Chinese; segment (languages Chinese)",
        "09:00 member 00000001 paused campaign #1: status paused"]),
    ("zh_Hans", [
        "09:00 启动设置 授予会员 00000001 店主角色",
        "09:00 会员 00000001 为会员 00000002 添加标签：vip、tea lover",
        "09:00 会员 00000001 移除会员 00000002 的标签：vip",
        "09:00 会员 00000001 授予会员 00000002 店员角色",
        "09:00 会员 00000001 撤销会员 00000002 的店员角色",
        "09:00 会员 00000001 设置礼品 gaiwan 的库存：状态 已下架",
        "09:00 会员 00000001 新增礼品 cake：所需积分 10；类型 礼品",
        "09:00 会员 00000001 登记消费（订单 P-1）：金额 ¥128.50；会员 00000002",
        "09:00 消费接口 订单 P-1 退款",
        "09:00 消费接口（收银台 till-3） 核销优惠券 ABCD-EFGH：会员 00000002；礼品 免费一壶茶",
        "09:00 会员 00000001 暂停定时任务“生日礼物”",
        "09:00 会员 00000001 创建营销活动 #1：优惠券 立减10元；对照组 10%；"
        "语言 英语、中文；",
        "09:00 会员 00000001 暂停营销活动 #1：状态 已暂停"])])
async def test_every_action_reads_as_a_sentence(db, programme, clock, locale, wanted):
    out = await logged(db, programme, clock, locale)
    for line in wanted:
        assert line in out, out
    for raw in RAW:
        assert raw not in out, (raw, out)
    assert "gift" not in out.split("added reward cake")[-1].split("\n")[0]  # kind, in words
    assert "variants" not in out and "split" not in out  # one message: no A/B to speak of


async def test_what_the_log_has_no_words_for_is_shown_as_recorded(db, programme, clock):
    boss = await owner(db, programme, clock, user="boss")
    async with db.uow() as uow:
        await audit.record(uow, "robot", "weird.thing", "x-1", {"colour": "blue"}, clock.now)
        await uow.commit()
    assert "09:00 robot weird.thing x-1: colour blue" in await boss.say("/audit")


@pytest.mark.parametrize(("locale", "typed", "done", "heading"), [
    ("en", "staff", "Member 00000002 now has the role staff.", "Staff:"),
    ("zh_Hans", "店员", "已授予会员 00000002 店员角色。", "店员："),
    ("zh_Hans", "staff", "已授予会员 00000002 店员角色。", "店员：")])
async def test_a_role_is_granted_by_the_name_the_help_shows(db, programme, clock, locale,
                                                            typed, done, heading):
    """The help's role headings carry no codes, so /grant takes a role by its name in
    either language as well as by its code."""
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    ann = member(db, programme, clock, user="ann", locale=locale)
    await ann.say("/start")
    assert done in await boss.say(f"/grant {typed} 00000002")
    async with db.uow() as uow:
        assert "staff" in await roles.held(uow, 2)
    help_text = await ann.say("/help")
    assert heading in help_text and "（staff）" not in help_text and "(staff)" not in help_text


async def test_role_refusals_name_roles_in_chinese(db, programme, clock):
    boss = await owner(db, programme, clock, user="boss", locale="zh_Hans")
    await member(db, programme, clock, user="ann").say("/start")
    usage = await boss.say("/grant")
    assert "角色：管理员、运营、店员、版主" in usage and "operator" not in usage
    assert "没有“巫师”这个角色。可用角色：管理员、运营、店员、版主。" in await boss.say(
        "/grant 巫师 2")
    assert "会员 00000002 没有版主角色。" in await boss.say("/revoke 版主 2")


@pytest.mark.parametrize(("locale", "wanted", "unwanted"), [
    ("en", ["added reward pct: cost 100 points; kind ", "; value 15%",
            "edited reward ten_off: start date open → 2027-01-01",
            "edited reward ten_off: limit per member 5 → no limit",
            "created campaign #2: holdout 0%; languages English; segment everyone",
            "removed tags from member 00000002: vip, tea lover"],
     ["value 0", "ends", "bonus", "coupon none", "segment none", "value 15;"]),
    ("zh_Hans", ["新增礼品 pct：所需积分 100；类型 ", "；面值 15%",
                 "修改礼品 ten_off：开始日期 不限 → 2027-01-01",
                 "修改礼品 ten_off：每人限兑 5 → 不限",
                 "创建营销活动 #2：对照组 0%；语言 英语；人群 所有会员",
                 "移除会员 00000002 的标签：vip、tea lover"],
     ["面值 0", "结束日期", "积分加成", "优惠券 无", "人群 无", "vip, tea"])])
async def test_the_log_says_only_what_changed_in_the_cards_words(
        db, programme, clock, locale, wanted, unwanted):
    """Fields an edit left alone are not listed; a percent is a percent; an item with no
    value has no value line; a campaign for everyone says so and leaves out the bonus
    and coupon it has not got; no limit reads as the item card says; lists use each
    language's own comma."""
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    await member(db, programme, clock, user="ann").say("/start")  # member 2
    await boss.say("/reward new pct percent_off 100 15")
    await boss.say("/reward new mug free_item 50")
    await boss.say('/tag 2 -vip "-tea lover"')
    async with db.uow() as uow:
        for actor, action, target, params in (
                ("member:00000001", "reward.edit", "ten_off", {
                    "before": {"starts": None, "ends": None},
                    "after": {"starts": "2027-01-01", "ends": None}}),
                ("member:00000001", "reward.edit", "ten_off", {
                    "before": {"per_member": 5}, "after": {"per_member": None}}),
                ("member:00000001", "tag.remove", "member:00000002",
                 {"tags": ["vip", "tea lover"]}),
                ("member:00000001", "campaign.create", "campaign:2", {
                    "segment": {}, "variants": 1, "languages": ["en"], "split": 100,
                    "holdout": 0, "coupon": None, "bonus": None,
                    "send_at": clock.now.isoformat()})):
            await audit.record(uow, actor, action, target, params, clock.now)
        await uow.commit()
    out = await boss.say("/audit") + "\n" + await boss.press("audit:page:2")
    for line in wanted:
        assert line in out, out
    mug = out.split("mug")[1].split("\n")[0]
    assert "value" not in mug and "面值" not in mug, mug  # a free item has no value
    for bad in unwanted:
        assert bad not in out, (bad, out)


@pytest.mark.parametrize(("locale", "wanted", "unwanted"), [
    ("en", ["edited reward cake: title (Chinese) cake → 一块蛋糕",
            "edited reward cake: description (English) not set → A slice",
            "edited reward cake: value not set → ¥12.50",
            "created campaign #3: bonus ×2; for 7 days; holdout 0%; "
            "languages one text for every language",
            "times in Asia/Shanghai, UTC+8)"],
     ["title cake → cake", "¥0.00", "languages none", "(English) cake"]),
    ("zh_Hans", ["修改礼品 cake：名称（中文） cake → 一块蛋糕",
                 "修改礼品 cake：说明（英文） 未设置 → A slice",
                 "修改礼品 cake：面值 未设置 → ¥12.50",
                 "创建营销活动 #3：积分加成 ×2；持续 7 天；对照组 0%；语言 所有语言同一文本",
                 "时区：Asia/Shanghai，UTC+8"],
     ["一块蛋糕 → 一块蛋糕", "¥0.00", "语言 无", "UTC+8, ", "Shanghai, UTC"])])
async def test_the_log_names_the_language_an_edit_changed(db, programme, clock, locale,
                                                          wanted, unwanted):
    """A wording edit in one language shows in both readers' logs, named and with that
    language's words; an unpriced gift reads "not set"; one text for all languages and a
    bonus's days are said in words; the zone uses each language's comma."""
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    await boss.say("/reward new cake gift 10")
    async with db.uow() as uow:
        for action, target, params in (
                ("reward.edit", "cake", {
                    "before": {"title": {"en": "cake", "zh_Hans": "cake"}},
                    "after": {"title": {"en": "cake", "zh_Hans": "一块蛋糕"}}}),
                ("reward.edit", "cake", {
                    "before": {"description": None},
                    "after": {"description": {"en": "A slice", "zh_Hans": ""}}}),
                ("reward.edit", "cake", {"before": {"value": 0}, "after": {"value": 1250}}),
                ("campaign.create", "campaign:3", {
                    "segment": {}, "variants": 1, "languages": [], "split": 100,
                    "holdout": 0, "coupon": None, "bonus": 100, "days": 7,
                    "send_at": clock.now.isoformat()})):
            await audit.record(uow, "member:00000001", action, target, params, clock.now)
        await uow.commit()
    out = await boss.say("/audit")
    for line in wanted:
        assert line in out, out
    for bad in unwanted:
        assert bad not in out, (bad, out)
