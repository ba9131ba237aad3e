"""The first hour (issue 14), what a new-user trial on Telegram and WeChat found in the
conversations: an expired button in the middle of a flow, skipping on Telegram's phone
step, refusals in the member's chosen language, cancel and skip words typed at any
step, commands named by a word, a newcomer's first "1", a late No, /language by name,
the multiplier's question, birthdays typed without separators. In both languages."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from domain.campaigns.tables import Campaign
from domain.conversations.tables import Conversation
from domain.members.tables import Member as MemberRow
from domain.points import purchases
from domain.points.tables import Purchase
from domain.rewards.tables import Redemption
from handlers.engine.engine import MAX_TEXT
from handlers.engine.types import Inbound
from tests.support import crowd
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Shanghai


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def pick(locale: str, en: str, zh: str) -> str:
    return en if locale == "en" else zh


async def offered(db, user: str, platform: str = "console") -> list[str]:
    async with db.uow() as uow:
        found = await uow.session.get(Conversation, (platform, user))
        return list(found.options) if found is not None else []


async def waiting(db, user: str, platform: str = "console") -> str | None:
    async with db.uow() as uow:
        found = await uow.session.get(Conversation, (platform, user))
        return found.state if found is not None else None


async def count(db, table) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(table))


async def the_member(db, member_id: int = 1) -> SimpleNamespace:
    """The fields these tests look at, read while the session is open."""
    async with db.uow() as uow:
        found = await uow.session.get(MemberRow, member_id)
        assert found is not None
        return SimpleNamespace(**{name: getattr(found, name) for name in (
            "display_name", "phone", "birth_month", "birth_day", "birth_year", "locale")})


class Telegram:
    """A Telegram private chat as the gateway hands it to the engine: it can offer the
    share-my-number keyboard, and says the user's app language."""

    def __init__(self, chat, user: str, locale: str) -> None:
        self.engine, self.user, self.locale = chat.chat.engine, user, locale

    async def send(self, text: str = "", action: str | None = None) -> str:
        answer = await self.engine.handle(Inbound(
            platform="telegram", user_id=self.user, chat_id=self.user, text=text,
            action=action, locale=self.locale, shares_contact=True))
        return "\n\n".join(r.text for r in answer.rendered())


# ------------------------------------------------------------------ 1. expired buttons


async def boss(db, programme, clock, locale: str):
    """The owner (member 1) in the console, and 6 members who may be messaged."""
    chat = await owner(db, programme, clock, user="boss", locale=locale)
    await crowd.plain(db, 4, clock.now, first_id=2, tier="gold", locale="en")
    await crowd.plain(db, 2, clock.now, first_id=6, tier="silver", locale="zh_Hans")
    return chat


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_an_expired_button_at_the_campaign_preview_keeps_the_draft(db, programme, clock,
                                                                        locale):
    me = await boss(db, programme, clock, locale)
    await me.say("/campaign")
    await me.say("12")  # everyone
    await me.say("Hello")
    await me.say("1")  # the same text for all
    await me.say("1")  # no offer
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    out = await me.say("1")  # now: the preview and the confirmation
    assert pick(locale, "Ready to send:", "准备发送：") in out
    shown = await offered(db, "boss")
    assert shown[0] == "cnew:ok"
    for old in ("cnew:offer:none", "cnew:holdout:5", "cnew:ab:one", "profile:consent:yes"):
        assert pick(locale, "This button has expired", "这个按钮已失效") in await me.press(old)
        assert await offered(db, "boss") == shown and await waiting(db, "boss") == \
            "campaign.confirm"
    out = await me.press("cnew:ok")
    assert pick(locale, "Campaign #1", "活动 #1") in out
    assert await count(db, Campaign) == 1


@pytest.mark.parametrize(("locale", "expired", "saved", "consent"), [
    ("en", "This button has expired", "Birthday saved.", "May we send you offers"),
    ("zh_Hans", "这个按钮已失效", "生日已保存", "是否愿意接收"),
])
async def test_an_expired_button_while_the_profile_waits_for_a_birthday(db, programme, clock,
                                                                       locale, expired, saved,
                                                                       consent):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/profile")
    await alice.say("3")  # [3] Birthday
    assert await waiting(db, "alice") == "profile.birthday"
    assert expired in await alice.press("profile:consent:yes")  # an older message's
    assert expired in await alice.press("nonsense:1")
    assert await waiting(db, "alice") == "profile.birthday"
    out = await alice.say("03-14")
    assert saved in out and "didn't understand" not in out and consent not in out
    assert (await the_member(db)).birth_day == 14


