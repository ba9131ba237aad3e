"""WeChat as a `memberbot run` service: the /wechat routes and the background tasks
(recovery of unfinished deliveries, access-token renewal, member-card sync)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from bot.app import App
from bot.pipeline import Pipeline
from bot.programme import folder as programme_folder
from bot.settings import Settings
from bot.wechat import groups
from bot.wechat.api import Api, Fetch, fetcher
from bot.wechat.cards import Cards
from bot.wechat.envelope import Envelope
from bot.wechat.media import Media
from bot.wechat.messages import PLATFORM
from bot.wechat.pictures import Pictures
from bot.wechat.push import Pusher
from bot.wechat.scenes import SceneCodes
from bot.wechat.tokens import DatabaseTokens, RedisTokens
from bot.wechat.webhook import Webhook
from domain.storage.database import Database

log = logging.getLogger(__name__)
PUSHER: web.AppKey[Pusher] = web.AppKey("wechat_pusher", Pusher)


@asynccontextmanager
async def token_store(settings: Settings, db: Database,
                      fetch: Fetch) -> AsyncIterator[DatabaseTokens | RedisTokens]:
    name = f"wechat:{settings.wechat_app_id}"
    if not settings.redis_url:
        yield DatabaseTokens(db, name, fetch)
        return
    from redis import asyncio as aioredis

    client = aioredis.from_url(settings.redis_url)
    try:
        yield RedisTokens(client, name, fetch)
    finally:
        await client.aclose()


async def _recovering(pipeline: Pipeline, hook: Webhook) -> None:
    """What a killed predecessor left unfinished is finished at start (once past the
    in-flight window), not only at the first pass of the loop."""
    try:
        await pipeline.recover(hook.process)
    except Exception:
        log.exception("recovery at start failed", extra={"platform": PLATFORM})
    await pipeline.keep_recovering(hook.process)


@asynccontextmanager
async def running(app: App, web_app: web.Application) -> AsyncIterator[None]:
    settings = app.settings
    assert settings.wechat_app_id and settings.wechat_app_secret and settings.wechat_token
    clock = lambda: datetime.now(UTC)  # noqa: E731
    async with aiohttp.ClientSession() as session, token_store(
            settings, app.db, fetcher(session, settings.wechat_api_url, settings.wechat_app_id,
                                      settings.wechat_app_secret, clock)) as tokens:
        api = Api(session, settings.wechat_api_url, tokens)
        config = app.programme.wechat
        name = f"wechat:{settings.wechat_app_id}"
        pictures = Pictures(SceneCodes(app.db, api, name), Media(app.db, api, name),
                            app.programme.zone)
        pusher = Pusher(app.db, api, config, app.programme.default_locale, pictures=pictures)
        cards = Cards(app.db, api, app.programme) if config.card_id else None
        pipeline = Pipeline(app.db, app.engine, PLATFORM)
        try:
            await groups.keep(app.db, app.programme, programme_folder(settings.programme_file),
                              PLATFORM)
        except Exception as exc:  # another worker starting at once: it brings them in line
            log.warning("wechat groups not updated: %s", exc, extra={"platform": PLATFORM})
        hook = Webhook(Envelope(settings.wechat_token, settings.wechat_app_id,
                                settings.wechat_aes_key, settings.wechat_max_age),
                       pipeline, app.db, pusher, config, cards, pictures=pictures)
        web_app.router.add_get("/wechat", hook.verify)
        web_app.router.add_post("/wechat", hook.receive)
        web_app[PUSHER] = pusher
        app.pushers[PLATFORM] = pusher.notify
        jobs = [_recovering(pipeline, hook), tokens.keep_fresh()]
        if cards is not None:
            jobs.append(cards.keep_syncing())
        tasks = [asyncio.create_task(job) for job in jobs]
        log.info("wechat ready", extra={"safe_mode": settings.wechat_aes_key is not None,
                                        "member_card": bool(cards)})
        try:
            yield
        finally:
            await hook.drain()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
