"""Moderation in a group, end to end through aiogram and python-telegram-bot against the
local Bot API server, on a real database: each command by an admin and by anyone else,
the warn limit, antiflood with an album, the captcha passed, failed and outliving a
restart, a mute kept over leaving and coming back, and the admin cache following
promotions and demotions.

The bot sends at most 20 messages a minute to one group, as Telegram allows, so each
test keeps under that in each of its groups.
"""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from domain.community import group_settings
from domain.community.tables import GroupCaptcha, GroupWarn
from handlers.community.moderation import flood
from tests.adapters.telegram.test_gates_telegram import eventually
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

GROUP = -1001800
OWNER, ADMIN, ANN, BOB, NEWT, NORA, NED = 800, 801, 802, 803, 804, 805, 806


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


@pytest.fixture(autouse=True)
def no_runs_left():
    """Antiflood counts in memory, per process: a test starts with no run counted."""
    flood._runs.clear()


async def room(api, db, chat_id: int = GROUP, title: str = "Tea Talk") -> None:
    """A supergroup the bot administers with every right, owned by OWNER, with ADMIN as
    an admin and ANN and BOB as members; it speaks English (the programme: Chinese)."""
    api.group(chat_id, title)
    api.admin(chat_id)
    api.admin(chat_id, OWNER, owner=True)
    api.admin(chat_id, ADMIN)
    api.members[chat_id].update({ANN, BOB})
    async with db.uow() as uow:
        await group_settings.change(uow, "telegram", str(chat_id), "test",
                                    datetime.now(UTC), language="en")
        await uow.commit()


def say(api, user_id: int, text: str | None = None, chat_id: int = GROUP, **options) -> int:
    """`user_id` writes in the group: the message's id."""
    update = api.message(user_id, text, chat_id=chat_id, chat_type="supergroup", **options)
    return update["message"]["message_id"]


async def said(api, count: int, chat_id: int = GROUP) -> list[str]:
    """Wait for the bot's `count`th message in the group: the texts so far."""
    return [c.text for c in await api.wait_for(count, method="sendMessage", chat_id=chat_id)]


def acts(api, method: str, user_id: int) -> list:
    return [c for c in api.sent(method) if c.params.get("user_id") == user_id]


def muted(call) -> bool:
    return not any(call.params["permissions"].values())


# ------------------------------------------------------------------ commands

async def test_each_command_acts_for_an_admin_and_is_refused_to_anyone_else(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "buy cheap followers", username="ann")
    steps = [("/mute 1h", "restrictChatMember"), ("/unmute", "restrictChatMember"),
             ("/ban 2d", "banChatMember"), ("/unban", "unbanChatMember"),
             ("/kick", "banChatMember"), ("/warn spam", None)]
    texts: list[str] = []
    for n, (command, method) in enumerate(steps):
        before = len(acts(api, method, ANN)) if method else 0
        say(api, BOB, command, reply_to=spam)
        texts = await said(api, 2 * n + 1)
        assert texts[-1] == f"Only the group's admins can use {command.split()[0]}."
        say(api, ADMIN, command, reply_to=spam)
        texts = await said(api, 2 * n + 2)
        if method:
            assert len(acts(api, method, ANN)) == before + 1, command
    mute, unmute = acts(api, "restrictChatMember", ANN)
    assert muted(mute) and not muted(unmute)
    assert abs(mute.params["until_date"] - (time.time() + 3600)) < 60
    ban = acts(api, "banChatMember", ANN)[0]
    assert abs(ban.params["until_date"] - (time.time() + 2 * 86400)) < 60
    assert ANN not in api.members[GROUP] and (GROUP, ANN) not in api.banned  # kicked
    assert "is muted" in texts[1] and "can write again" in texts[3]
    assert "is banned" in texts[5] and "unbanned" in texts[7] and "removed" in texts[9]
    assert "has been warned (1/3)" in texts[11] and "spam" in texts[11]

    # The warn's "remove warn" button: anyone else's press changes nothing.
    warning = api.sent("sendMessage", chat_id=GROUP)[-1]
    data = warning.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    api.callback(BOB, data, warning.result["message_id"], chat_id=GROUP)
    (refused,) = await api.wait_for(1, method="answerCallbackQuery")
    assert refused.params["text"].startswith("Only the group's admins")  # to Bob alone
    assert len(api.sent("sendMessage", chat_id=GROUP)) == 12
    assert await warns(db, ANN) == 1
    api.callback(ADMIN, data, warning.result["message_id"], chat_id=GROUP)
    (edit,) = await api.wait_for(1, method="editMessageText", chat_id=GROUP)
    assert edit.params["message_id"] == warning.result["message_id"]
    assert len(api.sent("answerCallbackQuery")) == 2
    assert await warns(db, ANN) == 0


