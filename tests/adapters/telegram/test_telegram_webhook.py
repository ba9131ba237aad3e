"""The Telegram webhook refuses every malformed body with a 4xx and changes nothing,
through both libraries: the real aiogram and python-telegram-bot services behind the
shared aiohttp web app, fed raw bytes as any client on the internet could post them."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot import web
from bot.app import App
from bot.settings import Settings
from bot.telegram import service
from bot.telegram.webhook import MAX_DEPTH, nesting_within
from domain.conversations.tables import InboxItem
from domain.members.tables import Identity
from handlers.routers import build_engine

ALICE = 1001
SECRET = "s3cret-Value_1"
DEEP = 100_000


def _message(**fields) -> dict:
    base = {"message_id": 1, "date": 1_700_000_000, "text": "/checkin",
            "chat": {"id": ALICE, "type": "private", "first_name": "A"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "A", "language_code": "en"}}
    return {**base, **fields}


def _update(**fields) -> bytes:
    return json.dumps({"update_id": 5, **fields}).encode()


MALFORMED = {
    # Nesting that would exhaust the parser's recursion.
    "deep arrays": b"[" * DEEP + b"]" * DEEP,
    "deep objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "deep inside an update": b'{"update_id": 5, "message": ' + b"[" * DEEP + b"]" * DEEP
                             + b"}",
    # Integers past int("...")'s digit limit, or past any id Telegram issues.
    "5,000-digit update_id": b'{"update_id": ' + b"7" * 5000 + b"}",
    "5,000-digit chat id": _update(message=_message(chat={"id": 0, "type": "private"}))
                           .replace(b'"id": 0', b'"id": ' + b"9" * 5000),
    "update_id past 64 bits": _update().replace(b"5", b"9" * 30),
    "user id past 64 bits": _update(message=_message()).replace(
        b'"id": 1001, "is_bot"', b'"id": ' + b"9" * 30 + b', "is_bot"'),
    "NaN update_id": b'{"update_id": NaN}',
    # Valid JSON that is not an object.
    "array": b"[]",
    "number": b"42",
    "string": b'"update"',
    "null": b"null",
    "empty body": b"",
    # Objects that are not an Update.
    "empty object": b"{}",
    "update_id as text": b'{"update_id": "5"}',
    "update_id as true": b'{"update_id": true}',
    "update_id as a float": b'{"update_id": 5.5}',
    "message as text": _update(message="hi"),
    "message without chat": _update(message={"message_id": 1, "date": 1, "text": "/start"}),
    "chat id as a list": _update(message=_message(chat={"id": [1], "type": "private"})),
    "text as a number": _update(message=_message(text=5)),
    "date past the year 9999": _update(message=_message(date=10**17)),
    "callback without from": _update(callback_query={"id": "1", "chat_instance": "1",
                                                     "data": "x"}),
    # Bytes that are not UTF-8.
    "invalid UTF-8": b'{"update_id": 5, "message": {"text": "\xff\xfe"}}',
}
TOO_LARGE = b'{"update_id": 5, "message": {"text": "' + b"a" * (10 * 1024 * 1024) + b'"}}'


async def _hooked(api, db, programme, library):
    settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                       telegram_library=library, telegram_rate=1000.0,
                       telegram_webhook_url="https://bot.example/tg/hook",
                       telegram_webhook_secret=SECRET, http_port=0)
    app = App(settings, programme, db, build_engine(db, programme))
    web_app = web.build(db)
    running = service.running(app, web_app)
    await running.__aenter__()
    return web_app, running


async def _post(client: ClientSession, url: str, body: bytes) -> int:
    headers = {service.SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with client.post(url, data=body, headers=headers) as resp:
        await resp.read()
        return resp.status


@pytest.mark.parametrize("library", ["aiogram", "ptb"])
async def test_malformed_webhook_bodies_are_refused_and_change_nothing(api, db, programme,
                                                                       library):
    web_app, running = await _hooked(api, db, programme, library)
    try:
        async with web.serving(web_app, "127.0.0.1", 0) as port, ClientSession() as client:
            url = f"http://127.0.0.1:{port}/tg/hook"
            assert await _post(client, url, TOO_LARGE) == 413
            statuses = {name: await _post(client, url, body)
                        for name, body in MALFORMED.items()}
            assert statuses == {name: 400 for name in MALFORMED}
            async with db.uow() as uow:
                assert await uow.session.scalar(select(func.count()).select_from(InboxItem)) == 0
                assert await uow.session.scalar(select(func.count()).select_from(Identity)) == 0
            assert api.sent("sendMessage") == []
            # The webhook still works after all that.
            assert await _post(client, url, _update(message=_message(text="/start"))) == 200
            (welcome,) = await api.wait_for(1, method="sendMessage", chat_id=ALICE)
            assert "Welcome" in welcome.text
    finally:
        await running.__aexit__(None, None, None)


def test_nesting_is_measured_outside_strings_and_up_to_the_limit():
    assert nesting_within("[" * MAX_DEPTH + "]" * MAX_DEPTH, MAX_DEPTH)
    assert not nesting_within("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), MAX_DEPTH)
    assert not nesting_within("[{" * 17 + "}]" * 17, MAX_DEPTH)  # 34 deep, mixed
    # Interleaved pairs hide no depth from the passes: each takes one level off.
    assert not nesting_within("[[]" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), MAX_DEPTH)
    assert nesting_within('{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"{{{{", "a": [[1]]}',
                          3)
