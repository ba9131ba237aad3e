"""Findings of the newcomers trial: a log chat must be the setter's own too, a welcome
stays one message, {count} is the chat's count after a captcha and in the preview,
/captcha off lets waiting newcomers in, and /setwarnmode and /setflood say what is
wrong with what was typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.community import captchas, group_settings
from handlers.community.moderation import newcomers
from handlers.community.moderation.events import ChatActionError, Person
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    PLATFORM,
    TEA_ID,
    FakeGroupChat,
    Group,
    audited,
    moderation_for,
)
from tests.support.transcript import Clock

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
LOUNGE_ID = "-1001000000001"  # a gated group whose admins are not Tea Lovers' admins
MAL = Person("1010", "Mal Owner", "mal")


class CountedChat(FakeGroupChat):
    """A chat that can tell its member count (newcomers.Counted), as Telegram's can."""

    members = 120

    async def member_count(self) -> int:
        self._act("member_count")
        return self.members


class Chats(dict):
    """Every chat by id, as the platform's side reaches any (a private one included)."""

    def __missing__(self, chat_id: str) -> FakeGroupChat:
        self[chat_id] = FakeGroupChat(chat_id=chat_id, admin_ids=set())
        return self[chat_id]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def chat() -> CountedChat:
    return CountedChat()


@pytest.fixture
def lounge() -> FakeGroupChat:
    return FakeGroupChat(chat_id=LOUNGE_ID, admin_ids={"9001"})


@pytest.fixture
def group(db, programme, clock, chat, lounge) -> Group:
    return Group(moderation_for(db, programme, clock,
                                Chats({TEA_ID: chat, LOUNGE_ID: lounge})), chat)


async def settle(db, **changes) -> None:
    async with db.uow() as uow:
        await group_settings.change(uow, PLATFORM, TEA_ID, "test", T0, **changes)
        await uow.commit()


async def rules_of(db):
    async with db.uow() as uow:
        return await group_settings.read(uow, PLATFORM, TEA_ID)


async def captcha_status(db, person: Person) -> str | None:
    async with db.uow() as uow:
        row = await captchas.pending(uow, PLATFORM, TEA_ID, person.user_id)
        return None if row is None else row.status


# ------------------------------------------------------------------ /setlog (HIGH)


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_a_log_chat_the_setter_does_not_administer_is_refused(
        db, group, chat, lounge, locale):
    """Mal owns his group, not the Gold Lounge: his log (and his words) stay out of it."""
    chat.admin_ids.add(MAL.user_id)
    await settle(db, language=locale)
    said = await group.say(MAL, f"/setlog {LOUNGE_ID}")
    assert said.keys == ["moderation.log_not_admin_there"]
    assert LOUNGE_ID in said.text and ("admin" in said.text or "管理员" in said.text)
    assert lounge.posted == [] and said.elsewhere == []
    assert (await rules_of(db)).log_chat is None
    assert [a for _, a, _ in await audited(db)] == ["group.settings"]  # the language only
    said = await group.say(MAL, "/mute spam", reply_to=ANN)
    assert said.elsewhere == []  # nothing goes to the lounge


async def test_an_admin_of_both_chats_may_link_them(db, group, chat, lounge):
    lounge.admin_ids.add(BOSS.user_id)
    said = await group.say(BOSS, f"/setlog {LOUNGE_ID}")
    assert said.keys == ["moderation.log_set"]
    assert [r.key for _, r in lounge.posted] == ["moderation.log_hello"]
    assert (await rules_of(db)).log_chat == LOUNGE_ID


async def test_a_private_log_chat_is_only_the_setters_own(db, group, chat):
    said = await group.say(BOSS, f"/setlog {BOSS.user_id}")
    assert said.keys == ["moderation.log_set"]
    assert (await rules_of(db)).log_chat == BOSS.user_id
    await group.say(BOSS, "/setlog off")
    said = await group.say(BOSS, f"/setlog {ANN.user_id}")  # someone else's private chat
    assert said.keys == ["moderation.log_not_admin_there"]
    assert (await rules_of(db)).log_chat is None


async def test_a_chat_the_platform_cannot_show_is_refused(db, programme, clock, chat):
    class Unseen(FakeGroupChat):
        async def admins(self) -> frozenset[str]:
            raise ChatActionError("failed", "chat not found")

    group = Group(moderation_for(db, programme, clock, {
        TEA_ID: chat, LOUNGE_ID: Unseen(chat_id=LOUNGE_ID)}), chat)
    said = await group.say(BOSS, f"/setlog {LOUNGE_ID}")
    assert said.keys == ["moderation.log_not_admin_there"]
    assert (await rules_of(db)).log_chat is None