async def test_a_members_command_in_a_group_points_to_the_private_chat(api, bot, db):
    await room(api, db)
    say(api, ANN, "/points")
    say(api, ANN, "/frobnicate")  # nobody's: ignored
    say(api, ANN, "/mute@otherbot")  # another bot's: chatter to us
    say(api, ANN, "/rules")  # a members' command, and the group's own: the group's
    texts = await said(api, 2)
    assert texts[0] == "Please send me that in a private chat."
    assert "private chat" not in texts[1]
    await asyncio.sleep(0.3)
    assert len(api.sent("sendMessage", chat_id=GROUP)) == 2


async def test_the_warn_limit_acts_and_starts_over_and_commands_are_cleaned(api, bot, db):
    await room(api, db)
    log_chat = -1001899
    api.group(log_chat, "Mod log")
    api.admin(log_chat, ADMIN)  # /setlog: who links a log chat must administer it too
    for command in ("/setwarnlimit 2", "/setwarnmode ban", f"/setlog {log_chat}",
                    "/cleancommands on"):
        say(api, ADMIN, command)
    await said(api, 4)
    spam = say(api, ANN, "spam again")
    first = say(api, ADMIN, "/warn first", reply_to=spam)
    second = say(api, ADMIN, "/warn second", reply_to=spam)
    texts = await said(api, 6)
    assert "(1/2)" in texts[4] and "reached 2 warns" in texts[5]
    (ban,) = acts(api, "banChatMember", ANN)
    assert "until_date" not in ban.params and (GROUP, ANN) in api.banned  # until unbanned
    assert await warns(db, ANN) == 0  # the count starts over
    await api.wait_for(lambda _: {(GROUP, first), (GROUP, second)} <= set(api.deleted))
    logged = await api.wait_for(4, method="sendMessage", chat_id=log_chat)
    assert any("Tea Talk" in c.text for c in logged[1:])


async def test_a_command_delivered_twice_acts_once(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "spam")
    update = api.message(ADMIN, "/warn", chat_id=GROUP, chat_type="supergroup",
                         reply_to=spam)
    api.push(copy.deepcopy(update))  # Telegram sent it again (say, after a timeout)
    say(api, ADMIN, "/warns", reply_to=spam)  # a marker
    texts = await said(api, 2)
    assert "(1/3)" in texts[0] and "1 warn" in texts[1]
    assert await warns(db, ANN) == 1


async def test_a_report_settled_from_a_private_log_chat_acts_on_the_group(api, bot, db):
    await room(api, db)
    say(api, ADMIN, f"/setlog {ADMIN}")  # the admin's own chat with the bot
    await said(api, 1)
    await api.wait_for(1, method="sendMessage", chat_id=ADMIN)  # hello, log chat
    spam = say(api, BOB, "cheap watches", username="bob")
    say(api, ANN, "/report", reply_to=spam)
    texts = await said(api, 2)
    notice = (await api.wait_for(2, method="sendMessage", chat_id=ADMIN))[-1]
    buttons = [b["callback_data"] for row in notice.params["reply_markup"]["inline_keyboard"]
               for b in row]
    ban = next(data for data in buttons if data.endswith(":ban"))
    api.callback(ANN, ban, notice.result["message_id"])  # not a log chat of ANN's: nothing
    api.callback(ADMIN, ban, notice.result["message_id"])
    (banned,) = await api.wait_for(1, method="banChatMember")
    assert (banned.params["chat_id"], banned.params["user_id"]) == (GROUP, BOB)
    await api.wait_for(1, method="editMessageText", chat_id=ADMIN)
    texts = await said(api, 3)
    assert "is banned" in texts[-1]
    assert len(api.sent("answerCallbackQuery")) == 2


