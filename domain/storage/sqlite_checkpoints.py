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

A passive checkpoint copies the log but never starts it over: SQLite rewinds the log
at the first write after a checkpoint that copied all of it. A job that writes
without pause (the roll-ups rebuilt from scratch dirty a few megabytes a second)
never leaves that moment, so the log grew to gigabytes, and members' replies slowed
from milliseconds to seconds. So our connections cut the log file back to
SIZE_LIMIT_BYTES when it is rewound (`journal_size_limit`), and a long job calls
`caught_up()` between its transactions: with the file past that size, it waits,
without writing, for a checkpoint that copies the whole log; members go on meanwhile,
and the next write rewinds it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)
INTERVAL_S = 0.25
# The log file's size past which a long job waits for a checkpoint, and the size it is
# cut back to when it is rewound.
SIZE_LIMIT_BYTES = 16 * 2**20


class Checkpoints:
    def __init__(self, path: str, interval: float = INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self.done = 0  # checkpoints run, for tests
        self.waits = 0  # times a long job waited for the log to be copied, for tests
        self.behind = -1  # pages of the log the last checkpoint left uncopied (-1: none ran)
        self._last = time.monotonic()
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """Called on the loop after each commit: starts a checkpoint when one is due."""
        if self._running is None and time.monotonic() - self._last >= self.interval:
            self._start()

    def _start(self) -> asyncio.Future[None]:
        self._last = time.monotonic()
        running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
        self._running = running
        running.add_done_callback(self._finished)
        return running

    async def caught_up(self, tries: int = 200) -> None:
        """For a long job, before its next transaction: when the log file has grown past
        SIZE_LIMIT_BYTES, wait until a checkpoint has copied all of the log, so the next
        write starts it over. A reader on an old snapshot can hold a checkpoint back;
        after `tries` checkpoints the job goes on regardless (the log then grows)."""
        if self._log_bytes() <= SIZE_LIMIT_BYTES:
            return
        self.waits += 1
        for _ in range(tries):
            await self.settled()
            self.behind = -1
            try:
                await asyncio.shield(self._start())
            except sqlite3.OperationalError:
                pass  # another's checkpoint, or a lock: try again
            if self.behind == 0:
                return
            await asyncio.sleep(0.005)

    def _log_bytes(self) -> int:
        try:
            return os.stat(f"{self.path}-wal").st_size
        except FileNotFoundError:
            return 0

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
            _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        self.behind = frames - copied  # -1 - -1 when the database is not in WAL mode

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
