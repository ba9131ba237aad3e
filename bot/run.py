"""`memberbot run`: every configured platform in one process, on one web app.

A service is an async context manager factory `running(app, web_app)`: it adds its
routes and starts its tasks on entry, and stops them on exit. What it yields is None,
or a task that ends once the service is up: Telegram connects in the background, so
that a Bot API out of reach holds up neither WeChat nor the purchases API (its error,
a refused token, ends the run). With no chat platform configured, the console chat
runs too (always with nothing else to serve; beside the purchases API when stdin is
a terminal). Every run starts with a banner saying what it serves and where, once
the configuration (settings and programme file) is known to be valid.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, TextIO

from aiohttp import web as aioweb

from bot import console, metrics, scheduling, web
from bot import programme as programme_file
from bot.app import App, lifespan
from bot.campaign_dispatch import Dispatcher
from bot.memory import freeze_start_up
from bot.notifier import Notifier
from bot.ordering import cancel, stop_on_signals
from bot.programme import Programme
from bot.settings import Settings, shown_url

log = logging.getLogger(__name__)
# None: up on entry; a task: up when it ends (its exception: it cannot start at all).
Service = Callable[[App, aioweb.Application],
                   AbstractAsyncContextManager["asyncio.Task[None] | None"]]


def services(settings: Settings) -> list[Service]:
    """What the settings turn on. Imported here so an unused SDK is never loaded."""
    found: list[Service] = []
    if settings.telegram:
        from bot.telegram import service as telegram
        found.append(telegram.connecting)
    if settings.wechat:
        from bot.wechat import service as wechat
        found.append(wechat.running)
    if settings.api_key:
        from bot.api import service as api
        found.append(api.running)
    return found


def serves_web(settings: Settings) -> bool:
    """Whether `services` chooses any, so the web app listens (told without importing
    them)."""
    return bool(settings.telegram or settings.wechat or settings.api_key)


def chat_platforms(settings: Settings) -> list[str]:
    return [name for name, on in (("telegram", settings.telegram),
                                  ("wechat", settings.wechat)) if on]


def console_absence(settings: Settings, stdin: TextIO) -> str | None:
    """Why the console chat does not start, or None when it does."""
    if chat_platforms(settings):
        return "a chat platform is configured"
    if settings.api_key and not stdin.isatty():
        return "stdin is not a terminal"
    return None


STOPS = "the run stops: the web app cannot listen"


def banner(settings: Settings, address: str | None, console_off: str | None, user: str,
           locale: str | None, busy: web.ListenError | None = None) -> str:
    """What this process serves and where, in a few lines, before anything starts.
    `busy`: the web app's address cannot be had (the run stops after the banner)."""
    platforms = []
    if settings.telegram:
        how = (f"webhook {settings.telegram_webhook_url}" if settings.telegram_webhook
               else "long polling")
        platforms.append(f"telegram ({settings.telegram_library}, {how})")
    if settings.wechat:
        platforms.append("wechat (callbacks at /wechat)")
    if console_off is None:
        platforms.append("console")
    hint = f"language hint {locale}" if locale else "no language hint: the programme's default"
    served = ", ".join(platforms) or "none"
    rows = [
        ("platforms", f"{served}; not started ({STOPS})" if busy and platforms else served),
        ("web app", f"none: cannot listen on {busy.address} ({busy.reason})" if busy
         else address or "none (nothing to serve on the web)"),
        ("purchases API", f"not started ({STOPS})" if busy and settings.api_key
         else "on, at /api/v1" if settings.api_key
         else "off (set MEMBERBOT_API_KEY to turn it on)"),
        ("database", shown_url(settings.database_url)),
        # A busy port stops the run after this banner: nothing below starts.
        ("scheduler", f"not started ({STOPS})" if busy else "on, in this process"),
        ("console", f"not started ({STOPS})" if busy and console_off is None
         else f"chatting as {user} ({hint})" if console_off is None
         else f"not started ({console_off})"),
    ]
    return "\n".join(["memberbot run"] + [f"  {name + ':':<15}{value}" for name, value in rows])