# ------------------------------------------------------------------ antiflood

async def test_antiflood_counts_an_album_once_and_mutes_a_flood(api, bot, db):
    await room(api, db)
    say(api, ADMIN, "/setflood 3")
    await said(api, 1)
    api.album(BOB, GROUP, 5, caption="holiday")  # five photos, one message to antiflood
    say(api, BOB, "nice, right?")
    say(api, ADMIN, "/warns")  # someone else (BOB's run starts over), and a marker
    await said(api, 2)
    assert acts(api, "restrictChatMember", BOB) == []
    api.album(BOB, GROUP, 3)
    say(api, BOB, "one more")
    say(api, BOB, "and another")
    texts = await said(api, 3)
    (mute,) = acts(api, "restrictChatMember", BOB)
    assert muted(mute) and "too many messages in a row" in texts[-1]
    assert acts(api, "restrictChatMember", ANN) == []


# ------------------------------------------------------------------ captcha

async def test_a_newcomer_passes_the_captcha_or_fails_and_is_removed(api, bot, db):
    await room(api, db)
    say(api, ADMIN, "/captcha on 1")
    await said(api, 1)
    api.join(GROUP, NEWT, first_names={NEWT: "Newt"})
    captcha = (await api.wait_for(2, method="sendMessage", chat_id=GROUP))[-1]
    (mute,) = acts(api, "restrictChatMember", NEWT)
    assert muted(mute) and "Newt" in captcha.text
    right = await answer(db, NEWT)
    options = [b["callback_data"] for b in captcha.params["reply_markup"]["inline_keyboard"][0]]
    assert len(options) == 4 and f"captcha:{right}" in options
    api.callback(ANN, f"captcha:{right}", captcha.result["message_id"], chat_id=GROUP)
    api.callback(NEWT, f"captcha:{right}", captcha.result["message_id"], chat_id=GROUP)
    await api.wait_for(lambda _: len(acts(api, "restrictChatMember", NEWT)) == 2)
    assert not muted(acts(api, "restrictChatMember", NEWT)[-1])  # only NEWT's press counts
    await api.wait_for(lambda _: (GROUP, captcha.result["message_id"]) in api.deleted)
    # Each press is answered once, after it is handled (its toast, if any, goes with it).
    await api.wait_for(2, method="answerCallbackQuery")

    api.join(GROUP, NORA)
    captcha = (await api.wait_for(3, method="sendMessage", chat_id=GROUP))[-1]
    right = await answer(db, NORA)
    wrong = next(b["callback_data"] for b in captcha.params["reply_markup"]["inline_keyboard"][0]
                 if b["callback_data"] != f"captcha:{right}")
    api.callback(NORA, wrong, captcha.result["message_id"], chat_id=GROUP)
    await api.wait_for(lambda _: acts(api, "unbanChatMember", NORA))
    assert NORA not in api.members[GROUP] and (GROUP, NORA) not in api.banned
    await api.wait_for(lambda _: (GROUP, captcha.result["message_id"]) in api.deleted)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_pending_captchas_outlive_a_restart(api, db, programme, library):
    await room(api, db)
    app, _, running = await started(api, db, programme, library)
    try:
        say(api, ADMIN, "/captcha on 1")
        await said(api, 1)
        api.join(GROUP, NEWT)
        api.join(GROUP, NED)
        await said(api, 3)
    finally:
        await running.__aexit__(None, None, None)
    async with db.uow() as uow:  # NEWT's time ran out while no bot ran
        await uow.session.execute(update(GroupCaptcha).where(GroupCaptcha.user_id == str(NEWT))
                                  .values(expires_at=GroupCaptcha.created_at))
        await uow.commit()
    captcha, ned = [c for c in api.sent("sendMessage", chat_id=GROUP)
                    if c.params.get("reply_markup")]  # NEWT's, then NED's
    app, _, running = await started(api, db, programme, library)
    try:
        await api.wait_for(lambda _: acts(api, "unbanChatMember", NEWT), timeout=15)
        assert NEWT not in api.members[GROUP]
        await api.wait_for(lambda _: (GROUP, captcha.result["message_id"]) in api.deleted)
        right = await answer(db, NED)  # the one still pending is answered as ever
        api.callback(NED, f"captcha:{right}", ned.result["message_id"], chat_id=GROUP)
        await api.wait_for(lambda _: len(acts(api, "restrictChatMember", NED)) == 2)
        assert not muted(acts(api, "restrictChatMember", NED)[-1])
        assert NED in api.members[GROUP]
    finally:
        await running.__aexit__(None, None, None)