async def test_an_anonymous_admin_or_no_way_to_check_is_refused(db, programme, clock, chat):
    group = Group(moderation_for(db, programme, clock, {TEA_ID: chat}), chat)
    anonymous = Person(TEA_ID, "Tea Lovers")  # the group itself, as Telegram shows one
    chat.admin_ids.add(TEA_ID)  # as TelegramGroupChat.admins counts it
    said = await group.say(anonymous, f"/setlog {LOUNGE_ID}")
    assert said.keys == ["moderation.log_anonymous"]
    blind = Group(moderation_for(db, programme, clock), chat)  # no way to other chats
    said = await blind.say(BOSS, f"/setlog {LOUNGE_ID}")
    assert said.keys == ["moderation.log_unchecked"] and said.elsewhere == []
    assert (await rules_of(db)).log_chat is None


# ------------------------------------------------------------------ welcome length (HIGH)


LONG = Person("2005", "W" * 64 + " Long", "longname")


async def test_a_welcome_that_long_names_would_stretch_past_one_message_is_refused(
        db, group):
    await settle(db, language="en")
    said = await group.say(BOSS, "/setwelcome " + "{first} " * 500)
    assert said.keys == ["moderation.welcome.too_long_filled"]
    longest = 500 * 64 + 499  # each {first} a 64-character name, and the spaces between
    assert f"could run to {longest} characters" in said.text and "(4096)" in said.text
    assert (await rules_of(db)).welcome_text is None


async def test_a_filled_welcome_is_always_one_message(db, group, chat):
    """A welcome saved before the check (or near the limit) is cut, never split."""
    await settle(db, welcome_on=True, welcome_text="{first} " * 500)
    said = await group.join(LONG)
    (shown,) = said.replies
    assert newcomers.units(shown.text) <= newcomers.ONE_MESSAGE
    assert shown.text.endswith("…") and shown.text.startswith("W" * 64)


def test_clipping_counts_utf16_units_and_keeps_emoji_whole():
    text = "😀" * 3000  # two units each
    cut = newcomers.clipped(text, 4096)
    assert newcomers.units(cut) <= 4096 and cut == "😀" * 2047 + "…"
    assert newcomers.clipped("short", 4096) == "short"


async def test_a_welcome_near_the_limit_is_still_accepted(db, group):
    text = "x" * 3900 + " {first}"
    said = await group.say(BOSS, "/setwelcome " + text)
    assert said.keys == ["moderation.welcome.saved", "moderation.welcome.custom"]


# ------------------------------------------------------------------ {count} (MEDIUM)


async def test_count_after_a_captcha_and_in_the_preview_is_the_chats(db, group, chat):
    await settle(db, language="en", captcha_on=True)
    said = await group.say(BOSS, "/setwelcome Hi {first}, you are #{count}.")
    assert said.replies[1].text == "Hi Bea, you are #120."
    await group.join(ANN)
    message_id, _ = chat.posted[-1]
    async with db.uow() as uow:
        right = (await captchas.pending(uow, PLATFORM, TEA_ID, ANN.user_id)).answer
    chat.members = 121
    said = await group.press(ANN, f"captcha:{right}", message_id)
    assert said.text == "Hi Ann, you are #121."


async def test_count_is_asked_only_when_the_welcome_shows_it(db, group, chat):
    await settle(db, language="en", captcha_on=True, welcome_on=True,
                 welcome_text="Hi {first}!")
    await group.join(ANN)
    message_id, _ = chat.posted[-1]
    async with db.uow() as uow:
        right = (await captchas.pending(uow, PLATFORM, TEA_ID, ANN.user_id)).answer
    said = await group.press(ANN, f"captcha:{right}", message_id)
    assert said.text == "Hi Ann!" and ("member_count",) not in chat.calls


async def test_a_count_the_platform_refuses_leaves_the_welcome_standing(db, group, chat):
    await settle(db, language="en")
    chat.refuse["member_count"] = "failed"
    said = await group.say(BOSS, "/setwelcome Hi {first}, you are #{count}.")
    assert said.replies[1].text == "Hi Bea, you are #?."


# ------------------------------------------------------------------ /captcha off (MEDIUM)