@pytest.mark.parametrize(("locale", "confirm", "done"), [
    ("en", "Record a purchase of ¥128.50 for member 00000002?", "Recorded"),
    ("zh_Hans", "为会员 00000002 记录消费 ¥128.50？", "已记录"),
])
async def test_an_expired_button_at_the_purchase_confirmation_keeps_it(db, programme, clock,
                                                                      locale, confirm, done):
    olga = await owner(db, programme, clock, locale=locale)
    await crowd.plain(db, 1, clock.now, first_id=2)
    assert confirm in await olga.say("/purchase 00000002 128.50")
    await olga.press("rewards:page:x")  # a page button of an older list: expired
    await olga.press("nonsense")
    assert done in await olga.say(pick(locale, "yes", "是"))
    assert await count(db, Purchase) == 1


# ------------------------------------------------------------------ 2. phone skip on Telegram


@pytest.mark.parametrize(("locale", "prompt", "skip", "birthday", "consent", "summary"), [
    ("en", "To leave it out, type skip.", "skip", "When is your birthday?", "May we send you",
     "Phone: not set"),
    ("zh_Hans", "不想填写请回复“跳过”。", "跳过", "您的生日是哪天？", "是否愿意接收",
     "电话：未填写"),
])
async def test_telegram_phone_step_can_be_skipped_by_typing(db, programme, clock, locale,
                                                           prompt, skip, birthday, consent,
                                                           summary):
    tg = Telegram(member(db, programme, clock), "7001", locale)
    await tg.send("/profile")
    await tg.send(action="profile:walk")
    out = await tg.send(skip)  # skip the name too, by word
    assert prompt in out
    assert "contact:request" in await offered(db, "7001", "telegram")
    out = await tg.send(skip)
    assert birthday in out and "+" not in out.split(birthday)[0][-3:]
    assert consent in await tg.send("0314")
    out = await tg.send(skip)  # at the consent question too: its Skip
    assert summary in out
    got = await the_member(db)
    assert got.phone is None and got.display_name in (None, "") and got.birth_month == 3


