"""`memberbot run` workers as a deployment runs them behind a reverse proxy: Telegram in
webhook mode, the WeChat callback and the purchases API on each, one PostgreSQL. The
test posts to each worker itself, as the proxy would, and retries on the other one what
a killed worker did not answer, as the proxy (and Telegram's, WeChat's and a till's own
retries) would."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.api import signing
from domain.conversations.tables import InboxItem
from domain.storage.database import Database
from tests.support.fake_telegram import FakeBotAPI
from tests.support.fake_wechat import AES_KEY, APP_ID, SECRET, TOKEN, FakeWeChat, WeChatServer
from tests.support.processes import Child

ROOT = Path(__file__).resolve().parents[2]
HOOK_PATH = "/telegram/updates"
HOOK_SECRET = "two-workers-hook-secret"
API_KEY = "two-workers-api-key-0123456789"
Answer = tuple[int, str] | None  # status and body; None: no answer (the worker is gone)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker(Child):
    """One `memberbot run`, its JSON log in a file the test can read."""

    def __init__(self, tag: str, url: str, telegram: FakeBotAPI, wechat: FakeWeChat,
                 tmp: Path) -> None:
        self.tag = tag
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEMBERBOT_")},
                    "MEMBERBOT_DATABASE_URL": url, "MEMBERBOT_LOG_LEVEL": "INFO",
                    "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": str(self.port),
                    "MEMBERBOT_TELEGRAM_TOKEN": telegram.token,
                    "MEMBERBOT_TELEGRAM_API_URL": telegram.root,
                    # Every worker gives Telegram the proxy's address, never its own.
                    "MEMBERBOT_TELEGRAM_WEBHOOK_URL": f"https://club.example.com{HOOK_PATH}",
                    "MEMBERBOT_TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
                    "MEMBERBOT_WECHAT_APP_ID": APP_ID, "MEMBERBOT_WECHAT_APP_SECRET": SECRET,
                    "MEMBERBOT_WECHAT_TOKEN": TOKEN, "MEMBERBOT_WECHAT_AES_KEY": AES_KEY,
                    "MEMBERBOT_WECHAT_API_URL": wechat.url, "MEMBERBOT_API_KEY": API_KEY,
                    "PYTHONPATH": str(ROOT)}
        self.log = tmp / f"{tag}.log"
        self.tmp = tmp
        self.wechat = WeChatServer(self.url, safe=True)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.tmp, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def says(self, words: str) -> bool:
        return words in self.log.read_text(encoding="utf-8", errors="replace")

    async def up(self, http: aiohttp.ClientSession, within: float = 120) -> None:
        """Serving, and connected to the Bot API: the webhook takes updates (a body that
        is not one is refused with a 400, where a worker still connecting says 503)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            assert self.alive, f"worker {self.tag} exited:\n{self.log.read_text()[-2000:]}"
            answer = await self.telegram(http, {})
            if answer is not None and answer[0] == 400:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"worker {self.tag} did not come up:\n"
                             f"{self.log.read_text()[-2000:]}")

    async def telegram(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> Answer:
        """The update as Telegram posts it to the webhook."""
        return await _answer(http.post(f"{self.url}{HOOK_PATH}", json=update, headers={
            "X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}))

    async def callback(self, http: aiohttp.ClientSession, xml: str) -> Answer:
        """A WeChat callback, signed and encrypted by wechatpy as WeChat does it."""
        try:
            return await self.wechat.post(http, xml)
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def purchase(self, http: aiohttp.ClientSession, order: dict[str, Any]) -> Answer:
        """A till's signed purchase."""
        body = json.dumps(order).encode()
        return await _answer(http.post(f"{self.url}/api/v1/purchases", data=body,
                                       headers=signing.headers(API_KEY, int(time.time()),
                                                               body)))


async def _answer(request) -> Answer:
    try:
        async with request as resp:
            return resp.status, await resp.text()
    except (aiohttp.ClientError, TimeoutError):
        return None


async def time_passes(url: str, by: timedelta = timedelta(minutes=2)) -> int:
    """The unfinished deliveries as recovery will find them `by` from now: leases run
    out and WeChat's in-flight window is over. Only for rows no live worker is on (the
    caller waits until the survivor is idle); the rows are locked while they move, so a
    worker touching one meanwhile waits rather than loses its write. Returns how many
    rows moved."""
    db = Database.from_url(url)
    try:
        async with db.uow() as uow:
            rows = list(await uow.session.scalars(
                select(InboxItem).where(InboxItem.delivered_at.is_(None)).with_for_update()))
            for item in rows:
                item.received_at -= by
                item.lease_until = item.lease_until and item.lease_until - by
                if item.payload and "received" in item.payload:
                    received = datetime.fromisoformat(item.payload["received"]) - by
                    item.payload = {**item.payload, "received": received.isoformat()}
            await uow.commit()
        return len(rows)
    finally:
        await db.dispose()