async def test_captcha_off_lets_waiting_newcomers_in(db, programme, group, chat, clock):
    await settle(db, language="en", captcha_on=True, captcha_minutes=1)
    await group.join(ANN)
    ann_message, _ = chat.posted[-1]
    await group.join(BEN)
    ben_message, _ = chat.posted[-1]
    await group.say(BOSS, "/mute", reply_to=BEN)  # an admin's mute outlasts the captcha
    chat.calls.clear()
    said = await group.say(BOSS, "/captcha off")
    assert said.keys == ["moderation.captcha.state_off", "moderation.captcha.released"]
    assert said.replies[1].text == "2 newcomers still waiting on a captcha were let in."
    assert chat.calls == [("unmute", ANN.user_id), ("delete", ann_message),
                          ("delete", ben_message)]
    assert await captcha_status(db, ANN) is None and await captcha_status(db, BEN) is None
    clock.advance(minutes=5)
    chat.calls.clear()
    assert await newcomers.expire_due(db, programme, PLATFORM, {TEA_ID: chat}.__getitem__,
                                      clock()) == 0
    assert chat.calls == []  # nobody is taken out
    said = await group.say(BOSS, "/captcha off")  # nobody waiting: nothing more said
    assert said.keys == ["moderation.captcha.state_off"]


async def test_captcha_off_in_chinese_counts_the_newcomers(db, group, chat):
    await settle(db, language="zh_Hans", captcha_on=True)
    await group.join(ANN)
    said = await group.say(BOSS, "/captcha off")
    assert said.replies[1].text == "仍在等待验证的 1 位新成员已放行。"


# ------------------------------------------------------------------ what was wrong (MEDIUM)


@pytest.mark.parametrize("typed", ["ban 1d", "tban 1d", "tmute 2h", "mute 1h", "kick 1h"])
async def test_a_warn_mode_with_a_length_says_it_takes_none(db, group, typed):
    await settle(db, language="en")
    said = await group.say(BOSS, f"/setwarnmode {typed}")
    assert said.keys == ["moderation.warnmode_no_length"]
    mode = {"tban": "ban", "tmute": "mute"}.get(typed.split()[0], typed.split()[0])
    assert said.text.startswith(f"“{typed}”: the warn mode takes no length.")
    assert f"/setwarnmode {mode} " in said.text
    assert (await rules_of(db)).warn_mode == "mute"


async def test_a_warn_mode_with_a_length_in_chinese(db, group):
    said = await group.say(BOSS, "/setwarnmode tban 1d")
    assert said.text.startswith("“tban 1d”：警告处罚不能设置时长。")
    assert "/setwarnmode ban，" in said.text


@pytest.mark.parametrize(("typed", "en", "zh"), [
    ("99999", "99999 is out of range: the limit must be from 3 to 100 messages in a row.",
     "99999 超出范围：连续消息条数须在 3 到 100 之间。"),
    ("2", "2 is out of range: the limit must be from 3 to 100 messages in a row.",
     "2 超出范围：连续消息条数须在 3 到 100 之间。"),
    ("9" * 5000, "9999999999999999… is out of range",
     "9999999999999999… 超出范围"),
    ("many", "“many” is not a number: write the limit from 3 to 100",
     "“many”不是数字：请写 3 到 100 之间的条数"),
    ("²", "“²” is not a number", "“²”不是数字"),
], ids=["too-many", "too-few", "huge", "words", "superscript"])
async def test_setflood_says_what_is_wrong_and_the_range(db, group, typed, en, zh):
    said = await group.say(BOSS, f"/setflood {typed}")
    assert said.keys[0] == "moderation.flood.usage"
    assert said.replies[1].text.startswith(zh)
    await settle(db, language="en")
    said = await group.say(BOSS, f"/setflood {typed}")
    assert said.replies[1].text.startswith(en)
    assert (await rules_of(db)).flood_limit == 0


async def test_a_full_width_flood_limit_is_a_number(db, group):
    said = await group.say(BOSS, "/setflood ５")
    assert said.keys == ["moderation.flood.on"]
    assert (await rules_of(db)).flood_limit == 5


def test_both_languages_have_every_new_sentence():
    from handlers.engine import i18n

    keys = ["moderation.log_not_admin_there", "moderation.log_anonymous",
            "moderation.log_unchecked", "moderation.warnmode_no_length",
            "moderation.flood.limit_range", "moderation.flood.limit_words",
            "moderation.welcome.too_long_filled", "moderation.captcha.released"]
    for locale in ("en", "zh_Hans"):
        catalog = i18n.catalog(locale)
        assert all(catalog.get(key) is not None for key in keys), locale

