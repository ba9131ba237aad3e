"""Engines and the unit of work.

SQLite is the embedded default: WAL, and BEGIN IMMEDIATE so a transaction takes
the write lock up front instead of failing half-way when it upgrades from reader
to writer. Statements run on the loop's thread (domain.storage.sqlite_inline), waiting
for another process's lock with asyncio.sleep for up to the busy timeout. Writers
inside one process queue on an asyncio lock instead of polling for the file lock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy import CursorResult, Engine, Executable, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from domain import monitoring
from domain.storage import sqlite_checkpoints, sqlite_direct, sqlite_inline, turns
from domain.storage.sqlite_checkpoints import Checkpoints

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
SQLITE_BUSY_TIMEOUT_MS = 15_000
# PostgreSQL's deadlock victim and serialization failure: the server rolled the
# transaction back whole, so running it again from the start is safe.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
# Set while a task is inside a unit of work: a nested one would wait on the
# SQLite write lock its own task holds, so it is refused instead of hanging.
_inside: ContextVar[bool] = ContextVar("memberbot_inside_uow", default=False)
# Set while a snapshot's SQLite transaction begins: a reader's BEGIN, not the writer's.
_snapshot: ContextVar[bool] = ContextVar("memberbot_snapshot", default=False)
# Each SQLite file engine's checkpoints (domain.storage.sqlite_checkpoints).
_CHECKPOINTS: weakref.WeakKeyDictionary[Engine, Checkpoints] = weakref.WeakKeyDictionary()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an engine for a SQLite file or PostgreSQL; nothing connects yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        wait = kwargs.pop("busy_timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
        path = parsed.database or ":memory:"
        checkpoints = None if uri or path == ":memory:" else Checkpoints(path)
        engine = create_async_engine(
            url, async_creator=sqlite_inline.creator(path, wait, uri, checkpoints), **kwargs)
        _tune_sqlite(engine, checkpoints is not None)
        if checkpoints is not None:
            _CHECKPOINTS[engine.sync_engine] = checkpoints
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _tune_sqlite(engine: AsyncEngine, checkpoints_apart: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The connection leaves BEGIN to us and never sleeps on a lock itself.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A transaction that dirties more pages than the cache holds writes them to the
        # log as it goes, on the loop's thread: 8 MB, not SQLite's 2, lets a long job's
        # transaction (a thousand members' rows, each on a page of its own) wait for
        # its commit, which it can run off the loop.
        cursor.execute("PRAGMA cache_size=-8192")
        # What a write frees (an erased phone, a deleted row) is zeroed, not left in the
        # page's free space or the freelist to be read from the file (domain/privacy).
        cursor.execute("PRAGMA secure_delete=ON")
        if checkpoints_apart:  # a worker thread checkpoints (sqlite_checkpoints)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            # ... and cut the log back to its size once it is rewound
            cursor.execute(f"PRAGMA journal_size_limit={sqlite_checkpoints.SIZE_LIMIT_BYTES}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if _snapshot.get() else "BEGIN IMMEDIATE")


def _kind(exc: DBAPIError) -> str:
    """A database error as monitoring counts it: a conflict the database settled (run
    again, see again_if_transient) apart from real failures, which go by their class."""
    return "transient" if is_transient(exc) else type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """A conflict the database settled by aborting this transaction, not a fault."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in TRANSIENT_SQLSTATES


async def again_if_transient(attempt: Callable[[], Awaitable[T]], tries: int = 8) -> T:
    """Run a whole transaction again when the database aborted it to settle a conflict
    (a deadlock with another worker's transaction): the caller never sees it."""
    for n in range(tries):
        try:
            return await attempt()
        except DBAPIError as failure:
            if not is_transient(failure) or n == tries - 1:
                raise
            log.info("a transaction lost a lock conflict; running it again")
            await asyncio.sleep(random.uniform(0, 0.005 * 2 ** n))  # noqa: S311 - jitter
    raise AssertionError("unreachable")


async def again_on_conflict(attempt: Callable[[], Awaitable[T]], tries: int) -> T:
    """Run a whole transaction again when it lost a race on a unique key: the next try
    reads what the winner wrote. The last failure is raised."""
    for n in range(1, tries + 1):
        try:
            return await attempt()
        except IntegrityError:
            if n == tries:
                raise
            log.info("a transaction lost a race on a unique key; running it again",
                     extra={"attempt": n})
    raise AssertionError("unreachable")


