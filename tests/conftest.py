"""Shared fixtures. Every database test runs on a real SQLite file, and again on
PostgreSQL when MEMBERBOT_TEST_DATABASE_URL points at one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from domain import config
from domain.database import Database, create_engine
from domain.models import Base

PG_URL = os.environ.get("MEMBERBOT_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])




@pytest.fixture(scope="session")
def programme() -> config.Programme:
    return config.load()


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

    async def empty(self) -> Database:
        if self.kind == "sqlite":
            path = self._tmp / f"{uuid.uuid4().hex[:8]}.db"
            return Database.from_url(f"sqlite+aiosqlite:///{path}")
        url, schema = await _postgres_schema_url()
        self._schemas.append(schema)
        return Database.from_url(
            url, connect_args={"server_settings": {"search_path": schema}}, pool_size=20
        )

    async def cleanup(self) -> None:
        for schema in self._schemas:
            await _drop_schema(schema)


@pytest.fixture(params=BACKENDS)
async def backend(request, tmp_path) -> AsyncIterator[Backend]:
    b = Backend(request.param, tmp_path)
    yield b
    await b.cleanup()


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[Database]:
    database = await backend.empty()
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()
