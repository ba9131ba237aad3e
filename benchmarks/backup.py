"""What a backup of a SQLite database costs the bot that keeps running on it.

A database of `--megabytes` is copied (domain.storage.sqlite_backup.backup, as the
scheduled job and `memberbot backup` do) while, in the same process:
- members' transactions commit one small write every few milliseconds;
- a long job writes without pause (a few hundred KB a transaction), calling
  `Database.caught_up()` between its transactions as long jobs do;
- a timer measures how late the event loop runs it (lag).
It prints, for the copy's time and the seconds after: the loop's worst lag, members'
worst and 99th-percentile commit time, the write-ahead log's largest size, and the
longest caught_up() wait. The copy holds one read transaction for its whole pass, so
the log cannot be started over meanwhile: this shows by how much it grows, and that
it comes back once the copy is done.

    python -m benchmarks.backup                  # 300 MB, about a minute on 2 cores
    python -m benchmarks.backup --megabytes 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from domain.storage import sqlite_backup
from domain.storage.database import Database

MEMBER_EVERY_S = 0.005
JOB_ROWS = 100  # rows of 2 KB a long-job transaction writes
AFTER_S = 5.0  # how long the writers go on after the copy, to see the log come back


@dataclass
class Window:
    lags: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    wal_max: int = 0
    job_transactions: int = 0


def seed(path: Path, megabytes: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE fill (id INTEGER PRIMARY KEY, body BLOB)")
    conn.execute("CREATE TABLE member_writes (id INTEGER PRIMARY KEY, at REAL)")
    conn.execute("CREATE TABLE job_writes (id INTEGER PRIMARY KEY, body BLOB)")
    rows = megabytes * 2**20 // 4000
    for start in range(0, rows, 5000):
        conn.execute("BEGIN")
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                     "WHERE i < ?) INSERT INTO fill (body) SELECT randomblob(4000) FROM n",
                     (min(5000, rows - start),))
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def log_bytes(wal: Path) -> int:
    try:
        return wal.stat().st_size
    except FileNotFoundError:
        return 0


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(path: Path, job_mb_s: float) -> tuple[dict[str, Window], float, int]:
    db = Database.from_url(f"sqlite+aiosqlite:///{path}")
    wal = Path(f"{path}-wal")
    windows = {"before": Window(), "copy": Window(), "after": Window()}
    now = ["before"]
    stop = asyncio.Event()

    async def lag() -> None:
        while not stop.is_set():
            began, at = time.perf_counter(), windows[now[0]]
            await asyncio.sleep(0.002)
            at.lags.append(time.perf_counter() - began - 0.002)

    async def member() -> None:
        while not stop.is_set():
            began, at = time.perf_counter(), windows[now[0]]
            async with db.uow() as uow:
                await uow.session.execute(text("INSERT INTO member_writes (at) VALUES (:at)"),
                                          {"at": began})
                await uow.commit()
            at.commits.append(time.perf_counter() - began)
            await asyncio.sleep(MEMBER_EVERY_S)

    async def job() -> None:
        while not stop.is_set():
            began, at = time.perf_counter(), windows[now[0]]  # counted where it began
            await db.caught_up()
            at.waits.append(time.perf_counter() - began)
            async with db.uow() as uow:
                await uow.session.execute(text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :rows) INSERT INTO job_writes (body) "
                    "SELECT randomblob(2000) FROM n"), {"rows": JOB_ROWS})
                await uow.commit()
            windows[now[0]].job_transactions += 1
            if job_mb_s > 0:  # paced: JOB_ROWS * 2 KB at the rate asked
                await asyncio.sleep(JOB_ROWS * 2000 / (job_mb_s * 2**20))

    async def log_size() -> None:
        while not stop.is_set():
            size = log_bytes(wal)
            w = windows[now[0]]
            w.wal_max = max(w.wal_max, size)
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(t()) for t in (lag, member, job, log_size)]
    try:
        await asyncio.sleep(2.0)
        now[0] = "copy"
        began = time.perf_counter()
        size = await sqlite_backup.backup(path, path.with_name("copy.db"))
        took = time.perf_counter() - began
        now[0] = "after"
        await asyncio.sleep(AFTER_S)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        print(f"log at the end: {log_bytes(wal) / 2**20:.1f} MB")
        await db.dispose()
    return windows, took, size


def report(name: str, w: Window) -> None:
    print(f"  {name}: loop lag worst {max(w.lags, default=0) * 1000:.1f} ms, "
          f"p99 {pct(w.lags, 0.99) * 1000:.1f} ms; member commits {len(w.commits)}, worst "
          f"{max(w.commits, default=0) * 1000:.1f} ms, p99 {pct(w.commits, 0.99) * 1000:.1f} ms; "
          f"long-job transactions {w.job_transactions}, longest caught_up wait "
          f"{max(w.waits, default=0) * 1000:.0f} ms; log at most {w.wal_max / 2**20:.1f} MB")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--megabytes", type=int, default=300, help="size of the database")
    args.add_argument("--job-mb-s", type=float, default=8.0,
                      help="what the long job writes a second (0: as fast as it can)")
    options = args.parse_args()
    with tempfile.TemporaryDirectory(prefix="memberbot-backup-") as folder:
        path = Path(folder) / "bench.db"
        began = time.perf_counter()
        seed(path, options.megabytes)
        print(f"seeded {path.stat().st_size / 2**20:.0f} MB in "
              f"{time.perf_counter() - began:.1f} s; load average {os.getloadavg()[0]:.2f}")
        windows, took, size = asyncio.run(measure(path, options.job_mb_s))
        print(f"copy: {size / 2**20:.0f} MB in {took:.2f} s "
              f"({size / 2**20 / took:.0f} MB/s); the long job asked to write "
              f"{options.job_mb_s:g} MB/s (0: flat out)")
        report("the 2 s before", windows["before"])
        report("during the copy", windows["copy"])
        report(f"the {AFTER_S:g} s after", windows["after"])


if __name__ == "__main__":
    main()
