"""WAL checkpoints run on a worker thread, not inside a commit on the loop's thread."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text

from domain.storage import sqlite_checkpoints, sqlite_inline
from domain.storage.database import Database


def _rows_in_the_file(path) -> int:
    """The rows the database file itself holds: `immutable` reads it without the WAL."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()


async def test_commits_leave_the_checkpoint_to_a_worker_thread(tmp_path):
    path = tmp_path / "wal.db"
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.uow() as uow:
            assert await uow.scalar(text("PRAGMA wal_autocheckpoint")) == 0
            await uow.execute(text("CREATE TABLE t (x INTEGER)"))
            await uow.commit()
        checkpoints = db.checkpoints
        assert checkpoints is not None
        checkpoints.interval = 0  # every commit may start one
        for n in range(20):
            async with db.uow() as uow:
                await uow.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await uow.commit()
            await checkpoints.settled()
        assert checkpoints.done > 0
        assert _rows_in_the_file(path) == 20  # in the database file, not only the log
    finally:
        await db.dispose()


async def test_a_memory_database_has_no_checkpoints():
    db = Database.from_url("sqlite+aiosqlite:///:memory:")
    try:
        assert db.checkpoints is None
    finally:
        await db.dispose()


async def _write_pages(db: Database, transactions: int, how: str) -> None:
    """Transactions back to back, each dirtying a few pages, as a long job writes:
    without waiting (plain), waiting for the log between them (caught_up), or as the
    windows of a job that writes many rows (window)."""
    for n in range(transactions):
        if how == "caught_up":
            await db.caught_up()
        async with db.window() if how == "window" else db.uow() as uow:
            assert sqlite_inline.is_offloaded() == (how == "window")
            await uow.execute(text("INSERT INTO t VALUES (:n, randomblob(12000))"), {"n": n})
            await uow.commit()


async def test_a_long_job_waits_for_the_log_to_be_copied_so_it_starts_over(
        tmp_path, monkeypatch):
    # A small limit stands in for the real one: a job writing without a pause once left
    # the log growing to gigabytes, since a passive checkpoint never starts it over.
    limit = 32 * 4096
    monkeypatch.setattr(sqlite_checkpoints, "SIZE_LIMIT_BYTES", limit)
    sizes = {}
    for how in ("plain", "caught_up", "window"):
        path = tmp_path / f"log-{how}.db"
        db = Database.from_url(f"sqlite+aiosqlite:///{path}")
        try:
            async with db.uow() as uow:
                await uow.execute(text("CREATE TABLE t (x INTEGER, b BLOB)"))
                await uow.commit()
            assert db.checkpoints is not None
            await _write_pages(db, 200, how)
            sizes[how] = (path.parent / f"{path.name}-wal").stat().st_size
            async with db.uow() as uow:
                assert await uow.scalar(text("SELECT count(*) FROM t")) == 200
            assert (db.checkpoints.waits > 0) == (how != "plain")
        finally:
            await db.dispose()
    pages = 200 * 3  # each row takes three pages and more
    assert sizes["plain"] > pages * 4096  # never started over: every page still in it
    assert sizes["caught_up"] < 2 * limit  # started over, cut back to the limit
    assert sizes["window"] < 2 * limit


async def test_catching_up_is_nothing_to_wait_for_on_a_memory_database():
    db = Database.from_url("sqlite+aiosqlite:///:memory:")
    try:
        await db.caught_up()  # no log to copy: returns at once
    finally:
        await db.dispose()
