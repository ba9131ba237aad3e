"""Inbound Telegram throughput: memberbot against a bare aiogram echo bot.

    python -m benchmarks.telegram_inbound [--members 1000] [--updates 3000]

Both bots poll the same local Bot API server (tests/support/fake_telegram.py) over HTTP with
real aiogram, and get the same mix of updates from `--members` members: /points,
/checkin and a button press (Later under the greeting), a third each. memberbot runs
its whole path: inbox, handlers, SQLite, replies through the flood-safe sender. The
echo bot is aiogram's own polling with handlers that echo a message or answer a
button, making the same number of Bot API calls per update.

Every member sends /start first, untimed, so the timed mix meets existing members.
The figure is updates/s until the last expected call arrived; the ratio is memberbot
over echo. Target: at least 0.4.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from aiogram import Dispatcher
from aiogram.types import CallbackQuery, Message

from bot import web
from bot.app import App
from bot.settings import Settings
from bot.telegram import aiogram_bot, service
from domain import config
from domain.storage import schema
from domain.storage.database import Database
from handlers.routers import build_engine
from tests.support.fake_telegram import READ_METHODS, Call, FakeBotAPI

TARGET = 0.4
CALLS = {"/points": 1, "/checkin": 1, "start:later": 2}  # Bot API calls each update makes


def mix(api: FakeBotAPI, members: int, updates: int, greeting: dict[int, int]) -> int:
    """Push the timed updates; return how many acting calls they should cause."""
    rng = random.Random(7)
    expected = 0
    for i in range(updates):
        user = 10_000 + i % members
        kind = rng.choice(list(CALLS))
        if kind == "start:later":
            api.callback(user, kind, greeting.get(user, 1))
        else:
            api.message(user, kind)
        expected += CALLS[kind]
    return expected


class Acted:
    """How many acting calls the server answered ok (of one method, if given), counted
    as they complete. A wait is re-checked after every call: counting with `api.sent()`
    scans every call so far each time, and with thousands of them the scan cost this
    process (the bot's) more than the bot itself."""

    def __init__(self, api: FakeBotAPI, method: str | None = None) -> None:
        self.api, self.method, self.seen, self.count = api, method, 0, 0
        self.open: list[Call] = []  # counted calls still being answered

    def __call__(self) -> int:
        calls = self.api.calls
        fresh = [c for c in calls[self.seen:] if c.method not in READ_METHODS
                 and self.method in (None, c.method)]
        self.seen = len(calls)
        waiting = self.open + fresh
        self.open = [c for c in waiting if c.status is None]
        self.count += sum(c.ok for c in waiting)
        return self.count

    async def reach(self, expected: int) -> None:
        await self.api.wait_for(lambda _: self() >= expected, timeout=600)


async def timed(api: FakeBotAPI, expected: int) -> float:
    start = time.perf_counter()
    await Acted(api).reach(expected)
    return time.perf_counter() - start


@asynccontextmanager
async def serving(api: FakeBotAPI, db: Database,
                  programme: config.Programme) -> AsyncIterator[None]:
    """memberbot polling `api` over HTTP, its whole path on `db` (migrated here)."""
    await schema.upgrade(db.engine)
    settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                       telegram_rate=1000.0)
    app = App(settings, programme, db, build_engine(db, programme))
    running = service.running(app, web.build(db))
    await running.__aenter__()
    try:
        yield
    finally:
        await running.__aexit__(None, None, None)


async def memberbot(api: FakeBotAPI, members: int, updates: int, folder: Path) -> float:
    db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    try:
        async with serving(api, db, config.load()):
            return await _mix(api, members, updates)
    finally:
        await db.dispose()


async def _mix(api: FakeBotAPI, members: int, updates: int) -> float:
    base = len(api.sent())
    for user in range(10_000, 10_000 + members):
        api.message(user, "/start")
    await Acted(api).reach(base + members)
    greeting = {int(c.chat_id): int(c.result["message_id"]) for c in api.sent("sendMessage")}
    expected = len(api.sent()) + mix(api, members, updates, greeting)
    return await timed(api, expected)


async def echo(api: FakeBotAPI, members: int, updates: int) -> float:
    bot = aiogram_bot.make_bot(api.token, api.root)
    dp = Dispatcher()

    @dp.message()
    async def say_again(message: Message) -> None:
        await message.answer(message.text or "?")

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        await bot.send_message(query.from_user.id, query.data or "?")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False,
                                                   close_bot_session=True))
    try:
        base = len(api.sent())
        for user in range(10_000, 10_000 + members):
            api.message(user, "/start")
        await Acted(api).reach(base + members)
        expected = len(api.sent()) + mix(api, members, updates, {})
        return await timed(api, expected)
    finally:
        await dp.stop_polling()
        await polling


async def measure(members: int = 1000, updates: int = 3000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        async with FakeBotAPI() as api:
            bare = await echo(api, members, updates)
        async with FakeBotAPI() as api:
            ours = await memberbot(api, members, updates, Path(folder))
    return {"members": members, "updates": updates, "memberbot_per_s": updates / ours,
            "echo_per_s": updates / bare, "ratio": bare / ours}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=3000)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    result = asyncio.run(measure(args.members, args.updates))
    print(f"{'bot':<12}{'updates/s':>12}")
    print(f"{'echo':<12}{result['echo_per_s']:>12,.0f}")
    print(f"{'memberbot':<12}{result['memberbot_per_s']:>12,.0f}")
    verdict = "ok" if result["ratio"] >= TARGET else "MISSED"
    print(f"ratio memberbot/echo: {result['ratio']:.2f} (target >= {TARGET}: {verdict})")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0 if result["ratio"] >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
