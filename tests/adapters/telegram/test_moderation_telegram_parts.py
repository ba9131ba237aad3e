"""Moderation's Telegram parts, one at a time, through aiogram and python-telegram-bot
against the local Bot API server: the transport's chat actions and how Telegram's
refusals are worded for the handlers, the admin cache, group updates as GroupEvents,
and a group's replies kept within its 20 a minute."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.telegram.groups import (
    AdminCache,
    Outbox,
    TelegramGroupChat,
    button_event,
    message_events,
    refusal,
)
from bot.telegram.sender import Sender
from bot.telegram.transport import (
    ADMIN_RIGHTS,
    Rejected,
    TelegramFailure,
    Transport,
    Unreachable,
)
from handlers.community.moderation.events import (
    BUTTON,
    DELETE,
    JOINED,
    LEFT,
    MESSAGE,
    RESTRICT,
    SETTINGS,
    ChatActionError,
    Person,
)
from handlers.engine.types import Rendered, reply
from tests.adapters.telegram.test_telegram_sender import Recorder, VirtualTime
from tests.support.fake_telegram import aiogram_bot, ptb_bot

GROUP = -1001700
OWNER, ADMIN, ANN, BOB = 700, 701, 702, 703
SOON = datetime(2040, 1, 1, tzinfo=UTC)


@pytest.fixture
def group(api):
    api.group(GROUP, "Tea Talk")
    api.admin(GROUP)  # the bot: every right
    api.admin(GROUP, OWNER, owner=True)
    api.admin(GROUP, ADMIN)
    api.members[GROUP].update({ANN, BOB})
    return str(GROUP)


async def test_mute_ban_kick_and_delete_as_telegram_keeps_them(api, transport, group):
    chat = TelegramGroupChat(group, transport, Sender(transport, rate=1000), AdminCache(transport))
    await chat.mute(str(ANN), SOON)
    assert api.restricted_until[(GROUP, ANN)] == int(SOON.timestamp())
    assert not any(api.restrictions[(GROUP, ANN)].values())  # every permission off
    assert await transport.member_status(group, str(ANN)) == "restricted"
    await chat.unmute(str(ANN))
    assert (GROUP, ANN) not in api.restrictions
    assert await transport.member_status(group, str(ANN)) == "member"
    await chat.mute(str(ANN), None)
    assert api.restricted_until[(GROUP, ANN)] == 0  # until lifted
    (muted,) = [c for c in api.sent("restrictChatMember") if c.params["user_id"] == ANN][-1:]
    assert "until_date" not in muted.params

    await chat.ban(str(BOB), SOON)
    assert (GROUP, BOB) in api.banned and api.banned_until[(GROUP, BOB)] == int(SOON.timestamp())
    await chat.unban(str(BOB))
    assert (GROUP, BOB) not in api.banned and BOB not in api.members[GROUP]
    api.members[GROUP].add(BOB)
    await chat.kick(str(BOB))
    assert BOB not in api.members[GROUP] and (GROUP, BOB) not in api.banned

    said = api.message(ANN, "spam", chat_id=GROUP, chat_type="supergroup")
    await chat.delete(str(said["message"]["message_id"]))
    assert api.deleted == [(GROUP, said["message"]["message_id"])]
    message_id = await chat.post(reply("telegram.private_only"), "en")
    (posted,) = api.sent("sendMessage", chat_id=GROUP)
    assert str(posted.result["message_id"]) == message_id


async def test_refusals_are_named_for_the_handlers(api, transport, group):
    chat = TelegramGroupChat(group, transport, Sender(transport, rate=1000), AdminCache(transport))
    with pytest.raises(ChatActionError) as refused:
        await chat.mute(str(ADMIN), None)
    assert refused.value.reason == "admin"
    with pytest.raises(ChatActionError) as refused:
        await chat.ban(str(OWNER), None)
    assert refused.value.reason == "admin"  # "can't remove chat owner"
    with pytest.raises(ChatActionError) as refused:
        await chat.delete("999")
    assert refused.value.reason == "gone"

    api.rights_checked = True
    api.demote(GROUP)
    api.admin(GROUP, rights={"can_restrict_members": False, "can_delete_messages": False})
    for act in (chat.mute(str(ANN), None), chat.ban(str(ANN), None), chat.kick(str(ANN))):
        with pytest.raises(ChatActionError) as refused:
            await act
        assert refused.value.reason == "rights"
    said = api.message(ANN, "spam", chat_id=GROUP, chat_type="supergroup")
    with pytest.raises(ChatActionError) as refused:
        await chat.delete(str(said["message"]["message_id"]))
    assert refused.value.reason == "rights"
    api.fail_next("banChatMember", 500, "Internal Server Error")
    api.admin(GROUP)
    with pytest.raises(ChatActionError) as refused:
        await chat.ban(str(ANN), None)
    assert refused.value.reason == "failed"


def test_refusal_words():
    assert refusal(Rejected("Bad Request: user not found")).reason == "gone"
    assert refusal(Rejected("Bad Request: CHAT_ADMIN_REQUIRED")).reason == "rights"
    assert refusal(Unreachable("Forbidden: bot was kicked from the group chat")).reason \
        == "failed"
    assert refusal(TelegramFailure("timeout")).detail == "timeout"


async def test_admin_cache_asks_once_follows_promotions_and_outlives_a_failure(api, transport,
                                                                               group):
    now = [0.0]
    cache = AdminCache(transport, ttl=600, clock=lambda: now[0])
    both = await asyncio.gather(cache.get(group), cache.get(group))
    assert both[0] == both[1] == {str(api.bot_id), str(OWNER), str(ADMIN)}
    assert len([c for c in api.calls if c.method == "getChatAdministrators"]) == 1

    assert await cache.rights(group, str(ADMIN)) == {RESTRICT, DELETE, SETTINGS}
    # chat_member promotions: Ann may only pin; the admin is demoted.
    cache.changed(group, str(ANN), frozenset({"can_pin_messages"}))
    cache.changed(group, str(ADMIN), None)
    assert await cache.get(group) == {str(api.bot_id), str(OWNER), str(ANN)}
    assert await cache.rights(group, str(ANN)) == frozenset()
    cache.changed(group, str(ANN), frozenset({"can_restrict_members"}))
    assert await cache.rights(group, str(ANN)) == {RESTRICT}
    now[0] = 601  # stale: asked again
    assert await cache.get(group) == {str(api.bot_id), str(OWNER), str(ADMIN)}
    api.fail_next("getChatAdministrators", 502, "Bad Gateway")
    assert await cache.refresh(group) == {str(api.bot_id), str(OWNER), str(ADMIN)}
    with pytest.raises(ChatActionError):  # never known: nothing to fall back on
        await cache.get("-100404")


@pytest.mark.parametrize("library", ["aiogram", "ptb"])
async def test_group_updates_become_events_in_either_library(api, library):
    api.group(GROUP, "Tea Talk")
    joined = api.join(GROUP, ANN, BOB, api.bot_id, by=OWNER, first_names={ANN: "Ann"})
    first = api.message(ANN, "hello", chat_id=GROUP, chat_type="supergroup")
    answer = api.message(BOB, "hi Ann Lee", chat_id=GROUP, chat_type="supergroup",
                         reply_to=first["message"]["message_id"], mentions={ANN: "Ann Lee"},
                         username="bob")
    album = api.album(BOB, GROUP, 2, caption="look")
    left = api.leave(GROUP, BOB)
    notice = api.message(ANN, None, chat_id=GROUP, chat_type="supergroup")  # nothing said
    robot = api.message(9, "beep", chat_id=GROUP, chat_type="supergroup", is_bot=True)
    pressed = api.callback(ANN, "captcha:7", first["message"]["message_id"], chat_id=GROUP)
    updates = [joined, first, answer, *album, left, notice, robot]
    parse = _parser(library)

    events = [message_events(parse(u).message, f"k{u['update_id']}", api.bot_id)
              for u in updates]
    came, said, replied, photo1, photo2, went, none, other_bot = events
    assert [(e.kind, e.person.user_id, e.person.name) for e in came] == [
        (JOINED, str(ANN), "Ann"), (JOINED, str(BOB), "Test")]  # not the bot itself
    assert came[0].key != came[1].key and came[0].chat_title == "Tea Talk"
    assert said[0].kind == MESSAGE and said[0].text == "hello" and said[0].reply_to is None
    (event,) = replied
    assert event.reply_to == Person(str(ANN), "Test", None, False, "en")
    assert event.reply_to_message_id == str(first["message"]["message_id"])
    assert [p.user_id for p in event.mentioned] == [str(ANN)]
    assert event.person.username == "bob" and event.message_id is not None
    assert photo1[0].album == photo2[0].album is not None and photo1[0].text == "look"
    assert photo2[0].text == ""
    assert [(e.kind, e.person.user_id) for e in went] == [(LEFT, str(BOB))]
    assert none == [] and other_bot == []

    query = parse(pressed).callback_query
    event = button_event(query, "k")
    assert (event.kind, event.action, event.person.user_id, event.chat_id) == (
        BUTTON, "captcha:7", str(ANN), str(GROUP))


def _parser(library: str):
    if library == "aiogram":
        from aiogram.types import Update
        return Update.model_validate
    from telegram import Update
    return lambda data: Update.de_json(data, None)


async def test_interactive_group_replies_keep_to_twenty_a_minute():
    vt = VirtualTime()
    out = Recorder(vt)
    sender = Sender(out, clock=vt.clock, sleep=vt.sleep)
    await vt.run(*(sender.send("-100", Rendered(f"m{i}"), group=True, interactive=True)
                   for i in range(21)))
    times = sorted(t for t, *_ in out.sent)
    assert times[19] < 1 and times[20] >= 60  # the 21st waits for the window
    await vt.run(*(sender.send("42", Rendered(f"p{i}"), interactive=True) for i in range(3)))
    assert max(t for t, chat, *_ in out.sent if chat == "42") - vt.now < 1  # private: at once


async def test_the_outbox_keeps_order_per_chat_and_drops_beyond_its_backlog():
    outbox, said = Outbox(), []
    gate = asyncio.Event()

    async def say(chat: str, text: str, wait: bool = False) -> None:
        if wait:
            await gate.wait()
        said.append((chat, text))

    outbox.put("a", say("a", "1", wait=True))
    outbox.put("a", say("a", "2"))
    outbox.put("b", say("b", "1"))
    for i in range(60):
        outbox.put("c", say("c", str(i), wait=True))
    await asyncio.sleep(0.01)
    assert said == [("b", "1")]  # "a" waits for its first; "b" does not wait for "a"
    gate.set()
    await outbox.close()
    assert [t for c, t in said if c == "a"] == ["1", "2"]
    assert [t for c, t in said if c == "c"] == [str(i) for i in range(50)]


async def test_a_transport_of_each_library_lists_admins_and_counts_members(api, group):
    for make in (aiogram_bot, ptb_bot):
        async with make(api) as bot:
            transport = _transport(bot)
            admins = await transport.chat_administrators(group)
            assert set(admins) == {str(api.bot_id), str(OWNER), str(ADMIN)}
            assert admins[str(OWNER)] == set(ADMIN_RIGHTS)  # the owner holds them all
            assert "can_restrict_members" in admins[str(ADMIN)]
            assert await transport.member_count(group) == 5
            with pytest.raises(Rejected):
                await transport.chat_administrators("-100404")


def _transport(bot) -> Transport:
    from bot.telegram.transport import AiogramTransport, PtbTransport
    return AiogramTransport(bot) if type(bot).__module__.startswith("aiogram") \
        else PtbTransport(bot)