async def run(settings: Settings, stop: asyncio.Event | None = None, *, user: str = "you",
              locale: str | None = None, stdin: TextIO | None = None,
              stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    # An invalid programme file is the one refusal that comes before the banner (the
    # settings were checked as they were read): the configuration is not what it says.
    programme = programme_file.load(settings.programme_file)
    console_off = console_absence(settings, stdin)
    # Bound now: a busy port stops the start at once, before migrating anything, and
    # the banner shows the real port, or why there is none.
    sock, busy = None, None
    if serves_web(settings):
        try:
            sock = web.listen(settings.http_host, settings.http_port)
        except web.ListenError as exc:
            busy = exc
    try:
        print(banner(settings, _address(sock), console_off, user, locale, busy), file=stdout,
              flush=True)
        if busy is not None:
            raise busy
        # After the banner: importing a Telegram library takes seconds, and the banner
        # says at once what is starting.
        chosen = services(settings)
        chat = None
        if console_off is None:
            async def chat(app: App) -> None:
                async with console.session(app, user=user, locale=locale) as session:
                    await console.run(session, stdin=stdin, stdout=stdout,
                                      default_locale=app.programme.default_locale)
        if not chosen:
            assert chat is not None
            async with lifespan(settings, programme=programme) as app, \
                    scheduling.running(app):
                await chat(app)
            return 0
        assert sock is not None
        return await _until_stopped(stop or stop_on_signals(),
                                    lambda started, stop: _serve(settings, programme, chosen,
                                                                 sock, chat, started, stop))
    finally:
        if sock is not None:
            sock.close()


async def _until_stopped(stop: asyncio.Event,
                         body: Callable[[asyncio.Event, asyncio.Event],
                                        Coroutine[Any, Any, None]]) -> int:
    """Run `body` until it ends. A stop asked for while it is still starting (migrating
    the database, say) cancels it; once started, it sees `stop` and ends by itself."""
    started = asyncio.Event()
    task = asyncio.create_task(body(started, stop))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and not started.is_set():
            task.cancel()
        await asyncio.wait([task])
        if not task.cancelled():
            task.result()  # its error, if any
        return 0
    finally:
        await cancel([stopping])
        if not task.done():
            await cancel([task])


async def _serve(settings: Settings, programme: Programme, chosen: list[Service],
                 sock: socket.socket, chat: Callable[[App], Coroutine[Any, Any, None]] | None,
                 started: asyncio.Event, stop: asyncio.Event) -> None:
    async with lifespan(settings, programme=programme) as app, AsyncExitStack() as stack:
        web_app = web.build(app.db)
        await stack.enter_async_context(metrics.running(app, web_app))  # before any figure
        arriving = []  # services still connecting (Telegram), served meanwhile
        for service in chosen:
            coming = await stack.enter_async_context(service(app, web_app))
            if coming is not None:
                arriving.append(coming)
        # After the platforms, Telegram's stand-in included: a member's other account
        # comes first.
        console.register(app)
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
            web.serving(web_app, settings.http_host, settings.http_port, sock=sock))
        freeze_start_up()
        log.info("memberbot running", extra={"http_port": port,
                                             "services": [s.__module__ for s in chosen]})
        started.set()
        await _until_done(stop, asyncio.create_task(chat(app)) if chat else None, arriving)


async def _until_done(stop: asyncio.Event, chatting: asyncio.Task[None] | None,
                      arriving: list[asyncio.Task[None]]) -> None:
    """Serve until stopped, or until the console's input ends (as it ends a run with
    nothing else). A service still arriving that cannot start after all (Telegram
    refusing the token) ends the run with its error."""
    stopping = asyncio.create_task(stop.wait())
    ends: set[asyncio.Task[Any]] = {stopping} if chatting is None else {stopping, chatting}
    pending = set(arriving)
    try:
        while True:
            done, _ = await asyncio.wait(ends | pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done & pending:
                pending.discard(task)
                if not task.cancelled():
                    task.result()  # its error, if any
            if done & ends:
                if chatting is not None and chatting.done():
                    chatting.result()
                return
    finally:
        await cancel(ends)


def _address(sock: socket.socket | None) -> str | None:
    if sock is None:
        return None
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
