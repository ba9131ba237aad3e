"""What a new-user trial and the group-moderation work found on Telegram, each through
aiogram and python-telegram-bot against the local Bot API server: a typed button
number answered without editing the member's own message, staff menus following
/grant and /revoke, the "share my number" keyboard taken away once its step is over,
someone else's contact answered in the member's language, a join raid that holds up
nobody, and anonymous admins who moderate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.telegram import wiring
from domain.community import gates, group_settings
from domain.community.tables import GroupCaptcha
from domain.members import members
from domain.staff import roles
from tests.adapters.telegram.test_gates_telegram import eventually
from tests.adapters.telegram.test_moderation_telegram import (
    ADMIN,
    ANN,
    BOB,
    GROUP,
    acts,
    muted,
    room,
    said,
    say,
)
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, member_row, started

ALICE = 1001
REMOVE = {"remove_keyboard": True}


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def failed(api) -> list:
    return [c for c in api.calls if c.status not in (None, 200) and c.method != "getUpdates"]


# ------------------------------------------------------------------ 1. typed numbers

async def test_a_typed_button_number_gets_a_new_message_and_edits_nothing(api, bot):
    api.message(ALICE, "/start")
    (card,) = await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    api.message(ALICE, "1")  # the card's first button: Check in
    replies = await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    assert "Checked in!" in replies[-1].text
    assert not [c for c in api.calls if c.method == "editMessageText"]
    assert failed(api) == []
    # A pressed button still edits the message it is under.
    api.callback(ALICE, "home", int(replies[-1].result["message_id"]))
    (edit,) = await api.wait_for(1, method="editMessageText")
    assert edit.params["message_id"] == replies[-1].result["message_id"]
    assert failed(api) == []


# ------------------------------------------------------------------ 2. staff menus

def menu_of(api, chat_id: int, language: str = "en") -> list[str] | None:
    for (scope, lang), commands in api.commands.items():
        if f'"chat_id": {chat_id}' in scope and lang == language:
            return [c["command"] for c in commands]
    return None


async def owner_and_member(db, programme, now) -> int:
    """Telegram user 500 owns the programme; 501 is a member: their member id."""
    async with db.uow() as uow:
        await members.register(uow, programme, "telegram", "500", now)
        clerk = (await members.register(uow, programme, "telegram", "501", now)).member
        await roles.set_owner(uow, programme, "telegram:500", now)
        await uow.commit()
        return clerk.id


@pytest.mark.parametrize("library", LIBRARIES)
async def test_grant_and_revoke_redo_the_staff_menu_at_once(api, db, programme, now,
                                                            library):
    clerk = await owner_and_member(db, programme, now)
    _, _, running = await started(api, db, programme, library)
    try:
        assert menu_of(api, 501) is None
        api.message(500, f"/grant staff {clerk}")
        await api.wait_for(lambda _: menu_of(api, 501) is not None
                           and menu_of(api, 501, "zh") is not None)
        assert "verify" in menu_of(api, 501) and "grant" not in menu_of(api, 501)
        assert "verify" in menu_of(api, 501, "zh")
        api.message(500, f"/revoke staff {clerk}")
        await api.wait_for(lambda _: menu_of(api, 501) is None
                           and menu_of(api, 501, "zh") is None)
        assert "grant" in menu_of(api, 500)  # the owner's own menu stays
    finally:
        await running.__aexit__(None, None, None)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_grant_made_elsewhere_reaches_the_menu_in_time(api, db, programme, now,
                                                               library, monkeypatch):
    monkeypatch.setattr(wiring, "STAFF_MENUS_EVERY", 0.2)
    clerk = await owner_and_member(db, programme, now)
    _, _, running = await started(api, db, programme, library)
    try:
        async with db.uow() as uow:  # from the console, say: no answer to nudge anyone
            owner = await members.by_identity(uow, "telegram", "500")
            await roles.grant(uow, owner.id, "staff", clerk, datetime.now(UTC))
            await uow.commit()
        await api.wait_for(lambda _: menu_of(api, 501) is not None)
    finally:
        await running.__aexit__(None, None, None)


# ------------------------------------------------------------------ 3. the phone keyboard

async def ask_phone(api, sent_before: int) -> int:
    """/profile, then its "phone" button: the question with the share keyboard. How
    many messages ALICE has had by then."""
    api.message(ALICE, "/profile")
    summary = (await api.wait_for(sent_before + 1, method="sendMessage", chat_id=ALICE))[-1]
    api.callback(ALICE, "profile:edit:phone", int(summary.result["message_id"]))
    asked = (await api.wait_for(sent_before + 2, method="sendMessage", chat_id=ALICE))[-1]
    assert asked.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    return sent_before + 2


async def test_the_share_keyboard_goes_once_the_phone_step_is_over(api, bot, db):
    api.message(ALICE, "/start")
    sent = len(await api.wait_for(1, method="sendMessage", chat_id=ALICE))

    # Typed: the "saved" message takes the keyboard away; the summary keeps its buttons.
    sent = await ask_phone(api, sent)
    api.message(ALICE, "+86 138 0013 8000")
    replies = await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE)
    saved, summary = replies[-2:]
    assert saved.text == "Phone number saved." and saved.params["reply_markup"] == REMOVE
    assert "inline_keyboard" in summary.params["reply_markup"]
    assert api.reply_keyboards[ALICE] == REMOVE
    assert (await member_row(db, ALICE)).phone == "+8613800138000"

    # Skipped: every message of the answer has buttons, so a short one takes it.
    sent = await ask_phone(api, sent + 2)
    api.message(ALICE, "skip")
    replies = await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE)
    note, summary = replies[-2:]
    assert note.params["reply_markup"] == REMOVE and "put away" in note.text
    assert "inline_keyboard" in summary.params["reply_markup"]

    # Shared: the keyboard goes with the confirmation.
    sent = await ask_phone(api, sent + 2)
    api.message(ALICE, contact="+8613900139000")
    replies = await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE)
    assert "verified" in replies[-2].text and replies[-2].params["reply_markup"] == REMOVE

    # A wrong number asks again, keyboard and all; nothing else carries a removal.
    sent = await ask_phone(api, sent + 2)
    api.message(ALICE, "12")
    replies = await api.wait_for(sent + 2, method="sendMessage", chat_id=ALICE)
    assert replies[-1].params["reply_markup"]["keyboard"][0][0]["request_contact"]
    api.message(ALICE, "/cancel")  # left by a command: its answer takes the keyboard
    replies = await api.wait_for(sent + 3, method="sendMessage", chat_id=ALICE)
    assert replies[-1].params.get("reply_markup") == REMOVE
    api.message(ALICE, "/cancel")
    replies = await api.wait_for(sent + 4, method="sendMessage", chat_id=ALICE)
    assert "reply_markup" not in replies[-1].params  # once is enough
    assert failed(api) == []


# ------------------------------------------------------------------ 4. someone else's contact

@pytest.mark.parametrize(("language", "expected"), [
    ("en", "share your own number"), ("zh-hans", "分享您自己的号码")])
async def test_someone_elses_contact_asks_for_their_own_number(api, bot, db, language,
                                                                expected):
    api.message(ALICE, "/start", language_code=language)
    await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    api.message(ALICE, contact={"phone_number": "+8613800000000", "first_name": "Eve",
                                "user_id": 4242}, language_code=language)
    (_, answer) = await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    assert expected in answer.text and "text messages" not in answer.text
    assert (await member_row(db, ALICE)).phone is None


# ------------------------------------------------------------------ 5. a join raid

async def test_a_join_raid_holds_up_neither_the_group_nor_anyone_else(api, bot, db):
    """30 newcomers and 80 messages of chatter after them: were the 21st newcomer's
    handling to wait for the group's minute to turn, more updates than the poller
    lets wait (64) would pile up behind it, and the private chat's would wait too.
    Each newcomer is muted and their captcha recorded at once; the captchas go out
    at the group's 20 a minute, while the member in a private chat is answered
    before the 21st could be posted."""
    await room(api, db)
    async with db.uow() as uow:
        await group_settings.change(uow, "telegram", str(GROUP), "test",
                                    datetime.now(UTC), captcha_on=True, captcha_minutes=5)
        await uow.commit()
    raiders = list(range(9000, 9030))
    for raider in raiders:
        api.join(GROUP, raider)
    for n in range(80):
        say(api, (ANN, BOB)[n % 2], f"what is going on {n}")
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    captchas_posted = len(api.sent("sendMessage", chat_id=GROUP))
    assert captchas_posted <= 20  # the 21st waits for the group's minute to turn

    await api.wait_for(lambda _: all(acts(api, "restrictChatMember", r) for r in raiders))
    assert all(muted(acts(api, "restrictChatMember", r)[0]) for r in raiders)

    async def pending() -> dict[str, tuple[int, str | None]]:
        """user id -> (answer, message id) of each pending captcha."""
        async with db.uow() as uow:
            found = await uow.session.execute(
                select(GroupCaptcha.user_id, GroupCaptcha.answer, GroupCaptcha.message_id)
                .where(GroupCaptcha.chat_id == str(GROUP), GroupCaptcha.status == "pending"))
            return {user: (answer, message) for user, answer, message in found}

    async def recorded() -> bool:
        found = await pending()
        return len(found) == 30 and sum(m is not None for _, m in found.values()) == 20
    await eventually(recorded)
    assert len(api.sent("sendMessage", chat_id=GROUP)) == 20

    # The first raider answers their captcha: its message id was recorded when sent.
    right, message_id = (await pending())[str(raiders[0])]
    assert message_id is not None
    api.callback(raiders[0], f"captcha:{right}", int(message_id), chat_id=GROUP)
    await api.wait_for(lambda _: len(acts(api, "restrictChatMember", raiders[0])) == 2)
    assert not muted(acts(api, "restrictChatMember", raiders[0])[-1])
    await api.wait_for(lambda _: (GROUP, int(message_id)) in api.deleted)


# ------------------------------------------------------------------ 6. anonymous admins

async def test_an_anonymous_admin_moderates_as_the_group(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "buy cheap followers")
    api.message(0, "/mute 1h", chat_id=GROUP, chat_type="supergroup", reply_to=spam,
                as_group=True)
    texts = await said(api, 1)
    assert "is muted" in texts[-1]
    (mute,) = acts(api, "restrictChatMember", ANN)
    assert muted(mute)
    api.message(0, "/warns", chat_id=GROUP, chat_type="supergroup", reply_to=spam,
                as_group=True)
    texts = await said(api, 2)
    assert "Only the group's admins" not in texts[-1]
    # A command aimed at the anonymous admin's message targets an admin: refused.
    said_as_group = api.message(0, "hello all", chat_id=GROUP, chat_type="supergroup",
                                as_group=True)["message"]["message_id"]
    say(api, ADMIN, "/mute", reply_to=said_as_group)
    texts = await said(api, 3)
    assert "Only the group's admins" not in texts[-1] and "is muted" not in texts[-1]
    assert acts(api, "restrictChatMember", 1087968824) == []
    # Anybody else is still refused.
    say(api, BOB, "/unmute", reply_to=spam)
    texts = await said(api, 4)
    assert texts[-1] == "Only the group's admins can use /unmute."


async def test_an_anonymous_admins_gate_is_answered_with_what_to_do(api, bot, db):
    await room(api, db)
    api.message(0, "/gate gold", chat_id=GROUP, chat_type="supergroup", as_group=True)
    texts = await said(api, 1)
    assert "anonymous admins hide who they are" in texts[-1]
    assert "/gate CHAT_ID TIER" in texts[-1]
    async with db.uow() as uow:  # nothing gated
        assert await gates.find(uow, "telegram", str(GROUP)) is None
    # In the group's own language once it has one.
    async with db.uow() as uow:
        await group_settings.change(uow, "telegram", str(GROUP), "test",
                                    datetime.now(UTC), language="zh_Hans")
        await uow.commit()
    api.message(0, "/gate gold", chat_id=GROUP, chat_type="supergroup", as_group=True)
    texts = await said(api, 2)
    assert "匿名管理员" in texts[-1]



# ------------------------------------------------------------------ 7. an admin's own rights

async def test_an_admin_who_may_only_pin_cannot_ban_through_the_bot(api, bot, db):
    await room(api, db)
    pinner = 2017
    api.admin(GROUP, pinner, {"can_restrict_members": False, "can_delete_messages": False,
                              "can_change_info": False})
    say(api, ADMIN, "/admincache")
    await said(api, 1)
    say(api, pinner, f"/ban {ANN} spam")
    texts = await said(api, 2)
    assert texts[-1] == ("To use /ban here you need the “Ban users” right in this group "
                         "yourself. Ask the group's owner for it.")
    assert acts(api, "banChatMember", ANN) == []
    # Given the right by the owner (and the cache told), the same command bans.
    api.admin(GROUP, pinner)
    say(api, ADMIN, "/admincache")
    await said(api, 3)
    say(api, pinner, f"/ban {ANN} spam")
    await said(api, 4)
    assert len(acts(api, "banChatMember", ANN)) == 1
