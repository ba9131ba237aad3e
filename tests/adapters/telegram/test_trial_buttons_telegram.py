"""Trial findings, end to end through aiogram and python-telegram-bot against the local
Bot API server: a moderation button pressed by someone who may not use it is answered
with a toast (answerCallbackQuery with text) and nothing is sent to the group or the
log chat; an admin lacking "Ban users" is told which right; a report keeps its reason
and speaks the group's language in the log chat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from domain.community import group_settings
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

GROUP, LOG = -1001860, -1001861
OWNER, ADMIN, CARL, ANN, BOB = 860, 861, 862, 863, 864
NOT_ADMIN = "Only the group's admins can use this button. Nothing was changed."
NO_BAN = ("To use this button you need the “Ban users” right in this group yourself. "
          "Nothing was changed.")


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def room(api, db) -> None:
    """A supergroup speaking English (the programme: Chinese); CARL administers it
    without "Ban users"; ANN and BOB are members."""
    api.group(GROUP, "Tea Talk")
    api.admin(GROUP)
    api.admin(GROUP, OWNER, owner=True)
    api.admin(GROUP, ADMIN)
    api.admin(GROUP, CARL, rights={"can_restrict_members": False})
    api.members[GROUP].update({ANN, BOB})
    async with db.uow() as uow:
        await group_settings.change(uow, "telegram", str(GROUP), "test",
                                    datetime.now(UTC), language="en")
        await uow.commit()


def say(api, user_id: int, text: str, **options) -> int:
    return api.message(user_id, text, chat_id=GROUP, chat_type="supergroup",
                       **options)["message"]["message_id"]


def toasts(api) -> list[str | None]:
    return [c.params.get("text") for c in api.sent("answerCallbackQuery")]


async def quiet(api) -> None:
    """Let anything the bot might still send go out."""
    await asyncio.sleep(0.3)


async def test_a_stray_press_is_a_toast_and_the_group_hears_nothing(api, bot, db):
    await room(api, db)
    spam = say(api, ANN, "buy cheap followers")
    say(api, ADMIN, "/warn spam", reply_to=spam)
    (warning,) = await api.wait_for(1, method="sendMessage", chat_id=GROUP)
    data = warning.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    for _ in range(3):
        api.callback(BOB, data, warning.result["message_id"], chat_id=GROUP)
    api.callback(CARL, data, warning.result["message_id"], chat_id=GROUP)
    await api.wait_for(4, method="answerCallbackQuery")
    await quiet(api)
    assert toasts(api) == [NOT_ADMIN] * 3 + [NO_BAN]
    assert len(api.sent("sendMessage", chat_id=GROUP)) == 1  # the warn alone
    assert api.sent("editMessageText") == []

    api.callback(ADMIN, data, warning.result["message_id"], chat_id=GROUP)
    (edit,) = await api.wait_for(1, method="editMessageText", chat_id=GROUP)
    assert edit.params["message_id"] == warning.result["message_id"]
    await api.wait_for(5, method="answerCallbackQuery")
    assert toasts(api)[-1] is None  # the edit says it all
    await quiet(api)
    assert len(api.sent("sendMessage", chat_id=GROUP)) == 1


async def test_report_buttons_in_the_log_chat_toast_strays_and_speak_the_groups_language(
        api, bot, db):
    await room(api, db)
    api.group(LOG, "Mod log")
    api.admin(LOG)
    api.admin(LOG, ADMIN)
    say(api, ADMIN, f"/setlog {LOG}")
    await api.wait_for(1, method="sendMessage", chat_id=GROUP)
    await api.wait_for(1, method="sendMessage", chat_id=LOG)  # hello, log chat
    spam = say(api, BOB, "cheap watches")
    say(api, ANN, "/report selling watches", reply_to=spam)
    notice = (await api.wait_for(2, method="sendMessage", chat_id=LOG))[-1]
    assert "Reason: selling watches" in notice.text
    buttons = [b["callback_data"] for row in notice.params["reply_markup"]["inline_keyboard"]
               for b in row]
    mute = next(data for data in buttons if data.endswith(":mute"))
    delete = next(data for data in buttons if data.endswith(":delete"))
    api.callback(ANN, mute, notice.result["message_id"], chat_id=LOG)
    await api.wait_for(1, method="answerCallbackQuery")
    assert toasts(api) == [NOT_ADMIN]

    api.callback(ADMIN, mute, notice.result["message_id"], chat_id=LOG)
    (edit,) = await api.wait_for(1, method="editMessageText", chat_id=LOG)
    assert "✔️ Muted" in edit.text  # English, as the group speaks: not the programme's
    api.callback(ADMIN, mute, notice.result["message_id"], chat_id=LOG)  # again
    await api.wait_for(3, method="answerCallbackQuery")
    assert toasts(api)[-1] == "That was already done for this report."
    api.callback(ADMIN, delete, notice.result["message_id"], chat_id=LOG)  # a second action
    await api.wait_for(lambda _: (GROUP, spam) in api.deleted)
    edits = await api.wait_for(2, method="editMessageText", chat_id=LOG)
    assert "✔️ Message deleted" in edits[-1].text
    await quiet(api)
    group_said = [c.text for c in api.sent("sendMessage", chat_id=GROUP)]
    assert len(group_said) == 3 and "Reason: selling watches" in group_said[-1]  # the mute
    assert not any(NOT_ADMIN in (c.text or "") for c in api.sent("sendMessage"))
