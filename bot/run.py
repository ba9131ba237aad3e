"""`memberbot run`: every configured platform in one process, on one web app.

A service is an async context manager factory `running(app, web_app)`: it adds its
routes and starts its tasks on entry, and stops them on exit. With no platform
configured, the console chat runs instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from aiohttp import web as aioweb

from bot import console, scheduling, web
from bot.app import App, lifespan
from bot.campaign_dispatch import Dispatcher
from bot.memory import freeze_start_up
from bot.notifier import Notifier
from bot.ordering import cancel, stop_on_signals
from bot.settings import Settings

log = logging.getLogger(__name__)
Service = Callable[[App, aioweb.Application], AbstractAsyncContextManager[None]]


def services(settings: Settings) -> list[Service]:
    """What the settings turn on. Imported here so an unused SDK is never loaded."""
    found: list[Service] = []
    if settings.telegram:
        from bot.telegram import service as telegram
        found.append(telegram.running)
    if settings.wechat:
        from bot.wechat import service as wechat
        found.append(wechat.running)
    if settings.api_key:
        from bot.api import service as api
        found.append(api.running)
    return found


async def run(settings: Settings, stop: asyncio.Event | None = None) -> int:
    chosen = services(settings)
    if not chosen:
        async with lifespan(settings) as app, scheduling.running(app):
            async with console.session(app, user="you") as chat:
                await console.run(chat, default_locale=app.programme.default_locale)
        return 0
    stop = stop or stop_on_signals()
    async with lifespan(settings) as app, AsyncExitStack() as stack:
        web_app = web.build(app.db)
        for service in chosen:
            await stack.enter_async_context(service(app, web_app))
        await stack.enter_async_context(scheduling.running(app))
        if app.pushers:
            notifier = Notifier(app.db, app.programme, app.pushers)
            stack.push_async_callback(cancel, [asyncio.create_task(notifier.run())])
            # Alone like the inbox's poller: SQLite is one process; a long poller is the
            # only one getUpdates lets through.
            alone = app.db.dialect == "sqlite" or (settings.telegram
                                                   and not settings.telegram_webhook)
            dispatcher = Dispatcher(app.db, app.programme, app.pushers, app.editors, alone=alone)
            stack.push_async_callback(cancel, [asyncio.create_task(dispatcher.run())])
        port = await stack.enter_async_context(
            web.serving(web_app, settings.http_host, settings.http_port))
        freeze_start_up()
        log.info("memberbot running", extra={"http_port": port,
                                             "services": [s.__module__ for s in chosen]})
        await stop.wait()
    return 0
