"""The WeChat HTTP API over aiohttp (wechatpy's client blocks the event loop).

Every call carries the shared access token. When WeChat says the token is invalid
(40001, 40014, 42001) we ask the token store to replace *that* token, once, and
retry: a worker holding an already-replaced token picks up the new one without
fetching again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp

from bot.wechat.store.access_tokens import Token

TOKEN_INVALID = {40001, 40014, 42001}
TIMEOUT = aiohttp.ClientTimeout(total=10)


class ApiError(Exception):
    """WeChat answered with a non-zero errcode; -2 means we could not reach it."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class Tokens(Protocol):
    async def get(self) -> str: ...
    async def refresh(self, stale: str) -> str: ...


Fetch = Callable[[], Awaitable[Token]]


def fetcher(session: aiohttp.ClientSession, base_url: str, app_id: str, secret: str,
            clock: Callable[[], datetime]) -> Fetch:
    """The one place that asks WeChat for a new token."""
    async def fetch() -> Token:
        data = await _request(session, "GET", f"{base_url}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": app_id, "secret": secret})
        value, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(expires_in, int):
            raise ApiError(int(data.get("errcode") or -3), str(data.get("errmsg", "no token")))
        return Token(value, clock() + timedelta(seconds=expires_in))
    return fetch


class Api:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, tokens: Tokens) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON to `path`; returns the answer or raises ApiError."""
        return await self._call(path, {}, lambda: _json(payload))

    async def upload(self, path: str, params: dict[str, str], field: str, filename: str,
                     content: bytes, content_type: str) -> dict[str, Any]:
        """POST one file as multipart/form-data (media/upload); same errors as `call`."""
        def form() -> aiohttp.FormData:  # a FormData is spent by one request
            data = aiohttp.FormData()
            data.add_field(field, content, filename=filename, content_type=content_type)
            return data
        return await self._call(path, params, form)

    async def _call(self, path: str, params: dict[str, str],
                    body: Callable[[], bytes | aiohttp.FormData]) -> dict[str, Any]:
        token = await self.tokens.get()
        for attempt in (1, 2):
            data = await _request(self.session, "POST", f"{self.base_url}{path}",
                                  params={**params, "access_token": token}, body=body())
            code = int(data.get("errcode") or 0)
            if code in TOKEN_INVALID and attempt == 1:
                token = await self.tokens.refresh(stale=token)
                continue
            if code:
                raise ApiError(code, str(data.get("errmsg", "")))
            return data
        raise AssertionError("unreachable")


def _json(payload: dict[str, Any]) -> bytes:
    # WeChat wants UTF-8 as it is: with \u escapes, menus and messages show the escapes.
    return json.dumps(payload, ensure_ascii=False).encode()


async def _request(session: aiohttp.ClientSession, method: str, url: str, *,
                   params: dict[str, str], payload: dict[str, Any] | None = None,
                   body: bytes | aiohttp.FormData | None = None) -> dict[str, Any]:
    if payload is not None:
        body = _json(payload)
    headers = {"Content-Type": "application/json"} if isinstance(body, bytes) else None
    try:
        async with session.request(method, url, params=params, data=body, timeout=TIMEOUT,
                                   headers=headers) as resp:
            raw = await resp.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(-2, f"unreachable: {type(exc).__name__}") from exc
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(-3, f"not JSON (HTTP {resp.status})") from None
    if not isinstance(data, dict):
        raise ApiError(-3, "not a JSON object")
    return data
