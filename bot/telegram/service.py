"""Telegram inside `memberbot run`: long polling, or a webhook on the shared web app.

Telegram out of reach at start is waited for (wiring.reach) in the background, while
the rest of the web app serves; a token it refuses stops the run with one line.

On start, whatever the last process left unfinished in the inbox is finished first,
then new updates are taken. Replies and notices go through one flood-safe Sender.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bot.app import App
from bot.ordering import ChatQueue, cancel
from bot.pipeline import Pipeline
from bot.telegram import aiogram_bot, community, webhook, wiring
from bot.telegram.community import TelegramRooms
from bot.telegram.gateway import PLATFORM, Gateway, start_link
from bot.telegram.groups import build_moderation
from bot.telegram.payments import TelegramPayments
from bot.telegram.transport import AiogramTransport
from bot.telegram.wiring import ALLOWED, sender, staff_menus
from handlers.routers import build_engine

log = logging.getLogger(__name__)
SECRET_HEADER = webhook.SECRET_HEADER


@asynccontextmanager
async def running(app: App, web_app: web.Application) -> AsyncIterator[None]:
    """Telegram, connected on entry: for tests, benchmarks and programs of their own."""
    async with connecting(app, web_app) as connected:
        await connected
        yield


@asynccontextmanager
async def connecting(app: App, web_app: web.Application) -> AsyncIterator[asyncio.Task[None]]:
    """Telegram in `memberbot run`: connects in the background (see wiring.connecting);
    yields the task that ends once it is connected."""
    if app.settings.telegram_library == "ptb":
        from bot.telegram import ptb_bot
        async with ptb_bot.connecting(app, web_app) as connected:
            yield connected
        return
    settings = app.settings
    bot = aiogram_bot.make_bot(settings.telegram_token or "", settings.telegram_api_url)
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []
    queue = ChatQueue()
    gateways: list[Gateway] = []

    def reach(call):
        return wiring.reach(lambda: aiogram_bot.contact(call), settings.telegram_api_url)

    async def connect(door: wiring.Door) -> None:
        me = await reach(bot.get_me)
        transport = AiogramTransport(bot)
        engine = build_engine(app.db, app.programme, username=me.username,
                              start_link=start_link(me.username), rooms=TelegramRooms(transport),
                              payments=TelegramPayments(transport))
        gateway = Gateway(app.db, Pipeline(app.db, engine, PLATFORM), transport, None,
                          me.id, app.programme.default_locale,
                          build_moderation(app.db, app.programme, me.username))
        gateways.append(gateway)
        gateway.sender = sender(settings, transport, gateway)
        dp = aiogram_bot.make_dispatcher(gateway, me.username or "")
        staff = await staff_menus(app)
        await reach(lambda: aiogram_bot.publish_commands(
            bot, engine.router, app.programme.default_locale, staff))

        async def replay(data: dict) -> None:
            await aiogram_bot.process(bot, dp, gateway, aiogram_bot.restore(bot, data))

        recovered = await gateway.pipeline.recover(
            replay, alone=not settings.telegram_webhook_url)
        if settings.telegram_webhook_url:
            door.open(webhook_handler(bot, dp, gateway, queue, settings))
            await reach(lambda: bot.set_webhook(settings.telegram_webhook_url,
                                                secret_token=settings.telegram_webhook_secret,
                                                allowed_updates=ALLOWED))
        else:
            await reach(lambda: bot.delete_webhook(drop_pending_updates=False))
            tasks.append(asyncio.create_task(aiogram_bot.poll(bot, dp, gateway, stop, queue)))
        tasks.append(asyncio.create_task(gateway.pipeline.keep_recovering(replay)))
        menus = wiring.StaffMenus(
            app, staff, lambda changed: aiogram_bot.publish_commands(
                bot, engine.router, app.programme.default_locale, changed),
            lambda chat: aiogram_bot.forget_commands(bot, chat))
        gateway.staff_changed = menus.nudge
        tasks.append(asyncio.create_task(menus.keep()))
        tasks.extend(community.start_workers(app.db, app.programme, transport, stop,
                                             gateway.chat))
        tasks.append(asyncio.create_task(gateway.support.relay(gateway, stop)))
        wiring.ready(app, gateway.sender)
        log.info("telegram ready", extra={"bot": me.username, "recovered": recovered})

    try:
        async with wiring.connecting(app, web_app, connect) as connected:
            yield connected
    finally:
        stop.set()
        await cancel(tasks)
        await queue.drain()
        for gateway in gateways:
            await gateway.close()
        await bot.session.close()


def webhook_handler(bot, dp, gateway: Gateway, queue: ChatQueue, settings):
    def parse(data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        update = aiogram_bot.restore(bot, data)
        return update, aiogram_bot.payload(update)

    async def take(parsed: tuple[Any, dict[str, Any]]) -> None:
        update, payload = parsed
        await gateway.pipeline.receive([(gateway.key(update.update_id), payload)])
        await queue.put(aiogram_bot.chat_of(update),
                        aiogram_bot.process(bot, dp, gateway, update))

    return webhook.checked_webhook(settings.telegram_webhook_secret or "", parse, take)
