"""What the benchmarks share: PostgreSQL in a throwaway schema, the --backends option,
the load average they print beside their figures, and the figures table."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text

from domain.storage.database import Database, create_engine

T = TypeVar("T")

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_CONNECT_TIMEOUT_S = 3.0
BACKENDS = ("sqlite", "postgresql")


async def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else why not."""
    engine = create_engine(url, connect_args={"timeout": PG_CONNECT_TIMEOUT_S})
    try:
        async with asyncio.timeout(PG_CONNECT_TIMEOUT_S + 1):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        await engine.dispose()


@asynccontextmanager
async def pg_schema(url: str, prefix: str = "bench") -> AsyncIterator[str]:
    """A new schema for one run, dropped afterwards whatever happens: a benchmark
    never touches the database's own tables."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        yield name
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await admin.dispose()


@asynccontextmanager
async def pg_database(url: str, **engine_kwargs: Any) -> AsyncIterator[Database]:
    """A Database whose tables live in a fresh `pg_schema`."""
    async with pg_schema(url) as name:
        db = Database.from_url(url, connect_args={"server_settings": {"search_path": name}},
                               **engine_kwargs)
        try:
            yield db
        finally:
            await db.dispose()


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("MEMBERBOT_TEST_DATABASE_URL",
                                                      DEFAULT_PG_URL),
                   help="PostgreSQL URL (default $MEMBERBOT_TEST_DATABASE_URL, else %(default)s)")


def chosen_backends(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """--backends as a list; anything else than ours stops the run with usage."""
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        p.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return chosen


def load_average() -> str:
    """Other work on the machine skews absolute figures; a paired ratio much less."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def format_table(head: Sequence[str], rows: Sequence[Sequence[str]], left: Container[int]) -> str:
    """Columns as wide as their widest cell; those in `left` flush left, numbers right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


async def on_backend(backend: str, pg_url: str,
                     work: Callable[[Database], Awaitable[T]]) -> T:
    """`work` on a fresh database of the backend: SQLite in a temporary file, PostgreSQL
    in a fresh schema (pg_database)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            try:
                return await work(db)
            finally:
                await db.dispose()
    async with pg_database(pg_url) as db:
        return await work(db)

