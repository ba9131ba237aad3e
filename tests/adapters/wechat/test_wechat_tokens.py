"""One access token for every process: N worker processes, counted token fetches.

Run as a script, this file is one worker: it makes API calls through the shared token
store, reports, waits for "go", and calls again after the test invalidated the token.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKERS, CALLS = 4, 10
REDIS_URL = os.environ.get("MEMBERBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def worker(db_url: str, schema: str, fake_url: str, redis_url: str, name: str,
                 me: str) -> None:
    from datetime import UTC, datetime

    import aiohttp

    from bot.wechat.api import Api, fetcher
    from bot.wechat.tokens import DatabaseTokens, RedisTokens
    from domain.storage.database import Database
    from tests.support.fake_wechat import APP_ID, SECRET

    kwargs = {"connect_args": {"server_settings": {"search_path": schema}}} if schema else {}
    db = Database.from_url(db_url, **kwargs)
    redis = None
    async with aiohttp.ClientSession() as session:
        fetch = fetcher(session, fake_url, APP_ID, SECRET, lambda: datetime.now(UTC))
        if redis_url:
            from redis import asyncio as aioredis
            redis = aioredis.from_url(redis_url)
            tokens = RedisTokens(redis, name, fetch)
        else:
            tokens = DatabaseTokens(db, name, fetch)
        api = Api(session, fake_url, tokens)

        async def burst() -> None:
            await asyncio.gather(*(api.call("/cgi-bin/message/custom/send", {
                "touser": f"o{me}", "msgtype": "text", "text": {"content": str(i)}})
                for i in range(CALLS)))

        await burst()
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await burst()
        print(json.dumps({"worker": me, "done": True}), flush=True)
    if redis is not None:
        await redis.aclose()
    await db.dispose()


@pytest.mark.parametrize("store", ["database", "redis"])
async def test_workers_share_one_token_and_refresh_it_once(backend, tmp_path, store):
    from domain.storage.tables import Base
    from tests.support.fake_wechat import FakeWeChat

    redis_url = ""
    if store == "redis":
        if backend.kind != "sqlite":
            pytest.skip("the Redis store does not depend on the database")
        redis_url = REDIS_URL
        from redis import asyncio as aioredis
        probe = aioredis.from_url(redis_url)
        try:
            await probe.ping()
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"Redis: {exc}")
        finally:
            await probe.aclose()
    db = await backend.empty()
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    url = db.engine.url.render_as_string(hide_password=False)
    schema = backend._schemas[-1] if backend.kind == "postgresql" else ""
    await db.dispose()
    name = f"wechat:test-{uuid.uuid4().hex[:8]}"
    async with FakeWeChat() as fake:
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, __file__, url, schema, fake.url, redis_url, name, str(w),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
            for w in range(WORKERS)]
        try:
            for proc in procs:
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                assert line.strip() == b"ready", (line, await proc.stderr.read())
            assert fake.token_fetches == 1
            fake.invalidate()  # every worker now holds a dead token
            for proc in procs:
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            outputs = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err.decode()
            assert json.loads(out)["done"]
        assert fake.token_fetches == 2
        assert len(fake.sent()) == 2 * WORKERS * CALLS


if __name__ == "__main__":
    asyncio.run(worker(*sys.argv[1:7]))
