"""The access token store: one token per app, shared by every process.

WeChat invalidates the old token (after a short grace) whenever a new one is fetched,
so workers fetching on their own would knock each other out. The token lives in the
database, or in Redis when MEMBERBOT_REDIS_URL is set; a refresh happens under a lock,
and the holder re-checks before fetching, so N workers cause one fetch. Each process
keeps the token in memory until it nears expiry or WeChat rejects it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime

from bot.wechat.api import ApiError, Fetch
from bot.wechat.store import access_tokens
from bot.wechat.store.access_tokens import Token
from domain.storage.database import Database

log = logging.getLogger(__name__)
MARGIN = 300  # seconds before expiry at which a token counts as due for renewal
UNREACHABLE = -2  # ApiError's code when no answer came


class _Cached(ABC):
    def __init__(self, fetch: Fetch, clock: Callable[[], datetime], margin: float) -> None:
        self.fetch = fetch
        self.clock = clock
        self.margin = margin
        self.token: Token | None = None
        self.local = asyncio.Lock()  # one refresh at a time inside this process

    async def get(self) -> str:
        if self.token is not None and self.token.fresh(self.clock(), self.margin):
            return self.token.value
        async with self.local:
            if self.token is None or not self.token.fresh(self.clock(), self.margin):
                self.token = await self._renew(stale=None)
            return self.token.value

    async def refresh(self, stale: str) -> str:
        async with self.local:
            if self.token is None or self.token.value == stale:
                self.token = await self._renew(stale=stale)
            return self.token.value

    async def keep_fresh(self, every: float = 60.0, first_wait: float = 1.0) -> None:
        """Renew before expiry even when idle, so no request waits on a fetch. While
        WeChat cannot be reached or refuses, it tries again `first_wait`, twice that …
        up to `every` seconds apart, saying so in one line on stderr per attempt (as
        Telegram's start-up does), and once more when WeChat answers again."""
        first_wait = min(first_wait, every)
        wait, failing = first_wait, False
        while True:
            try:
                await self.get()
            except ApiError as exc:
                failing = True
                print(f"{_failure(exc)}; retrying in {wait:g} s", file=sys.stderr, flush=True)
                await asyncio.sleep(wait)
                wait = min(wait * 2, every)
                continue
            except Exception:
                log.exception("access token renewal failed")
            else:
                if failing:
                    print("WeChat API answers again: access token renewed", file=sys.stderr,
                          flush=True)
                failing, wait = False, first_wait
            await asyncio.sleep(every)

    def _usable(self, token: Token | None, stale: str | None) -> bool:
        return (token is not None and token.fresh(self.clock(), self.margin)
                and token.value != stale)

    @abstractmethod
    async def _renew(self, stale: str | None) -> Token:
        """Fetch a new token under the store's lock, unless another holder already did."""


def _failure(exc: ApiError) -> str:
    """Why no token came, in a few words: "WeChat API unreachable at api.weixin.qq.com:443
    (connection refused)", or WeChat's own answer ("WeChat gave no access token (40125:
    invalid appsecret)")."""
    if exc.errcode != UNREACHABLE:
        return f"WeChat gave no access token ({exc})"
    where, why = "", exc.errmsg
    seen: BaseException | None = exc.__cause__
    while seen is not None:
        host = getattr(seen, "host", None)
        if host and not where:
            port = getattr(seen, "port", None)
            where = f" at {host}:{port}" if port else f" at {host}"
        if isinstance(seen, TimeoutError):
            why = "timed out"
            break
        if isinstance(seen, socket.gaierror):
            why = "host not found"
            break
        if isinstance(seen, OSError) and seen.errno and seen.errno > 0:
            why = os.strerror(seen.errno).lower()
            break
        seen = seen.__cause__ or seen.__context__
    return f"WeChat API unreachable{where} ({why})"


class DatabaseTokens(_Cached):
    def __init__(self, db: Database, name: str, fetch: Fetch,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 margin: float = MARGIN) -> None:
        super().__init__(fetch, clock, margin)
        self.db = db
        self.name = name

    async def _renew(self, stale: str | None) -> Token:
        if stale is None:
            async with self.db.uow() as uow:
                stored = await access_tokens.read(uow, self.name)
            if self._usable(stored, None):
                return stored  # type: ignore[return-value]
        async with self.db.uow() as uow:
            stored = await access_tokens.locked(uow, self.name)
            if self._usable(stored, stale):
                return stored  # somebody renewed it while we waited for the lock
            token = await self.fetch()
            await access_tokens.store(uow, self.name, token, self.clock())
            await uow.commit()
        log.info("access token fetched", extra={"token_name": self.name})
        return token


class RedisTokens(_Cached):
    """The same protocol on Redis: SET NX lock with an owner id, released by compare."""

    RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
               "return redis.call('del', KEYS[1]) else return 0 end")

    def __init__(self, redis, name: str, fetch: Fetch,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 margin: float = MARGIN, lock_seconds: float = 15.0) -> None:
        super().__init__(fetch, clock, margin)
        self.redis = redis
        self.key = f"memberbot:access-token:{name}"
        self.lock_key = f"{self.key}:lock"
        self.lock_ms = int(lock_seconds * 1000)

    async def _read(self) -> Token | None:
        raw = await self.redis.get(self.key)
        if not raw:
            return None
        data = json.loads(raw)
        return Token(data["value"], datetime.fromisoformat(data["expires_at"]))

    async def _renew(self, stale: str | None) -> Token:
        owner = secrets.token_hex(8)
        while True:
            stored = await self._read()
            if self._usable(stored, stale):
                return stored  # type: ignore[return-value]
            if await self.redis.set(self.lock_key, owner, nx=True, px=self.lock_ms):
                break
            await asyncio.sleep(0.05)  # another process is fetching; read its result
        try:
            stored = await self._read()
            if self._usable(stored, stale):
                return stored  # type: ignore[return-value]
            token = await self.fetch()
            await self.redis.set(self.key, json.dumps(
                {"value": token.value, "expires_at": token.expires_at.isoformat()}))
            log.info("access token fetched", extra={"token_name": self.key})
            return token
        finally:
            await self.redis.eval(self.RELEASE, 1, self.lock_key, owner)