Upsert = postgresql.Insert | sqlite.Insert
_UPSERTS: dict[str, Callable[..., Upsert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}
DIALECTS = tuple(_UPSERTS)


def upsert(dialect: str, table: Any) -> Upsert:
    """An INSERT that can say what happens on a conflict (`on_conflict_do_nothing`,
    `on_conflict_do_update`), which each backend spells in its own dialect."""
    return _UPSERTS[dialect](table)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """Owns the engine and hands out units of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if is_sqlite(engine) else None
        self.checkpoints = _CHECKPOINTS.get(engine.sync_engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        return cls(create_engine(url, **kwargs))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    def snapshot(self) -> Snapshot:
        """A read-only unit of work for a long read (a selection over every member, the
        counts of a campaign). On SQLite it takes no write lock and reads on a worker
        thread (WAL readers never wait for the writer, nor it for them), so members'
        transactions go on while it reads; it sees what was committed when it began."""
        return Snapshot(self)

    async def in_turns(self, items: Iterable[T],
                       work: Callable[[UnitOfWork, T], Awaitable[R]],
                       most: int | None = None) -> list[R]:
        """`work` for each item, in as many short transactions as it takes: each takes
        items until its slice is spent (or `most` of them) and commits, and the loop
        and other transactions get their turn before the next one. So `work` must be
        safe to run again for an item whose transaction failed."""
        results: list[R] = []
        pending = iter(items)
        item = next(pending, _END)
        while item is not _END:
            await self.caught_up()
            async with self.uow() as uow:
                taken = 0
                while item is not _END:
                    results.append(await work(uow, item))  # type: ignore[arg-type]
                    taken += 1
                    item = next(pending, _END)
                    if uow.time_up() or (most is not None and taken >= most):
                        break
                await uow.commit()
        return results

    async def in_slices(self, rows: Sequence[T],
                        work: Callable[[UnitOfWork, Sequence[T]], Awaitable[R]],
                        first: int, most: int | None = None) -> list[R]:
        """`work` over consecutive slices of `rows`, one transaction each, for set-based
        work whose cost per slice is mostly per row. Each slice is sized from how long
        the last one took, to run about the backend's slice (domain.storage.turns):
        a fixed size is right on one machine only, and a slice that runs three times
        its share holds the loop (on SQLite) that much longer. Slices grow up to `most`
        (on SQLite four times the first; on PostgreSQL, where the time is mostly spent
        awaiting the server, the first: a bigger slice there only lengthens its Python
        between two awaits). Like in_turns, `work` must be safe to run again for a slice
        whose transaction failed."""
        results: list[R] = []
        size, at = first, 0
        while at < len(rows):
            chunk = rows[at:at + size]
            await self.caught_up()
            async with self.uow() as uow:
                began = time.perf_counter()  # after any wait for the write lock
                results.append(await work(uow, chunk))
                await uow.commit()
                took = time.perf_counter() - began
            at += len(chunk)
            size = turns.resized(len(chunk), took, self.dialect, 1, most or (
                first * 4 if self.dialect == "sqlite" else first))
        return results

    @asynccontextmanager
    async def window(self) -> AsyncIterator[UnitOfWork]:
        """One transaction of a job that writes many rows back to back (the roll-ups,
        the scores): it waits first for a long write-ahead log to be copied (caught_up),
        and its statements and commit run off the loop (UnitOfWork.off_loop), since a
        window's pages can each wait on the disk. It holds SQLite's write lock all along:
        size windows by time (turns.SQLITE_OFF_LOOP_S), not rows."""
        await self.caught_up()
        async with self.uow() as uow:
            with uow.off_loop():
                yield uow

    async def caught_up(self) -> None:
        """Before a long job's next transaction: on a SQLite file whose write-ahead log
        has grown long, wait for it to be copied into the database, so that it starts
        over (domain.storage.sqlite_checkpoints). Elsewhere, nothing to wait for."""
        if self.checkpoints is not None:
            await self.checkpoints.caught_up()

    async def scrub(self, tables: Sequence[str]) -> None:
        """After an erasure: leave no older copy of what `tables` held readable. On
        SQLite the write-ahead log, which keeps the pages as they were before, is
        checkpointed and truncated (Checkpoints.truncate; retried while a reader holds
        it). On PostgreSQL, VACUUM reclaims the old row versions of `tables`."""
        if self.dialect == "sqlite":
            if self.checkpoints is not None:  # a file (in memory there is no log)
                await self.checkpoints.truncate()
            return
        known = set(await self._tables())
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                if table in known:  # a name from our own list, checked against the schema
                    await conn.exec_driver_sql(f'VACUUM "{table}"')

    async def _tables(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list((await conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                ).scalars())

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.settled()
        await self.engine.dispose()


_END = object()
_TURN_S = 1e-6  # any positive delay: the loop polls I/O and runs due timers first
# A transaction shorter than this held nobody up: it gives way with sleep(0), which
# costs nothing, while a timer waits for epoll's 1 ms and would cap a member's rate.
_LONG_S = 0.002


class UnitOfWork:
    """One use case, one transaction. Leaving without commit() rolls back. Leaving gives
    the event loop a turn: a job's next transaction then queues behind the members'
    transactions that waited for this one, instead of going first again."""

    session: AsyncSession

    def __init__(self, db: Database) -> None:
        self._db = db
        self._committed = False
        self._connection: AsyncConnection | None = None
        self._sqlite: sqlite_inline.Connection | None = None
        self._after: list[Callable[[], None]] | None = None

    @property
    def dialect(self) -> str:
        return self._db.dialect

    async def __aenter__(self) -> Self:
        if _inside.get():
            raise RuntimeError("a unit of work is already open in this task")
        lock = self._db._write_lock
        if lock is not None:
            if lock.locked() and monitoring.watched():  # timed only when it is waited for
                began = time.perf_counter()
                await lock.acquire()
                monitoring.lock_waited("process", time.perf_counter() - began)
            else:
                await lock.acquire()
        try:
            self.session = self._db.sessions()
            await self.session.begin()
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        self._committed = False
        self._token = _inside.set(True)
        self._began = time.perf_counter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
            await self.session.close()
        finally:
            _inside.reset(self._token)
            if self._db._write_lock is not None:
                self._db._write_lock.release()
        if isinstance(exc, DBAPIError):
            monitoring.database_failed(_kind(exc))
        if exc is None:
            # After a long transaction, through the timer queue, not sleep(0): that lets
            # only the callbacks already queued run first, and a task whose timer or I/O
            # fell due meanwhile would wake after the job's next transaction (or later).
            held = time.perf_counter() - self._began
            await asyncio.sleep(_TURN_S if held >= _LONG_S else 0)

    def time_up(self) -> bool:
        """Whether this transaction has run its slice (domain.storage.turns): a long job
        commits here and goes on in a new one, so that on SQLite neither the loop nor
        the write lock is held for long."""
        return time.perf_counter() - self._began >= turns.slice_for(self.dialect)

    def upsert(self, table: Any) -> Upsert:
        """An INSERT for this backend that can say what happens on a conflict."""
        return upsert(self.dialect, table)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint taken now: what the block writes is undone if it raises. The ORM
        takes one lazily, at its own next statement, so Core statements run through
        `execute` on the open connection before that would fall outside it and stay."""
        kept = len(self._after) if self._after is not None else 0
        try:
            async with self.session.begin_nested():
                await self.session.connection()
                yield
        except BaseException:
            if self._after is not None:
                del self._after[kept:]  # what the block meant to report was undone too
            raise

    def after_commit(self, report: Callable[[], None]) -> None:
        """Call `report` once this transaction commits, never if it rolls back (nor for
        a savepoint that is undone): figures counted once, for what was kept."""
        if self._after is None:
            self._after = []
        self._after.append(report)

    def snapshot(self) -> Snapshot:
        """A snapshot of this unit of work's database (Database.snapshot), for a long
        read in the middle of a use case: it sees what was committed, not this
        transaction's own changes."""
        return Snapshot(self._db)

    def off_loop(self) -> AbstractContextManager[None]:
        """Run this block's statements away from the event loop: for a long read (a
        selection over every member, a count over a campaign) that would otherwise hold
        the loop. On PostgreSQL the driver already waits without holding it."""
        return sqlite_inline.offloaded() if self._db.dialect == "sqlite" else nullcontext()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True
        if self._after:
            reports, self._after = self._after, None
            for report in reports:
                report()

    async def flush(self) -> None:
        await self.session.flush()

    async def execute(self, statement: Executable, params: Any = None) -> Any:
        """A Core statement on this transaction's connection, past the ORM's execution
        path, which costs as much as the statement itself on hot paths; on SQLite a
        repeated statement runs straight on sqlite3 (domain.storage.sqlite_direct). Not for ORM
        entities, and it does not flush pending ORM changes first. The result is a
        SQLAlchemy Result or a `sqlite_direct.Rows`, which reads the same."""
        if self._connection is None:
            self._connection = await self.session.connection()
            if self.dialect == "sqlite":
                raw = (await self._connection.get_raw_connection()).driver_connection
                if isinstance(raw, sqlite_inline.Connection):
                    self._sqlite = raw
        if self._sqlite is not None:
            found = sqlite_direct.find(statement, params, self._connection.dialect)  # type: ignore[arg-type]
            if found is not None:
                return await sqlite_direct.run(self._sqlite, found, params)
        return await self._connection.execute(statement, params)

    async def scalar(self, statement: Executable, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalar()

    async def changed(self, statement: Executable, params: Any = None) -> int:
        """Run an UPDATE or DELETE in this transaction: how many rows it changed, the
        answer to "did this conditional update win?"."""
        result = await self.session.execute(statement, params)
        assert isinstance(result, CursorResult)  # DML; typed as a plain Result
        return result.rowcount


class Snapshot(UnitOfWork):
    """Reads only: nothing it does is kept (domain.storage.database.Database.snapshot)."""

    async def __aenter__(self) -> Self:
        self._offload = sqlite_inline.offloaded()
        self._offload.__enter__()
        try:
            self.session = self._db.sessions()
            await self.session.begin()
            token = _snapshot.set(True)
            try:
                await self.session.connection()  # BEGIN now, as a reader
            finally:
                _snapshot.reset(token)
        except BaseException:
            self._offload.__exit__(None, None, None)
            raise
        self._began = time.perf_counter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.session.rollback()
            await self.session.close()
        finally:
            self._offload.__exit__(None, None, None)
        if isinstance(exc, DBAPIError):
            monitoring.database_failed(_kind(exc))

    async def commit(self) -> None:
        raise RuntimeError("a snapshot only reads")
