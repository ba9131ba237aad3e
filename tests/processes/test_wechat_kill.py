"""Killing the WeChat bot mid-burst: `memberbot run` as a real process, `kill -9`, restart.

Many members send /checkin at once; the bot is killed as soon as the first passive
replies are back. Like WeChat, the test then retries every callback that got no reply,
and later lets recovery run. Every member must get the answer exactly once: as the
passive reply (before the kill or to the retry) or as a customer-service message, never
both, and every check-in happens once.

Recovery leaves deliveries younger than a minute alone (another worker may be on them);
rather than wait, the test moves the inbox's times two minutes back while the bot is
stopped, as if that much time had passed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from domain.conversations.tables import InboxItem
from domain.storage.database import Database
from tests.support.fake_wechat import (
    AES_KEY,
    APP_ID,
    SECRET,
    TOKEN,
    FakeWeChat,
    WeChatServer,
    message_xml,
)
from tests.support.processes import Child, own_database, scalar

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = 120
KILL_AFTER = 5  # passive replies back before the kill


class WeChatProcess(Child):
    def __init__(self, api: FakeWeChat, url: str, tmp: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env = {**os.environ, "MEMBERBOT_DATABASE_URL": url,
                    "MEMBERBOT_WECHAT_APP_ID": APP_ID, "MEMBERBOT_WECHAT_APP_SECRET": SECRET,
                    "MEMBERBOT_WECHAT_TOKEN": TOKEN, "MEMBERBOT_WECHAT_AES_KEY": AES_KEY,
                    "MEMBERBOT_WECHAT_API_URL": api.url, "MEMBERBOT_HTTP_HOST": "127.0.0.1",
                    "MEMBERBOT_HTTP_PORT": str(self.port), "PYTHONPATH": str(ROOT)}
        for name in ("MEMBERBOT_TELEGRAM_TOKEN", "MEMBERBOT_API_KEY"):
            self.env.pop(name, None)
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=self.tmp, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                assert self.proc.returncode is None, "the bot exited"
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("the bot did not come up")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request, tmp_path):
    async with own_database(request.param, tmp_path, "wx_kill") as url:
        yield url


async def two_minutes_pass(url: str) -> None:
    """The inbox as recovery will find it two minutes from now (the bot is stopped)."""
    back = timedelta(minutes=2)
    db = Database.from_url(url)
    try:
        async with db.uow() as uow:
            for item in await uow.session.scalars(select(InboxItem)):
                item.received_at -= back
                item.lease_until = item.lease_until and item.lease_until - back
                received = datetime.fromisoformat(item.payload["received"]) - back
                item.payload = {**item.payload, "received": received.isoformat()}
            await uow.commit()
    finally:
        await db.dispose()


async def test_killed_mid_burst_each_member_gets_the_answer_exactly_once(database, tmp_path):
    openids = [f"oKilled{i:03d}" for i in range(MEMBERS)]
    messages = {o: message_xml(o, content="/checkin", msg_id=70_000 + i)
                for i, o in enumerate(openids)}
    passive: Counter[str] = Counter()
    async with FakeWeChat() as api:
        bot = WeChatProcess(api, database, tmp_path)
        wechat = WeChatServer(bot.url, safe=True)
        await bot.start()
        try:
            enough = asyncio.Event()

            async def callback(http: aiohttp.ClientSession, openid: str) -> bool:
                """One POST as WeChat makes it; True if it got its passive reply."""
                try:
                    status, body = await wechat.post(http, messages[openid])
                except (TimeoutError, aiohttp.ClientError):
                    return False
                if status != 200 or body == "success":
                    return False
                reply = wechat.open_reply(body)
                assert reply and "+5" in reply
                passive[openid] += 1
                if sum(passive.values()) >= KILL_AFTER:
                    enough.set()
                return True

            async with aiohttp.ClientSession() as http:
                burst = [asyncio.create_task(callback(http, o)) for o in openids]
                await asyncio.wait_for(enough.wait(), 60)
                await bot.kill()
                answered = await asyncio.gather(*burst)
            unanswered = [o for o, ok in zip(openids, answered, strict=True) if not ok]
            assert unanswered  # the kill came mid-burst

            await bot.start()
            async with aiohttp.ClientSession() as http:  # WeChat's retries
                await asyncio.gather(*(callback(http, o) for o in unanswered))
            await bot.stop()

            await two_minutes_pass(database)
            await bot.start()  # recovery runs at start
            for _ in range(300):
                if await scalar(database, "SELECT count(*) FROM inbox "
                                          "WHERE delivered_at IS NULL") == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            await bot.stop()
    pushed = Counter(p["touser"] for p in api.sent())
    both = sorted(o for o in openids if passive[o] and pushed[o])
    assert both == []  # the reported bug: a passive reply, then the same as a push
    assert {o: passive[o] + pushed[o] for o in openids} == {o: 1 for o in openids}
    assert await scalar(database, "SELECT count(*) FROM checkins") == MEMBERS
