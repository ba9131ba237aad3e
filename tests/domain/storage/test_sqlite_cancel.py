"""A long read on SQLite's worker thread, cancelled mid-statement, gives way only once
the statement has ended: the connection is never used by two threads at once, nor
closed under a running statement."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from domain.storage import sqlite_inline
from domain.storage.database import Database

SLOW = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 3000000) SELECT count(*) FROM n")


@pytest.fixture
async def sqlite_db(tmp_path):
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    yield db
    await db.dispose()


async def test_a_cancelled_offloaded_read_waits_for_its_statement(sqlite_db, monkeypatch):
    ended: list[str] = []  # written by the worker thread as each statement returns
    real = asyncio.to_thread

    def marked(call, /, *args, **kwargs):
        def run():
            try:
                return call(*args, **kwargs)
            finally:
                ended.append("statement")
        return real(run)

    monkeypatch.setattr(sqlite_inline.asyncio, "to_thread", marked)

    async def read() -> int:
        async with sqlite_db.snapshot() as uow:
            return int(await uow.scalar(SLOW))

    task = asyncio.create_task(read())
    while not ended or task.done():  # the snapshot's BEGIN has run: the count is next
        await asyncio.sleep(0.001)
        if task.done():
            break
    before = len(ended)
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(ended) > before  # the count had returned on its thread when it gave way
    async with sqlite_db.snapshot() as uow:  # and the connection serves again
        assert await uow.scalar(text("SELECT 1")) == 1
