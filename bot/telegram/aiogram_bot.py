"""memberbot on aiogram 3: one Router maps Telegram updates to Inbound values.

aiogram's own polling confirms an offset before the handler has run, so we poll
with aiogram's Bot ourselves: a batch is written to the inbox, and only the next
getUpdates (which confirms it) follows. Updates of one chat are handled in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher, Router, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeUnion,
    CallbackQuery,
    ChatJoinRequest,
    ChatMemberUpdated,
    Message,
    PreCheckoutQuery,
    Update,
)
from aiogram.utils.token import TokenValidationError
from pydantic import TypeAdapter

from bot.ordering import ChatQueue
from bot.settings import SettingsError
from bot.telegram import commands, wiring
from bot.telegram.gateway import Gateway
from bot.telegram.gateway import poll as polling
from bot.telegram.groups import GROUP_KINDS
from bot.telegram.wiring import ALLOWED, POLL_TIMEOUT
from handlers.engine.routing import Router as Commands

log = logging.getLogger(__name__)
_SCOPES = TypeAdapter(BotCommandScopeUnion)
T = TypeVar("T")


def make_bot(token: str, api_url: str) -> Bot:
    _pin_response_types()
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    try:
        return Bot(token, session=session)
    except TokenValidationError as exc:
        raise SettingsError(f"MEMBERBOT_TELEGRAM_TOKEN is not a bot token: {exc}") from None


async def contact(call: Callable[[], Awaitable[T]]) -> T:
    """A start-up call, its failures in our words (see wiring.reach)."""
    try:
        return await call()
    except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
        raise wiring.Unreachable(wiring.network_reason(exc, exc.message)) from None
    except ClientDecodeError:
        raise wiring.Unreachable("the answer was not the Bot API's") from None
    except TelegramUnauthorizedError:
        raise wiring.token_refused() from None
    except TelegramNotFound as exc:
        raise wiring.refused(exc.method.__api_method__, f"{exc.message}; is "
                             "MEMBERBOT_TELEGRAM_API_URL right?") from None
    except TelegramAPIError as exc:
        raise wiring.refused(exc.method.__api_method__, exc.message) from None


_PINNED: list[type] = []


def _pin_response_types() -> None:
    """aiogram builds `Response[<result type>]` for every answer it parses, and pydantic
    keeps such parametrised classes only weakly: when the garbage collector takes one,
    the next call rebuilds it, at about 5 ms a time (a busy bot rebuilt them hundreds
    of times a minute). Holding one of each for the life of the process stops that."""
    if _PINNED:
        return
    results = {method.__returning__ for method in vars(methods).values()
               if isinstance(method, type) and issubclass(method, methods.TelegramMethod)
               and method is not methods.TelegramMethod}
    _PINNED.extend(Response[result] for result in results)


def make_dispatcher(gateway: Gateway, username: str) -> Dispatcher:
    dp = Dispatcher(gateway=gateway, username=username.lower(), disable_fsm=True)
    dp.include_router(make_router())
    return dp


def make_router() -> Router:
    """Handlers without aiogram filters: aiogram runs a synchronous filter (every `F.`
    expression) in a worker thread, one thread hop per filter per update, which cost
    more than handling the update. The same tests are plain code here."""
    router = Router(name="memberbot")
    router.message.register(message)
    router.callback_query.register(button)
    router.my_chat_member.register(membership)
    router.chat_member.register(chat_member)
    router.chat_join_request.register(join_request)
    router.pre_checkout_query.register(pre_checkout)
    return router


async def message(message: Message, event_update: Update, gateway: Gateway,
                  username: str) -> object:
    if message.chat.type in GROUP_KINDS:  # other bots' messages too: they may join or leave
        return await gateway.group_message(message, event_update.update_id, username)
    user = message.from_user
    if user is None or user.is_bot or message.chat.type != "private":
        return UNHANDLED
    return await gateway.private_message(message, event_update.update_id)


async def button(query: CallbackQuery, event_update: Update, gateway: Gateway) -> None:
    await gateway.button(query, event_update.update_id)


async def membership(update: ChatMemberUpdated, event_update: Update,
                     gateway: Gateway) -> object:
    if update.chat.type in GROUP_KINDS:
        return await gateway.bot_membership(update, event_update.update_id)
    if update.chat.type != "private":
        return UNHANDLED
    return await gateway.membership(update, event_update.update_id)


async def chat_member(update: ChatMemberUpdated, event_update: Update,
                      gateway: Gateway) -> None:
    await gateway.chat_member(update, event_update.update_id)


async def join_request(request: ChatJoinRequest, event_update: Update,
                       gateway: Gateway) -> None:
    await gateway.join_request(request, event_update.update_id)


async def pre_checkout(query: PreCheckoutQuery, event_update: Update,
                       gateway: Gateway) -> None:
    await gateway.pre_checkout(query, event_update.update_id)


async def publish_commands(bot: Bot, router: Commands, default_locale: str,
                           operators: dict[str, list[str]] | None = None) -> None:
    for names, scope, language in commands.plan(router, default_locale, operators):
        await bot.set_my_commands([BotCommand(command=n, description=d) for n, d in names],
                                  scope=_SCOPES.validate_python(scope), language_code=language)


async def forget_commands(bot: Bot, chat_id: str) -> None:
    for language in commands.LANGUAGES.values():
        await bot.delete_my_commands(_SCOPES.validate_python(
            {"type": "chat", "chat_id": int(chat_id)}), language_code=language)


async def process(bot: Bot, dp: Dispatcher, gateway: Gateway, update: Update) -> None:
    """Feed one update; whatever no handler took (edits, channel posts, stickers in
    groups, update types we do not know) is finished so it is not recovered forever."""
    key = gateway.key(update.update_id)
    try:
        update.event_type  # noqa: B018 - raises for update types aiogram does not know
    except Exception:  # noqa: BLE001
        await gateway.ignore(key)
        return
    result = await dp.feed_update(bot, update)
    if result is UNHANDLED:
        await gateway.ignore(key)


def payload(update: Update) -> dict[str, Any]:
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


def restore(bot: Bot, data: dict[str, Any]) -> Update:
    return Update.model_validate(data, context={"bot": bot})


def chat_of(update: Update) -> str:
    event = update.message or update.edited_message or update.channel_post
    if event is not None:
        return str(event.chat.id)
    if (checkout := update.pre_checkout_query) is not None:  # with the payer's messages
        return str(checkout.from_user.id)
    if (query := update.callback_query) is not None:
        # A group's buttons queue with its messages: a newcomer's captcha answer comes
        # after their arrival. In a private chat the chat is the presser's.
        return str(query.message.chat.id if query.message else query.from_user.id)
    change = update.my_chat_member or update.chat_member or update.chat_join_request
    if change is not None:
        return str(change.chat.id)
    return "-"


async def poll(bot: Bot, dp: Dispatcher, gateway: Gateway, stop: asyncio.Event,
               queue: ChatQueue) -> None:
    async def fetch(offset: int | None) -> list[Update]:
        return await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT,
                                     allowed_updates=ALLOWED, request_timeout=POLL_TIMEOUT + 10)

    await polling(gateway, queue, stop, fetch,
                  lambda u: (u.update_id, payload(u), chat_of(u)),
                  lambda u: process(bot, dp, gateway, u))
