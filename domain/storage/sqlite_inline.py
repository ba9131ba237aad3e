"""SQLite on the event loop's own thread.

SQLite is a library, not a server: a typical statement of ours takes tens of
microseconds, while aiosqlite's hop to its thread and back costs more than that,
and most of a message's time went to waiting for those hops. So statements run
inline, where they are cheap, and never wait on a lock there: SQLite's busy
handler would block the whole loop while another process writes, so the busy
timeout is zero and a locked database is retried here with `asyncio.sleep`.

Work that reads a lot (a selection over a million members, an export) runs inside
`offloaded()`, which sends its statements to a worker thread so the loop keeps
answering members meanwhile.

The objects below speak the small part of aiosqlite's interface that SQLAlchemy's
`sqlite+aiosqlite` dialect uses, so the dialect, its pool and its SQL compiler are
SQLAlchemy's own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from domain import monitoring
from domain.storage.sqlite_checkpoints import Checkpoints

_offload: ContextVar[bool] = ContextVar("memberbot_sqlite_offload", default=False)
FIRST_PAUSE = 0.001
LONGEST_PAUSE = 0.05


@contextmanager
def offloaded() -> Iterator[None]:
    """Run this task's SQLite statements on a worker thread while inside."""
    token = _offload.set(True)
    try:
        yield
    finally:
        _offload.reset(token)


def is_offloaded() -> bool:
    return _offload.get()


def _locked(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error)


async def retrying(call: Callable[[], Any], wait: float) -> Any:
    """Call, retrying while another connection holds the lock, for up to `wait` s."""
    deadline = None
    pause = FIRST_PAUSE
    try:
        while True:
            try:
                if _offload.get():
                    return await _on_thread(call)
                return call()
            except sqlite3.OperationalError as error:
                if not _locked(error):
                    raise
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + wait
                if now >= deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
    finally:
        if deadline is not None:  # it waited for another process's lock, got it or not
            monitoring.lock_waited("file", time.monotonic() - deadline + wait)


async def _on_thread(call: Callable[[], Any]) -> Any:
    """`call` on a worker thread. Cancelled while it runs, the caller still waits for the
    statement to end before the cancellation goes on: a statement left running on its
    thread while its connection is used again, or closed, can crash the process."""
    running = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        while not running.done():
            try:
                await asyncio.shield(running)
            except asyncio.CancelledError:
                continue  # cancelled again: still the statement must end first
            except BaseException:  # noqa: BLE001 - its own failure no longer matters
                break
        raise


class _Queue:
    """aiosqlite's request queue, as SQLAlchemy's isolation-level setter uses it."""

    def put_nowait(self, item: tuple[asyncio.Future, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 - handed to whoever awaits
            future.set_exception(error)


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()
        self.arraysize = 1

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        await retrying(lambda: self._cursor.execute(sql, parameters), self._connection.wait)
        return self

    async def executemany(self, sql: str, parameters: Any) -> Cursor:
        await retrying(lambda: self._cursor.executemany(sql, parameters), self._connection.wait)
        return self

    async def fetchall(self) -> list[Any]:
        if _offload.get():
            return await asyncio.to_thread(self._cursor.fetchall)
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size or self.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            rows = await self.fetchmany(100)
            if not rows:
                return
            for row in rows:
                yield row


class Connection:
    """One sqlite3 connection, used by one SQLAlchemy connection at a time."""

    def __init__(self, conn: sqlite3.Connection, wait: float,
                 checkpoints: Checkpoints | None = None) -> None:
        self._conn = conn
        self._tx = _Queue()
        self.wait = wait
        self._checkpoints = checkpoints

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn  # SQLAlchemy tests it before commit and rollback

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def commit(self) -> None:
        await retrying(self._conn.commit, self.wait)
        if self._checkpoints is not None:
            self._checkpoints.committed()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        self._conn.close()


def creator(path: str, wait: float, uri: bool = False,
            checkpoints: Checkpoints | None = None) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine. Transaction control is ours (no
    implicit BEGIN), and SQLite itself never sleeps on a lock. With `checkpoints`, the
    connections leave WAL checkpoints to it (domain.storage.sqlite_checkpoints)."""
    async def connect() -> Connection:
        conn = await asyncio.to_thread(
            sqlite3.connect, path, timeout=0, isolation_level=None,
            check_same_thread=False, uri=uri)
        return Connection(conn, wait, checkpoints)
    return connect
