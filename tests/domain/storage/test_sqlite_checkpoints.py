"""WAL checkpoints run on a worker thread, not inside a commit on the loop's thread."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text

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
