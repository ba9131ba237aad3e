"""The aiohttp web app: Telegram and WeChat webhooks, the shop's API and a health check
share one port. Each service adds its own routes before the app starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from sqlalchemy import text

from domain.storage.database import Database

MAX_BODY = 1024 * 1024  # webhooks and API calls are small; refuse anything bigger early
DB_KEY: web.AppKey[Database] = web.AppKey("db", Database)


def error(status: int, code: str, message: str) -> web.Response:
    """Every refusal of the web app has this shape: a stable code for programs, words
    of our own for people."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def build(db: Database) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[DB_KEY] = db
    app.router.add_get("/healthz", health)
    return app


async def health(request: web.Request) -> web.Response:
    """200 when the database answers: what a load balancer needs to route to us."""
    try:
        async with request.app[DB_KEY].engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
        return web.json_response({"status": "down", "error": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok"})


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Serve until the block ends; yields the bound port (useful when port is 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses
        yield addresses[0][1] if addresses else port
    finally:
        await runner.cleanup()
