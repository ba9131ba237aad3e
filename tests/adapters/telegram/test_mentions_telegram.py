"""{mention} for someone without an @username: Telegram notifies them only through a
link to their user id, so the welcome names them with one (through aiogram and
python-telegram-bot against the local Bot API server), and every other platform shows
the bare name."""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.transport import plan
from handlers.engine.render import dump, load
from handlers.engine.types import Rendered, mentioned, unmark
from tests.adapters.telegram.test_moderation_telegram import ADMIN, GROUP, NEWT, room, said, say
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def test_a_mention_is_a_link_to_the_user_and_the_rest_is_escaped():
    text, spans = unmark(f"Hi {mentioned('2001', 'Ann <Lee>')} & {mentioned('x9', 'Bo')}!")
    assert text == "Hi Ann <Lee> & Bo!" and spans == ((3, 12, "2001"),)  # no id: no link
    (part,) = plan(Rendered(text=text, mentions=spans))
    assert part.text == 'Hi <a href="tg://user?id=2001">Ann &lt;Lee&gt;</a> &amp; Bo!'
    assert load(dump(Rendered(text=text, mentions=spans))).mentions == spans


def test_a_mention_cut_short_leaves_the_name_and_no_marks():
    marked = f"Welcome {mentioned('2001', 'Ann')}"
    assert unmark(marked[:10] + "…") == ("Welcome …", ())
    assert unmark(marked[:-3] + "…") == ("Welcome A…", ())  # inside the name


async def test_the_welcome_mentions_a_newcomer_without_a_username(api, bot, db):
    await room(api, db)
    say(api, ADMIN, "/setwelcome Hello {mention}, welcome to {chatname}!")
    say(api, ADMIN, "/welcome on")
    await said(api, 2)
    await asyncio.sleep(0.3)  # whatever else those two commands say
    before = len(api.sent("sendMessage", chat_id=GROUP))
    api.join(GROUP, NEWT, first_names={NEWT: "Newt <3"})
    await said(api, before + 1)
    welcome = api.sent("sendMessage", chat_id=GROUP)[-1]
    assert welcome.params["parse_mode"] == "HTML" and welcome.params["text"] == (
        f'Hello <a href="tg://user?id={NEWT}">Newt &lt;3</a>, welcome to Tea Talk!')
