"""What the aiogram and python-telegram-bot services share: connecting in the
background, the updates asked for, the flood-safe sender, pushing and editing for
notices and campaigns, and staff menus. Kept apart so that each library's service
imports it rather than the other service."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from bot.app import App
from bot.notifier import connecting as stand_in
from bot.settings import SettingsError
from bot.telegram import commands, support_photos
from bot.telegram.gateway import PLATFORM, Gateway
from bot.telegram.sender import Sender
from bot.telegram.transport import Transport
from bot.telegram.webhook import SECRET_HEADER
from bot.web import error
from domain.staff import roles

T = TypeVar("T")
log = logging.getLogger(__name__)

# chat_member is not sent unless asked for; gated chats follow their members with it.
# pre_checkout_query: a payment in stars asks whether it may go ahead.
ALLOWED = ["message", "edited_message", "channel_post", "callback_query", "my_chat_member",
           "chat_member", "chat_join_request", "pre_checkout_query"]
POLL_TIMEOUT = 25
PUSH_OUTCOMES = {"sent": "sent", "unreachable": "unreachable", "rejected": "rejected"}
MAX_WAIT = 60  # seconds between start-up attempts, at most
STAFF_MENUS_EVERY = 300.0  # seconds between looks at who holds which role
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Door:
    """The webhook's route, there from the start (the web app's routes are fixed once
    it serves): until Telegram is connected it answers 503, which Telegram delivers
    again later, so no update is lost while the Bot API is out of reach. The secret
    is checked first all the same."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.handler: Handler | None = None

    def open(self, handler: Handler) -> None:
        self.handler = handler

    async def answer(self, request: web.Request) -> web.StreamResponse:
        if self.handler is not None:
            return await self.handler(request)
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return error(401, "unauthorized", "the secret token header is missing or wrong")
        answer = error(503, "starting", "the bot is still connecting to the Bot API; "
                                        "deliver the update again later")
        answer.headers["Retry-After"] = "5"
        return answer


@asynccontextmanager
async def connecting(app: App, web_app: web.Application,
                     connect: Callable[[Door], Coroutine[Any, Any, None]]
                     ) -> AsyncIterator[asyncio.Task[None]]:
    """Telegram connecting in the background, so that the rest of the web app (WeChat,
    the purchases API) serves meanwhile: at once, the webhook's route (webhook mode) and
    a stand-in pusher that keeps Telegram's place among the pushers (notices and
    campaigns for Telegram accounts wait for it; see bot.notifier.connecting). Yields
    the task running `connect(door)`, which ends when Telegram is ready (it opens the
    door and calls `ready`) or raises why it cannot start (SettingsError: the token
    was refused). Leaving the block stops it."""
    door = Door(app.settings.telegram_webhook_secret or "")
    if app.settings.telegram_webhook_url:
        web_app.router.add_post(webhook_path(app.settings), door.answer)
    app.pushers[PLATFORM] = stand_in
    task = asyncio.create_task(connect(door), name="telegram connecting")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait([task])  # its error, if any, is for whoever awaits it


def ready(app: App, sender: Sender | None) -> None:
    """Telegram is connected: notices and campaigns go through its sender from now on."""
    assert sender is not None
    app.pushers[PLATFORM] = pusher(sender)  # in the stand-in's place
    app.editors[PLATFORM] = editor(sender)


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


class StaffMenus:
    """Keeps the staff "/" menus in step with grants and revocations, whichever library
    publishes them: `publish(menus)` sets the menus of the chats given (chat id ->
    extra commands), `forget(chat)` drops a chat's own menu. It looks every `every`
    seconds (a grant made elsewhere: the console, WeChat), and at once when nudged (the
    gateway's answer to /grant or /revoke)."""

    def __init__(self, app: App, shown: dict[str, list[str]],
                 publish: Callable[[dict[str, list[str]]], Awaitable[None]],
                 forget: Callable[[str], Awaitable[None]],
                 every: float | None = None) -> None:
        self.app = app
        self.shown = shown
        self.publish = publish
        self.forget = forget
        self.every = STAFF_MENUS_EVERY if every is None else every
        self._nudged = asyncio.Event()

    def nudge(self) -> None:
        self._nudged.set()

    async def keep(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), self.every)
            self._nudged.clear()
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing staff command menus failed")

    async def refresh(self) -> None:
        now = await staff_menus(self.app)
        if now == self.shown:
            return
        changed = {chat: menu for chat, menu in now.items() if self.shown.get(chat) != menu}
        if changed:
            await self.publish(changed)
        for chat in self.shown.keys() - now.keys():
            await self.forget(chat)
        self.shown = now


def sender(settings, transport, gateway: Gateway) -> Sender:
    return Sender(transport, rate=settings.telegram_rate, paid_rate=settings.telegram_paid_rate,
                  paid_budget=settings.telegram_paid_budget,
                  on_unreachable=gateway.unreachable)


class Pusher:
    """The notifier's pusher for Telegram. It also downloads the photos Telegram holds
    (a staff photo in a member's topic), for a member on another platform
    (bot/notice_pictures.py)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    async def __call__(self, chat_id: str, message) -> str:
        result = await self.sender.send(chat_id, message)
        return PUSH_OUTCOMES.get(result.status, "retry")

    async def fetch_picture(self, file_id: str, most: int) -> bytes | None:
        transport = self.sender.transport
        if not isinstance(transport, Transport):
            return None
        return await support_photos.download(transport, file_id, most)


def pusher(sender: Sender) -> Pusher:
    return Pusher(sender)


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
