"""WAL checkpoints on a worker thread.

SQLite moves the write-ahead log back into the database file (a checkpoint) inside
the commit that takes the log past 1,000 pages: 4 MB copied and synced, which held
the event loop for up to 130 ms, since our statements run on its thread
(domain.storage.sqlite_inline). So our connections turn that off
(`wal_autocheckpoint=0`), and after a commit a passive checkpoint runs on a worker
thread, on a connection of its own, at most every INTERVAL_S. A passive checkpoint
takes no lock that writers or readers wait for; if another process is checkpointing
the same file, this one leaves it to them. The last connection to close still
checkpoints the whole log, as SQLite always does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)
INTERVAL_S = 0.25


class Checkpoints:
    def __init__(self, path: str, interval: float = INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self.done = 0  # checkpoints run, for tests
        self._last = time.monotonic()
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """Called on the loop after each commit: starts a checkpoint when one is due."""
        now = time.monotonic()
        if self._running is not None or now - self._last < self.interval:
            return
        self._last = now
        self._running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        self._running.add_done_callback(self._finished)

    async def settled(self) -> None:
        """Wait for a checkpoint under way, if any."""
        if self._running is not None:
            await asyncio.shield(self._running)

    async def truncate(self, tries: int = 50, wait_s: float = 0.1) -> bool:
        """Checkpoint the whole log and truncate it to nothing, on a worker thread: no
        older copy of a page stays in it. A reader on an older snapshot blocks that; it
        is tried again `tries` times, `wait_s` apart. False if it never got through."""
        await self.settled()
        loop = asyncio.get_running_loop()
        for _ in range(tries):
            if await loop.run_in_executor(None, self._truncate):
                return True
            await asyncio.sleep(wait_s)
        log.warning("the write-ahead log could not be truncated: a reader held it")
        return False

    def _connect(self, timeout: float) -> sqlite3.Connection:
        # mode=rw: a file removed meanwhile (the database was disposed of) is not made anew.
        return sqlite3.connect(Path(self.path).resolve().as_uri() + "?mode=rw",
                               timeout=timeout, isolation_level=None, uri=True)

    def _truncate(self) -> bool:
        conn = self._connect(timeout=1)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return busy == 0
        except sqlite3.OperationalError as exc:
            log.debug("a truncating checkpoint was left: %s", exc)
            return False
        finally:
            conn.close()

    def _checkpoint(self) -> None:
        conn = self._connect(timeout=0)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def _finished(self, future: asyncio.Future[None]) -> None:
        self._running = None
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.done += 1
        elif isinstance(error, sqlite3.OperationalError) and (
                "locked" in str(error) or "unable to open" in str(error)):
            log.debug("a WAL checkpoint was left: %s", error)  # another's, or no file
        else:
            log.warning("a WAL checkpoint failed", exc_info=error)
