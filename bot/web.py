"""The aiohttp web app: Telegram and WeChat webhooks, the shop's API and a health check
share one port. Each service adds its own routes before the app starts. Every refusal,
the web server's own included (no such path, wrong method, a body too large), is the
same JSON error, whichever path was asked for."""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import text

from bot import privacy_web
from domain.storage.database import Database

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # webhooks and API calls are small; refuse anything bigger early
DB_KEY: web.AppKey[Database] = web.AppKey("db", Database)
_WHAT_TO_SET = {errno.EADDRINUSE: ("address already in use", "set MEMBERBOT_HTTP_PORT"),
                errno.EACCES: ("permission denied (ports below 1024 need privileges)",
                               "set MEMBERBOT_HTTP_PORT"),
                errno.EADDRNOTAVAIL: ("this machine has no such address",
                                      "set MEMBERBOT_HTTP_HOST")}


class ListenError(Exception):
    """The web app cannot have its address; the message says why and what to set."""

    def __init__(self, address: str, reason: str, advice: str | None) -> None:
        super().__init__(f"cannot listen on {address}: {reason}"
                         + (f"; {advice}" if advice else ""))
        self.address = address
        self.reason = reason


def listen(host: str, port: int) -> socket.socket:
    """The web app's listening socket, bound now, so that a busy port stops a start at
    once, before migrations and platforms, and the port (0 picks one) is known early."""
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        return socket.create_server(address, family=family)
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> ListenError:
    if isinstance(exc, socket.gaierror):
        why, advice = "no such host", "set MEMBERBOT_HTTP_HOST"
    elif (known := _WHAT_TO_SET.get(exc.errno or 0)) is not None:
        why, advice = known
    else:
        why, advice = os.strerror(exc.errno or 0).lower(), None
    return ListenError(f"{host}:{port}", why, advice)


def error(status: int, code: str, message: str) -> web.Response:
    """Every refusal of the web app has this shape: a stable code for programs, words
    of our own for people."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request],
                      Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The web server's own refusals (no such path, wrong method, a body past MAX_BODY)
    and a handler's unexpected failure answer in our JSON shape too, so that a client
    reads one kind of error whatever it asked for. Statuses stay as they were: a 500
    still tells Telegram or WeChat to deliver the update again."""
    try:
        return await handler(request)
    except web.HTTPException as refused:
        if refused.status < 400:
            raise
        return _refusal(request, refused)
    except TimeoutError:  # as aiohttp answers it
        log.warning("request timed out", extra={"path": request.path})
        return error(504, "timed_out", "the server took too long to answer this request")
    except Exception:
        log.exception("request failed", extra={"path": request.path,
                                               "method": request.method})
        return error(500, "internal_error", "the server failed to answer this request; "
                                            "the failure is logged")


def _refusal(request: web.Request, refused: web.HTTPException) -> web.Response:
    if isinstance(refused, web.HTTPNotFound):
        answer = error(404, "not_found", "nothing is served at this path")
    elif isinstance(refused, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(refused.allowed_methods))
        answer = error(405, "method_not_allowed",
                       f"this path answers {allowed}, not {request.method}")
        answer.headers["Allow"] = allowed
    elif isinstance(refused, web.HTTPRequestEntityTooLarge):
        answer = error(413, "body_too_large", f"the body is larger than {MAX_BODY} bytes")
    else:
        reason = refused.reason.lower()
        answer = error(refused.status, reason.replace(" ", "_").replace("-", "_"), reason)
    return answer


def build(db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
          ) -> web.Application:
    """The app with the routes every process serves; `clock` is the downloads' time."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[json_errors])
    app[DB_KEY] = db
    app.router.add_get("/healthz", health)
    app.router.add_get(privacy_web.ROUTE, privacy_web.download(db, clock))
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
async def serving(app: web.Application, host: str, port: int,
                  sock: socket.socket | None = None) -> AsyncIterator[int]:
    """Serve until the block ends, on `sock` if given (see `listen`); yields the bound
    port (useful when port is 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock) if sock else web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise _cannot_listen(host, port, exc) from None
        addresses = runner.addresses
        yield addresses[0][1] if addresses else port
    finally:
        await runner.cleanup()
