"""Findings of the newcomers trial through aiogram and python-telegram-bot against the
local Bot API server: /setlog asks Telegram who administers the log chat, and {count}
in a welcome after a captcha is Telegram's member count (getChatMemberCount)."""

from __future__ import annotations

import asyncio

import pytest

from domain.community import group_settings
from handlers.community.moderation import flood
from tests.adapters.telegram.test_moderation_telegram import (
    ADMIN,
    GROUP,
    NEWT,
    OWNER,
    answer,
    room,
    said,
    say,
)
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

LOUNGE = -1001801  # a gated group the bot is in, which ADMIN does not administer


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


@pytest.fixture(autouse=True)
def no_runs_left():
    flood.forget()


async def test_a_log_chat_is_refused_unless_its_admins_include_the_setter(api, bot, db):
    await room(api, db)
    api.group(LOUNGE, "Gold Lounge")
    api.admin(LOUNGE)
    api.admin(LOUNGE, OWNER, owner=True)
    say(api, ADMIN, f"/setlog {LOUNGE}")
    texts = await said(api, 1)
    assert texts[0].startswith(f"You are not an admin of chat {LOUNGE}")
    await asyncio.sleep(0.2)
    assert api.sent("sendMessage", chat_id=LOUNGE) == []  # no hello, no log
    say(api, OWNER, f"/setlog {LOUNGE}")  # the owner of both may link them
    texts = await said(api, 2)
    assert texts[1].startswith("✅")
    await api.wait_for(1, method="sendMessage", chat_id=LOUNGE)
    async with db.uow() as uow:
        assert (await group_settings.read(uow, "telegram", str(GROUP))).log_chat == \
            str(LOUNGE)


async def test_count_in_a_welcome_after_a_captcha_is_telegrams(api, bot, db):
    await room(api, db)
    say(api, ADMIN, "/captcha on 1")
    say(api, ADMIN, "/setwelcome Hi {first}, you are #{count}.")
    texts = await said(api, 3)
    assert texts[2].endswith(", you are #5.")  # the preview: bot, owner, ADMIN, ANN, BOB
    api.join(GROUP, NEWT, first_names={NEWT: "Newt"})
    captcha = (await api.wait_for(4, method="sendMessage", chat_id=GROUP))[-1]
    right = await answer(db, NEWT)
    api.callback(NEWT, f"captcha:{right}", captcha.result["message_id"], chat_id=GROUP)
    texts = await said(api, 5)
    assert texts[4].endswith(", you are #6.")  # NEWT the sixth
