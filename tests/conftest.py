"""Shared fixtures. Every database test runs on a real SQLite file, and again on
PostgreSQL when MEMBERBOT_TEST_DATABASE_URL points at one."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

import bot.tables  # noqa: F401  (every table, the platform state included)
from bot import programme as programme_file
from domain import config
from domain.storage.database import Database, create_engine
from tests.support.database_pool import SchemaPool, SqliteTemplate

pytest_plugins = ["tests.support.telegram_fixtures"]
PG_URL = os.environ.get("MEMBERBOT_TEST_DATABASE_URL")


def _postgres_answers(url: str) -> str | None:
    """None when a server answers at `url`, else why not."""
    async def probe() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
        finally:
            await engine.dispose()
    try:
        asyncio.run(asyncio.wait_for(probe(), 10))
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"{type(exc).__name__}: {exc}"
    return None


PG_PROBLEM = _postgres_answers(PG_URL) if PG_URL else "MEMBERBOT_TEST_DATABASE_URL is not set"
if PG_URL and PG_PROBLEM and os.environ.get("MEMBERBOT_REQUIRE_POSTGRES"):
    raise RuntimeError(f"PostgreSQL is required here but does not answer: {PG_PROBLEM}")
BACKENDS = ["sqlite", "postgresql"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Skips counted by reason, one line each: without PostgreSQL a few hundred cases
    skip for the same reason, and a line per case would bury the failures above.
    (`-rs` or `-ra` asks pytest for its own line per skip instead.)"""
    if set(config.option.reportchars or "") & {"s", "a", "A"}:
        return
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    terminalreporter.section("skipped, by reason")
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        tests = "test" if count == 1 else "tests"
        terminalreporter.write_line(f"SKIPPED {count} {tests}: {reason}")




@pytest.fixture(scope="session")
def programme() -> config.Programme:
    return programme_file.load()  # with the platforms' sections, as `memberbot run` reads it


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


async def _postgres_schema_url() -> tuple[str, str]:
    assert PG_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await admin.dispose()
    return PG_URL, schema


async def _drop_schema(schema: str) -> None:
    assert PG_URL
    admin = create_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()


class Backend:
    """Creates empty databases of one kind; used by fixtures and by migration tests."""

    def __init__(self, kind: str, tmp_path) -> None:
        self.kind = kind
        self._tmp = tmp_path
        self._schemas: list[str] = []

    async def empty(self, session_zone: str | None = None) -> Database:
        if self.kind == "sqlite":
            path = self._tmp / f"{uuid.uuid4().hex[:8]}.db"
            return Database.from_url(f"sqlite+aiosqlite:///{path}")
        url, schema = await _postgres_schema_url()
        self._schemas.append(schema)
        settings = {"search_path": schema}
        if session_zone:
            settings["timezone"] = session_zone
        return Database.from_url(url, connect_args={"server_settings": settings}, pool_size=20)

    async def cleanup(self) -> None:
        for schema in self._schemas:
            await _drop_schema(schema)


def require(kind: str) -> None:
    if kind == "postgresql" and PG_PROBLEM:
        pytest.skip(f"PostgreSQL: {PG_PROBLEM}")


@pytest.fixture(params=BACKENDS)
async def backend(request, tmp_path) -> AsyncIterator[Backend]:
    require(request.param)
    b = Backend(request.param, tmp_path)
    yield b
    await b.cleanup()


SCHEMAS = SchemaPool(PG_URL) if PG_URL and not PG_PROBLEM else None
SQLITE_TEMPLATE = SqliteTemplate()


def pytest_sessionfinish(session, exitstatus) -> None:
    if SCHEMAS is not None:
        SCHEMAS.drop_all()
    SQLITE_TEMPLATE.remove()


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    """A database with every table and no rows (tests/support/database_pool.py)."""
    if backend.kind == "postgresql":
        assert SCHEMAS is not None
        schema = await SCHEMAS.take()
        database = SCHEMAS.open(schema)
        try:
            yield database
        finally:
            await SCHEMAS.give_back(database, schema)
            await database.dispose()
        return
    path = backend._tmp / f"{uuid.uuid4().hex[:8]}.db"
    await SQLITE_TEMPLATE.copy_to(path)
    database = Database.from_url(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()
