"""memberbot on python-telegram-bot 22.

`install(application, app)` adds memberbot to a PTB Application a team already runs:
one TypeHandler maps every update to the same Gateway the aiogram adapter uses.
`connecting(app, web_app)` is `memberbot run --telegram-library ptb`: like the aiogram
service it polls with the library's Bot itself, recording each batch in the inbox
before the next getUpdates confirms it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from telegram import BotCommand, BotCommandScope, Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import App
from bot.ordering import ChatQueue, cancel
from bot.pipeline import Pipeline
from bot.telegram import commands, community, webhook, wiring
from bot.telegram.community import TelegramRooms
from bot.telegram.gateway import PLATFORM, Gateway, start_link
from bot.telegram.gateway import poll as polling
from bot.telegram.groups import GROUP_KINDS, build_moderation
from bot.telegram.payments import TelegramPayments
from bot.telegram.transport import PtbTransport
from handlers.engine.routing import Router
from handlers.routers import build_engine

log = logging.getLogger(__name__)
GROUP = -100  # before a host application's own handlers
GATEWAY = "memberbot_gateway"
T = TypeVar("T")


def install(application: Application, app: App) -> Gateway:
    """Call after `await application.initialize()`, so the bot knows its username."""
    bot = application.bot
    transport = PtbTransport(bot)
    engine = build_engine(app.db, app.programme, username=bot.username,
                          start_link=start_link(bot.username), rooms=TelegramRooms(transport),
                          payments=TelegramPayments(transport))
    gateway = Gateway(app.db, Pipeline(app.db, engine, PLATFORM), transport, None, bot.id,
                      app.programme.default_locale,
                      build_moderation(app.db, app.programme, bot.username))
    gateway.sender = wiring.sender(app.settings, transport, gateway)
    application.bot_data[GATEWAY] = gateway
    application.add_handler(TypeHandler(Update, on_update), group=GROUP)
    return gateway


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    gateway: Gateway = context.application.bot_data[GATEWAY]
    uid = update.update_id
    message, query, change = update.message, update.callback_query, update.my_chat_member
    request, member = update.chat_join_request, update.chat_member
    checkout = update.pre_checkout_query
    if message is not None and message.chat.type in GROUP_KINDS:
        await gateway.group_message(message, uid, (context.bot.username or "").lower())
    elif (message is not None and message.chat.type == "private"
          and message.from_user is not None and not message.from_user.is_bot):
        await gateway.private_message(message, uid)
    elif query is not None:
        await gateway.button(query, uid)
    elif change is not None and change.chat.type == "private":
        await gateway.membership(change, uid)
    elif change is not None and change.chat.type in GROUP_KINDS:
        await gateway.bot_membership(change, uid)
    elif request is not None:
        await gateway.join_request(request, uid)
    elif member is not None:
        await gateway.chat_member(member, uid)
    elif checkout is not None:
        await gateway.pre_checkout(checkout, uid)
    else:
        await gateway.ignore(gateway.key(uid))  # edits, channel posts, other bots


async def publish_commands(bot, router: Router, default_locale: str,
                           operators: dict[str, list[str]] | None = None) -> None:
    for names, scope, language in commands.plan(router, default_locale, operators):
        await bot.set_my_commands([BotCommand(n, d) for n, d in names],
                                  scope=BotCommandScope.de_json(scope, bot),
                                  language_code=language)


async def forget_commands(bot, chat_id: str) -> None:
    """A chat's own menus gone (its staff role was revoked): the members' menu again."""
    for language in commands.LANGUAGES.values():
        await bot.delete_my_commands(scope=BotCommandScope.de_json(
            {"type": "chat", "chat_id": int(chat_id)}, bot), language_code=language)


def chat_of(update: Update) -> str:
    chat = update.effective_chat
    return str(chat.id) if chat is not None else "-"


@asynccontextmanager
async def connecting(app: App, web_app: web.Application) -> AsyncIterator[asyncio.Task[None]]:
    """`memberbot run --telegram-library ptb`: connects in the background (see
    wiring.connecting); yields the task that ends once it is connected."""
    settings = app.settings
    application = (ApplicationBuilder().token(settings.telegram_token or "")
                   .base_url(f"{settings.telegram_api_url}/bot")
                   .base_file_url(f"{settings.telegram_api_url}/file/bot")
                   .updater(None).build())
    stop = asyncio.Event()
    tasks: list[asyncio.Task] = []
    queue = ChatQueue()

    def reach(call):
        return wiring.reach(lambda: contact(call), settings.telegram_api_url)

    async def connect(door: wiring.Door) -> None:
        await reach(application.initialize)
        gateway = install(application, app)
        staff = await wiring.staff_menus(app)
        await reach(lambda: publish_commands(application.bot, gateway.pipeline.engine.router,
                                             app.programme.default_locale, staff))

        async def feed(data: dict[str, Any]) -> None:
            await application.process_update(Update.de_json(data, application.bot))

        recovered = await gateway.pipeline.recover(feed, alone=not settings.telegram_webhook_url)
        if settings.telegram_webhook_url:
            door.open(webhook_handler(application, gateway, queue, settings))
            await reach(lambda: application.bot.set_webhook(
                settings.telegram_webhook_url, secret_token=settings.telegram_webhook_secret,
                allowed_updates=wiring.ALLOWED))
        else:
            await reach(lambda: application.bot.delete_webhook(drop_pending_updates=False))
            tasks.append(asyncio.create_task(poll(application, gateway, stop, queue)))
        tasks.append(asyncio.create_task(gateway.pipeline.keep_recovering(feed)))
        menus = wiring.StaffMenus(
            app, staff, lambda changed: publish_commands(
                application.bot, gateway.pipeline.engine.router,
                app.programme.default_locale, changed),
            lambda chat: forget_commands(application.bot, chat))
        gateway.staff_changed = menus.nudge
        tasks.append(asyncio.create_task(menus.keep()))
        tasks.extend(community.start_workers(app.db, app.programme, gateway.transport, stop,
                                             gateway.chat))
        tasks.append(asyncio.create_task(gateway.support.relay(gateway, stop)))
        wiring.ready(app, gateway.sender)
        log.info("telegram ready", extra={"bot": application.bot.username,
                                          "recovered": recovered})

    try:
        async with wiring.connecting(app, web_app, connect) as connected:
            yield connected
    finally:
        stop.set()
        await cancel(tasks)
        await queue.drain()
        gateway = application.bot_data.get(GATEWAY)
        if gateway is not None:
            await gateway.close()
        await application.shutdown()
        await application.bot.shutdown()  # its HTTP clients, when initialize never finished


async def contact(call: Callable[[], Awaitable[T]]) -> T:
    """A start-up call, its failures in our words (see wiring.reach)."""
    try:
        return await call()
    except InvalidToken as exc:
        said = str(exc.__cause__ or exc)  # the outer message quotes the token itself
        if isinstance(exc.__cause__, TelegramError) and exc.__cause__.__cause__ is not None:
            raise wiring.Unreachable("the answer was not the Bot API's") from None
        if said.startswith("Unauthorized"):
            raise wiring.token_refused() from None
        raise wiring.refused(None, f"{said}; is MEMBERBOT_TELEGRAM_API_URL right?") from None
    except BadRequest as exc:  # a NetworkError to PTB, but Telegram did answer
        raise wiring.refused(None, exc.message) from None
    except (NetworkError, RetryAfter) as exc:  # TimedOut is a NetworkError
        raise wiring.Unreachable(wiring.network_reason(exc, exc.message)) from None
    except TelegramError as exc:
        raise wiring.refused(None, exc.message) from None


async def poll(application: Application, gateway: Gateway, stop: asyncio.Event,
               queue: ChatQueue) -> None:
    async def fetch(offset: int | None) -> tuple[Update, ...]:
        return await application.bot.get_updates(
            offset=offset, timeout=wiring.POLL_TIMEOUT, allowed_updates=wiring.ALLOWED,
            read_timeout=wiring.POLL_TIMEOUT + 10)

    await polling(gateway, queue, stop, fetch,
                  lambda u: (u.update_id, u.to_dict(), chat_of(u)),
                  application.process_update)


def webhook_handler(application: Application, gateway: Gateway, queue: ChatQueue, settings):
    def parse(data: dict[str, Any]) -> tuple[Update, dict[str, Any]]:
        update = Update.de_json(data, application.bot)
        return update, update.to_dict()  # what replays will see, so it must convert back

    async def take(parsed: tuple[Update, dict[str, Any]]) -> None:
        update, payload = parsed
        await gateway.pipeline.receive([(gateway.key(update.update_id), payload)])
        await queue.put(chat_of(update), application.process_update(update))

    return webhook.checked_webhook(settings.telegram_webhook_secret or "", parse, take)