# ------------------------------------------------------------------ kept over rejoining

async def test_a_mute_is_put_back_when_they_leave_and_rejoin(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "spam")
    say(api, ADMIN, "/mute", reply_to=spam)
    await said(api, 1)
    api.leave(GROUP, ANN)
    api.join(GROUP, ANN)
    await api.wait_for(lambda _: len(acts(api, "restrictChatMember", ANN)) == 2)
    first, again = acts(api, "restrictChatMember", ANN)
    assert muted(first) and muted(again) and "until_date" not in again.params
    say(api, ADMIN, "/unmute", reply_to=spam)
    await said(api, 2)
    api.leave(GROUP, ANN)
    api.join(GROUP, ANN)
    say(api, ADMIN, "/warns")  # a marker
    await said(api, 3)
    assert len(acts(api, "restrictChatMember", ANN)) == 3  # lifted: not put back


# ------------------------------------------------------------------ who may moderate

async def test_the_admin_cache_follows_promotions_and_demotions(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "spam")
    say(api, BOB, "/mute", reply_to=spam)
    await said(api, 1)
    asked = len([c for c in api.calls if c.method == "getChatAdministrators"])
    assert asked == 1

    api.chat_member(BOB, GROUP, "member", "administrator", by=OWNER)
    say(api, BOB, "/mute", reply_to=spam)
    texts = await said(api, 2)
    assert "is muted" in texts[-1] and len(acts(api, "restrictChatMember", ANN)) == 1

    api.chat_member(BOB, GROUP, "administrator", "member", by=OWNER)
    say(api, BOB, "/unmute", reply_to=spam)
    texts = await said(api, 3)
    assert texts[-1] == "Only the group's admins can use /unmute."
    assert len([c for c in api.calls if c.method == "getChatAdministrators"]) == asked

    api.admins[GROUP][BOB] = api.admins[GROUP][ADMIN]  # promoted while we did not see it
    say(api, ADMIN, "/admincache")
    texts = await said(api, 4)
    assert "4 admins" in texts[-1]
    say(api, BOB, "/unmute", reply_to=spam)
    texts = await said(api, 5)
    assert "can write again" in texts[-1]


# ------------------------------------------------------------------ helpers

async def warns(db, user_id: int) -> int:
    async with db.uow() as uow:
        return len((await uow.session.execute(
            select(GroupWarn.id).where(GroupWarn.user_id == str(user_id)))).all())


async def answer(db, user_id: int) -> int:
    """The right answer to the newcomer's pending captcha."""
    async def pending() -> bool:
        async with db.uow() as uow:
            return await uow.session.scalar(select(GroupCaptcha.answer).where(
                GroupCaptcha.user_id == str(user_id),
                GroupCaptcha.status == "pending")) is not None
    await eventually(pending)
    async with db.uow() as uow:
        return await uow.session.scalar(select(GroupCaptcha.answer).where(
            GroupCaptcha.user_id == str(user_id), GroupCaptcha.status == "pending"))
