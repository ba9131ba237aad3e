"""What the aiogram and python-telegram-bot services share: the updates asked for, the
flood-safe sender, pushing and editing for notices and campaigns, and staff menus. Kept
apart so that each library's service imports it rather than the other service."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urlsplit

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from bot.app import App
from bot.settings import SettingsError
from bot.telegram import commands
from bot.telegram.gateway import PLATFORM, Gateway
from bot.telegram.sender import Sender
from domain.staff import roles

T = TypeVar("T")

ALLOWED = ["message", "edited_message", "channel_post", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 25
PUSH_OUTCOMES = {"sent": "sent", "unreachable": "unreachable", "rejected": "rejected"}
MAX_WAIT = 60  # seconds between start-up attempts, at most


class Unreachable(Exception):
    """No Bot API answer (network down, DNS, timeout, a 5xx or a proxy's page): worth
    trying again. Its message says why, in a few words."""


async def reach(call: Callable[[], Awaitable[T]], api_url: str) -> T:
    """A start-up call to Telegram, tried until it gets an answer: a bot started before
    the network is up, or during a Telegram outage, waits for it (1, 2, 4 ... 60 s
    apart), saying so on stderr once per attempt, instead of dying. The library's
    `contact` turns its failures into Unreachable or, when Telegram answered no,
    SettingsError."""
    host = urlsplit(api_url).netloc or api_url
    failed = False

    def say(state: RetryCallState) -> None:
        nonlocal failed
        failed = True
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        print(f"Telegram API unreachable at {host} ({error}); retrying in {wait:g} s",
              file=sys.stderr, flush=True)

    async for attempt in AsyncRetrying(retry=retry_if_exception_type(Unreachable),
                                       wait=wait_exponential(min=1, max=MAX_WAIT),
                                       before_sleep=say, reraise=True):
        with attempt:
            result = await call()
    if failed:
        print(f"Telegram API at {host} answers again", file=sys.stderr, flush=True)
    return result


def network_reason(exc: BaseException, fallback: str) -> str:
    """What went wrong underneath a library's network error, e.g. "connection refused"."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return "timed out"
        if isinstance(seen, socket.gaierror):
            return f"host not found: {seen.strerror}" if seen.strerror else "host not found"
        if isinstance(seen, OSError) and seen.errno and seen.errno > 0:
            return os.strerror(seen.errno).lower()
        seen = seen.__cause__ or seen.__context__
    return fallback


def token_refused() -> SettingsError:
    return SettingsError("Telegram refused MEMBERBOT_TELEGRAM_TOKEN (401 Unauthorized): the "
                         "token is mistyped or was revoked; copy the current one from "
                         "@BotFather")


def refused(method: str | None, description: str) -> SettingsError:
    """Telegram answered, and said no (a 400 to setWebhook, a 404 for a wrong API URL)."""
    return SettingsError(f"Telegram refused {method or 'a start-up call'}: {description}")


async def staff_menus(app: App) -> dict[str, list[str]]:
    async with app.db.uow() as uow:
        return commands.staff_menus(await roles.staff_accounts(uow, PLATFORM))


def sender(settings, transport, gateway: Gateway) -> Sender:
    return Sender(transport, rate=settings.telegram_rate, paid_rate=settings.telegram_paid_rate,
                  paid_budget=settings.telegram_paid_budget,
                  on_unreachable=gateway.unreachable)


def pusher(sender: Sender):
    async def push(chat_id: str, message) -> str:
        result = await sender.send(chat_id, message)
        return PUSH_OUTCOMES.get(result.status, "retry")
    return push


def editor(sender: Sender):
    """Campaign progress: edit the message when there is one, else (or when it can no
    longer be edited) send a new one; the id of the message that shows it, or None."""
    async def show(chat_id: str, message, message_id: str | None) -> str | None:
        result = await sender.send(chat_id, replace(message, edit=message_id is not None),
                                   edit_message_id=message_id, interactive=True)
        if result.status == "rejected" and message_id is not None:
            if "not modified" in result.detail:
                return message_id
            result = await sender.send(chat_id, replace(message, edit=False), interactive=True)
        return result.message_id if result.status == "sent" else None
    return show


def webhook_path(settings) -> str:
    return urlsplit(settings.telegram_webhook_url).path or "/"
