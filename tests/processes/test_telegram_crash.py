"""Killing the bot mid-update: `memberbot run` as a real process, `kill -9`, restart.

Telegram has already forgotten the update (the next getUpdates confirmed it), so only
the inbox can bring it back; its effect must happen exactly once and its answer must
reach the member.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from domain.storage.database import create_engine
from tests.support.fake_telegram import FakeBotAPI
from tests.support.processes import Child, own_database, scalar

ROOT = Path(__file__).resolve().parents[2]
ALICE = 3003


class BotProcess(Child):
    def __init__(self, api: FakeBotAPI, url: str, library: str, tmp: Path) -> None:
        self.env = {**os.environ, "MEMBERBOT_DATABASE_URL": url,
                    "MEMBERBOT_TELEGRAM_TOKEN": api.token,
                    "MEMBERBOT_TELEGRAM_API_URL": api.root, "MEMBERBOT_HTTP_PORT": "0",
                    "MEMBERBOT_HTTP_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
        self.args = [sys.executable, "-m", "bot.cli", "run", "--telegram-library", library]
        self.tmp = tmp
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, cwd=self.tmp, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


@pytest.fixture
async def database(request, tmp_path):
    async with own_database(request.param, tmp_path, "crash") as url:
        yield url


async def confirmed(api: FakeBotAPI, update: dict) -> None:
    """Telegram has dropped the update: a later getUpdates carried a higher offset."""
    await api.wait_for(lambda _: any(o > update["update_id"] for o in api.offsets), timeout=30)


@pytest.mark.parametrize(("database", "library"), [
    ("sqlite", "aiogram"), ("sqlite", "ptb"), ("postgresql", "aiogram")],
    indirect=["database"])
async def test_killed_while_answering_the_answer_is_sent_after_restart_and_nothing_repeats(
        database, library, tmp_path):
    async with FakeBotAPI() as api:
        bot = BotProcess(api, database, library, tmp_path)
        api.hang("sendMessage")
        await bot.start()
        try:
            update = api.message(ALICE, "/checkin")
            await confirmed(api, update)
            await api.wait_for(lambda calls: any(c.method == "sendMessage" and c.status is None
                                                 for c in calls), timeout=30)
            await bot.kill()  # the check-in is committed; its answer is not out
            api.release("sendMessage", perform=False)
            assert await scalar(database, "SELECT count(*) FROM checkins") == 1
            assert api.sent("sendMessage") == []
            await bot.start()
            replies = await api.wait_for(2, method="sendMessage", chat_id=ALICE, timeout=30)
            assert "Welcome" in replies[0].text and "+5" in replies[1].text
            api.message(ALICE, "/points")
            replies = await api.wait_for(3, method="sendMessage", chat_id=ALICE, timeout=30)
            assert "Points balance: 5" in replies[2].text
            assert len(api.sent("sendMessage")) == 3
            assert await scalar(database, "SELECT count(*) FROM checkins") == 1
            assert await scalar(database, "SELECT count(*) FROM ledger_entries") == 1
        finally:
            await bot.stop()


@pytest.mark.parametrize(("database", "library"), [
    ("postgresql", "aiogram"), ("postgresql", "ptb")], indirect=["database"])
async def test_killed_inside_the_transaction_the_effect_happens_once_after_restart(
        database, library, tmp_path):
    async with FakeBotAPI() as api:
        bot = BotProcess(api, database, library, tmp_path)
        await bot.start()
        try:
            api.message(ALICE, "/start")
            await api.wait_for(1, method="sendMessage", timeout=30)
            locker = create_engine(database)
            async with locker.connect() as conn:
                # Hold the member's row: the check-in blocks inside its transaction.
                await conn.execute(text("SELECT id FROM members FOR UPDATE"))
                update = api.message(ALICE, "/checkin")
                await confirmed(api, update)
                await asyncio.sleep(0.5)
                await bot.kill()
                await conn.rollback()
            await locker.dispose()
            assert await scalar(database, "SELECT count(*) FROM checkins") == 0
            await bot.start()
            replies = await api.wait_for(2, method="sendMessage", chat_id=ALICE, timeout=30)
            assert "+5" in replies[1].text
            await asyncio.sleep(0.5)
            assert len(api.sent("sendMessage")) == 2
            assert await scalar(database, "SELECT count(*) FROM checkins") == 1
        finally:
            await bot.stop()
