"""`memberbot run` itself serves /metrics: the composition root wires it beside the
purchases API, with the token from the settings, and a signed purchase shows in it."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from datetime import UTC, datetime

import aiohttp

from bot.api import signing
from bot.run import run
from bot.settings import Settings
from domain.members import members
from domain.storage.database import Database
from tests.support.metrics_scrape import Figures


class NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


async def test_a_run_serves_its_figures_behind_the_token(tmp_path, programme):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    settings = Settings(database_url=url, api_key="run-key", metrics_token="run-token",
                        http_host="127.0.0.1", http_port=0)
    stop, out = asyncio.Event(), io.StringIO()
    running = asyncio.create_task(run(settings, stop, stdin=NotATerminal(), stdout=out))
    try:
        async def address() -> str:
            while not (found := re.search(r"web app: +(\S+)", out.getvalue())):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            return found.group(1)
        base = "http://" + await asyncio.wait_for(address(), 30)
        async with aiohttp.ClientSession() as session:
            async def scrape(token: str | None) -> tuple[int, str]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with session.get(base + "/metrics", headers=headers) as resp:
                    return resp.status, await resp.text()

            async def up() -> None:  # the banner comes before the app serves
                while True:
                    try:
                        await scrape(None)
                        return
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            await asyncio.wait_for(up(), 30)
            status, refused = await scrape(None)
            assert status == 401 and json.loads(refused)["error"]["code"] == "token_required"
            await _register(url, programme)
            body = json.dumps({"order_id": "RUN-1", "member": {"number": "00000001"},
                               "amount": 5_000, "currency": "CNY"}).encode()
            async with session.post(base + "/api/v1/purchases", data=body,
                                    headers=signing.headers("run-key", int(time.time()),
                                                            body)) as resp:
                assert resp.status == 201, await resp.text()
                points = (await resp.json())["points"]
            status, text = await scrape("run-token")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert status == 200
    assert Figures(text).get("memberbot_ledger_points_total", movement="issued") == points


async def _register(url: str, programme) -> None:
    db = Database.from_url(url)
    try:
        async with db.uow() as uow:
            await members.register(uow, programme, "telegram", "1001", datetime.now(UTC))
            await uow.commit()
    finally:
        await db.dispose()
