"""A signed client for the purchases API, talking to the real aiohttp app over HTTP."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot import web
from bot.api import service, signing
from bot.app import App
from bot.settings import Settings
from domain.members import members
from handlers.routers import build_engine

KEY = "test-key-0123456789"


@dataclass
class Api:
    session: aiohttp.ClientSession
    base: str
    app: App

    async def post(self, path: str, payload: Any, key: str = KEY, at: int | None = None,
                   raw: bytes | None = None) -> tuple[int, dict]:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = signing.headers(key, at if at is not None else int(time.time()), body)
        async with self.session.post(self.base + path, data=body, headers=headers) as resp:
            return resp.status, await resp.json()


def without_promotions(programme):
    """The API stamps purchases with the real clock: no bonus-points days, so that what
    a purchase earns does not depend on the day the tests run."""
    return programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"promotions": ()})})


@asynccontextmanager
async def serving_one_member(db, programme):
    """The API with member 00000001 registered, and no bonus-points days."""
    plain = without_promotions(programme)
    async with db.uow() as uow:
        await members.register(uow, plain, "telegram", "1001", datetime.now(UTC))
        await uow.commit()
    async with serving(db, plain) as client:
        yield client


@asynccontextmanager
async def serving(db, programme):
    app = App(Settings(api_key=KEY), programme, db, build_engine(db, programme))
    web_app = web.build(db)
    async with service.running(app, web_app), web.serving(web_app, "127.0.0.1", 0) as port, \
            aiohttp.ClientSession() as session:
        yield Api(session, f"http://127.0.0.1:{port}", app)
