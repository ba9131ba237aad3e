"""Shared by the tests that run memberbot as real processes and kill them: a database
of the process's own (a child cannot be handed a search_path through the URL), and a
child that can be killed with SIGKILL or stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from domain.storage.database import create_engine
from tests.conftest import PG_URL, require


@asynccontextmanager
async def own_database(kind: str, tmp_path: Path, prefix: str) -> AsyncIterator[str]:
    """The URL of a SQLite file, or of a PostgreSQL database created for the test and
    dropped after it (skipped where no PostgreSQL answers)."""
    require(kind)
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        return
    assert PG_URL
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def scalar(url: str, sql: str):
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


class Child:
    """A memberbot process started by a subclass's `start`."""

    proc: asyncio.subprocess.Process | None = None

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()