async def test_the_phone_question_elsewhere_keeps_its_skip_button(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    await wang.say("2")  # [2] Phone
    out = await wang.say("跳过")
    assert "电话号码只能包含数字" not in out and "电话：未填写" in out


# ------------------------------------------------------------------ 3. the chosen language


async def test_refusals_before_the_batch_speak_the_chosen_language(db, programme, clock):
    tg = Telegram(member(db, programme, clock), "7002", "en")  # an English phone
    assert "简体中文" in await tg.send("/language zh")
    assert "消息太长了" in await tg.send("x" * (MAX_TEXT + 1))
    assert "这个按钮已失效" in await tg.send(action="x" * 500)
    stranger = Telegram(member(db, programme, clock), "7003", "en")
    assert "too long" in await stranger.send("x" * (MAX_TEXT + 1))  # nobody yet: the hint
    assert await count(db, MemberRow) == 1


# ------------------------------------------------------------------ 4. cancel and skip words


@pytest.mark.parametrize(("locale", "word", "cancelled"), [
    ("en", "cancel", "Cancelled"), ("en", "Cancel!", "Cancelled"),
    ("zh_Hans", "取消", "已取消"), ("zh_Hans", "算了", "已取消"),
])
async def test_cancel_words_leave_the_profile_and_are_not_saved(db, programme, clock, locale,
                                                               word, cancelled):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/profile")
    await alice.say("1")  # [1] Name
    assert cancelled in await alice.say(word)
    assert await waiting(db, "alice") is None
    assert (await the_member(db)).display_name in (None, "")


@pytest.mark.parametrize(("locale", "word", "next_question"), [
    ("en", "skip", "What is your phone number?"), ("en", "Skip.", "What is your phone number?"),
    ("zh_Hans", "跳过", "请输入您的电话号码"), ("zh_Hans", "跳过！", "请输入您的电话号码"),
])
async def test_skip_words_skip_the_name_and_are_not_saved(db, programme, clock, locale, word,
                                                         next_question):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/profile")
    await alice.say(pick(locale, "5", "5"))  # Fill in missing
    assert next_question in await alice.say(word)
    assert (await the_member(db)).display_name in (None, "")


@pytest.mark.parametrize(("locale", "word", "cancelled"), [
    ("en", "cancel", "Cancelled"), ("zh_Hans", "取消", "已取消"), ("zh_Hans", "算了", "已取消"),
])
async def test_cancel_words_leave_purchase_at_the_member_step(db, programme, clock, locale,
                                                              word, cancelled):
    olga = await owner(db, programme, clock, locale=locale)
    await olga.say("/purchase")
    out = await olga.say(word)
    assert cancelled in out and "会员号" not in out and "member number" not in out
    assert await waiting(db, "olga") is None


async def test_a_typed_no_at_a_confirmation_is_still_its_no(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await crowd.plain(db, 1, clock.now, first_id=2)
    await olga.say("/purchase 00000002 10")
    assert "已取消，未记录任何消费。" in await olga.say("取消")  # the flow's own No
    assert await count(db, Purchase) == 0


# ------------------------------------------------------------------ 5. words that name commands


@pytest.mark.parametrize(("word", "expected"), [
    ("签到", "签到成功"), ("积分", "积分余额"), ("帮助", "/checkin"), ("会员卡", "会员号"),
    ("等级", "您的等级"), ("兑换", "积分商城"), ("礼品", "积分商城"), ("邀请", "邀请"),
    ("优惠券", "优惠券"), ("资料", "姓名："), ("语言", "请选择语言"),
    ("／checkin", "签到成功"), ("/ points", "积分余额"), ("/签到", "签到成功"),
])
async def test_chinese_words_run_their_commands(db, programme, clock, word, expected):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/start")
    out = await wang.say(word)
    assert expected in out, out
    assert "没有看懂" not in out and "不认识命令" not in out


@pytest.mark.parametrize(("word", "expected"), [
    ("points", "Points balance"), ("check in", "Checked in"), ("Check-in!", "Checked in"),
    ("help", "/checkin"), ("card", "Member number"), ("tier", "Your tier"),
    ("rewards", "Rewards — your balance"), ("coupons", "coupon"), ("invite", "invite"),
    ("profile", "Name:"), ("language", "Choose your language"), ("／ｃｈｅｃｋｉｎ", "Checked in"),
])
async def test_english_words_run_their_commands(db, programme, clock, word, expected):
    alice = member(db, programme, clock)
    await alice.say("/start")
    out = await alice.say(word)
    assert expected.lower() in out.lower(), out
    assert "didn't understand" not in out


async def test_a_command_word_typed_into_a_flow_is_its_answer(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("1")  # [1] Name
    assert "Name saved." in await alice.say("Points")
    assert (await the_member(db)).display_name == "Points"


# ------------------------------------------------------------------ 6. a newcomer's first "1"


@pytest.mark.parametrize(("locale", "welcome", "nothing"), [
    ("en", "Welcome to Tea House Club!", "nothing to choose"),
    ("zh_Hans", "欢迎加入茶馆会员俱乐部", "没有可选的选项"),
])
async def test_a_newcomers_first_number_gets_the_welcome_alone(db, programme, clock, locale,
                                                               welcome, nothing):
    bob = member(db, programme, clock, user="bob", locale=locale)
    out = await bob.say("1")
    assert welcome in out and nothing not in out
    assert len(await offered(db, "bob")) == 7  # the card's buttons answer the next number
    assert pick(locale, "Checked in", "签到成功") in await bob.say("1")


# ------------------------------------------------------------------ 7. a late No


@pytest.mark.parametrize(("locale", "late", "cancelled"), [
    ("en", "was already redeemed with this confirmation", "OK, nothing was redeemed."),
    ("zh_Hans", "已经兑换成功，无需取消", "好的，未兑换任何礼品。"),
])
async def test_a_no_after_the_yes_redeemed_says_so(db, programme, clock, locale, late,
                                                   cancelled):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    async with db.uow() as uow:
        await purchases.record(uow, programme, 1, purchases.Order("A-1", 30_000, "CNY"),
                               clock.now)
        await uow.commit()
    await alice.say("/rewards")
    await alice.say("1")  # ¥10 off: the confirmation
    yes, no = await offered(db, "alice")
    answer = await alice.chat.engine.handle(Inbound(
        platform="console", user_id="alice", chat_id="alice", action=yes, locale=locale))
    first = answer.rendered()[0]
    assert first.edit and not first.buttons  # the confirmation's buttons are taken away
    out = await alice.press(no)
    assert late in out and cancelled not in out
    assert await count(db, Redemption) == 1
    await alice.say("/rewards")
    await alice.say("1")
    yes, no = await offered(db, "alice")
    answer = await alice.chat.engine.handle(Inbound(
        platform="console", user_id="alice", chat_id="alice", action=no, locale=locale))
    [said] = answer.rendered()
    assert said.text == cancelled and said.edit
    assert await count(db, Redemption) == 1


async def test_a_purchase_answer_takes_the_confirmations_place(db, programme, clock):
    olga = await owner(db, programme, clock)
    await crowd.plain(db, 2, clock.now, first_id=2)
    for target, pressed, key in (("00000002", 0, "purchase.done"),
                                 ("00000003", 1, "purchase.cancelled")):
        await olga.say(f"/purchase {target} 10")
        action = (await offered(db, "olga"))[pressed]
        answer = await olga.chat.engine.handle(Inbound(
            platform="console", user_id="olga", chat_id="olga", action=action, locale="en"))
        [said] = answer.rendered()
        assert said.key == key and said.edit and not said.buttons
    assert await count(db, Purchase) == 1


@pytest.mark.parametrize(("locale", "words"), [
    ("en", "was already recorded with this confirmation"), ("zh_Hans", "已按这次确认记录")])
async def test_a_late_no_after_the_purchase_was_recorded_says_so(db, programme, clock, locale,
                                                                 words):
    """On WeChat the confirmation cannot be taken away, so its No may come after its Yes."""
    olga = await owner(db, programme, clock, locale=locale)
    await crowd.plain(db, 1, clock.now, first_id=2)
    await olga.say("/purchase 00000002 10")
    yes, no = await offered(db, "olga")
    await olga.press(yes)
    late = await olga.press(no)
    assert words in late and "nothing was recorded" not in late
    assert await count(db, Purchase) == 1
    await olga.say("/purchase 00000002 10")  # a No in time records nothing
    _, no = await offered(db, "olga")
    assert pick(locale, "nothing was recorded", "未记录任何消费") in await olga.press(no)
    assert await count(db, Purchase) == 1


async def test_an_old_plain_no_button_still_declines(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert "OK, nothing was redeemed." in await alice.press("rewards:no")


# ------------------------------------------------------------------ 8. /language by name


@pytest.mark.parametrize(("typed", "locale"), [
    ("中文", "zh_Hans"), ("简体中文", "zh_Hans"), ("Chinese", "zh_Hans"), ("zh", "zh_Hans"),
    ("汉语", "zh_Hans"), ("英文", "en"), ("English", "en"), ("en", "en"), ("英语", "en"),
])
async def test_language_by_its_name_or_code(db, programme, clock, typed, locale):
    start = "zh_Hans" if locale == "en" else "en"
    alice = member(db, programme, clock, locale=start)
    out = await alice.say(f"/language {typed}")
    assert pick(locale, "Language set to English.", "语言已切换为简体中文。") in out, out
    assert (await the_member(db)).locale == locale


async def test_an_unknown_language_still_offers_the_two(db, programme, clock):
    alice = member(db, programme, clock)
    assert "I speak English and Simplified Chinese" in await alice.say("/language Klingon")


# ------------------------------------------------------------------ 9. the multiplier's question


@pytest.mark.parametrize(("locale", "question", "options"), [
    ("en", "How many times the usual points should purchases earn?",
     "[1] 1.5× points  [2] 2× points  [3] 3× points"),
    ("zh_Hans", "活动期间消费积分按平时的几倍计算？", "[1] 1.5 倍积分  [2] 2 倍积分  [3] 3 倍积分"),
])
async def test_the_multiplier_question_matches_its_options(db, programme, clock, locale,
                                                          question, options):
    me = await boss(db, programme, clock, locale)
    await me.say("/campaign")
    await me.say("12")
    await me.say("Hello")
    await me.say("1")  # the same text for all
    out = await me.say("3")  # points multiplier
    assert question in out and options in out


# ------------------------------------------------------------------ 10. compact birthdays


@pytest.mark.parametrize(("typed", "month", "day", "year"), [
    ("0314", 3, 14, None), ("1203", 12, 3, None), ("１２０３", 12, 3, None),
    ("19900314", 3, 14, 1990),
])
async def test_a_birthday_without_separators(db, programme, clock, typed, month, day, year):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    await wang.say("3")  # [3] Birthday
    assert "生日已保存" in await wang.say(typed)
    got = await the_member(db)
    assert (got.birth_month, got.birth_day, got.birth_year) == (month, day, year)


@pytest.mark.parametrize(("typed", "refusal"), [
    ("1990", "could not read"), ("0231", "does not exist"), ("2012", "could not read"),
])
async def test_digits_that_are_no_birthday_are_refused(db, programme, clock, typed, refusal):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("3")
    assert refusal in await alice.say(typed)
    assert (await the_member(db)).birth_month is None
