"""Birthday and win-back selection over a million members, against a full scan.

    python -m benchmarks.lifecycle [--members N] [--repeats R]
                                   [--backends sqlite,postgresql] [--pg-url URL]

For each backend (SQLite in a fresh temporary file; PostgreSQL in a fresh schema, when
reachable) it generates N members (default 1,000,000) in one INSERT .. SELECT (a
recursive CTE on SQLite, generate_series on PostgreSQL): birthdays on 80% of them,
activity spread over two years, purchase histories, a few time zones, consent on half.
The steady state of a running programme is there too: nine in ten of today's lapsing
members already have their win-back episode, and this year's birthdays so far (and half
of today's) have had their gift.

It then times, as the jobs run them (a unit of work, the read offloaded on SQLite):

* birthday selection: `domain.lifecycle.birthdays.due` (the SQL over the birthday index, then
  each candidate's own time zone in Python);
* win-back selection: `domain.lifecycle.winback.selection`, the lapsing stage clause with the
  consent and episode filters, every row fetched;
* baseline: a full scan of the same table, `SELECT count(*) FROM members WHERE
  points_balance >= 0` (no index can answer it).

Each figure is the median of `--repeats` rounds after a warm-up. The query plan of each
selection is printed (EXPLAIN QUERY PLAN / EXPLAIN); a selection passes when it is under
1 s and its plan reads the index it is built for. Exit status 1 when any fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, insert, literal, or_, select, text

from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    pg_database,
    pg_reachable,
)
from domain import config
from domain.lifecycle import birthdays, winback
from domain.lifecycle.tables import BirthdayGift, WinBackEpisode
from domain.members.tables import Member
from domain.storage import sqlite_inline
from domain.storage.database import Database
from domain.storage.tables import Base

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # noon in Shanghai
TARGET_S = 1.0
DAY_S = 86_400
MEMBER_INDEXES = [ix for ix in Member.__table__.indexes]
BASELINE = "SELECT count(*) FROM members WHERE points_balance >= 0"


@dataclass(frozen=True)
class Figure:
    backend: str
    what: str
    rows: int
    seconds: float
    baseline_s: float
    index: str | None  # the index the plan must read; None for the baseline
    plan: list[str]

    @property
    def uses_index(self) -> bool:
        return self.index is None or any(self.index in line for line in self.plan)

    @property
    def passed(self) -> bool:
        return self.index is None or (self.seconds < TARGET_S and self.uses_index)


# ------------------------------------------------------------------ the population

def _columns(dialect: str) -> str:
    """Column expressions over (n, a, b, c): pseudo-random integers per member."""
    now_s = int(NOW.timestamp())
    if dialect == "sqlite":
        def at(offset: str) -> str:
            return f"strftime('%Y-%m-%d %H:%M:%S.000000', {now_s} - ({offset}), 'unixepoch')"
        yes, no = "1", "0"
    else:
        def at(offset: str) -> str:
            return f"(timestamp '{NOW:%Y-%m-%d %H:%M:%S}' - ({offset}) * interval '1 second')"
        yes, no = "true", "false"
    idle = f"(a % {730 * DAY_S})"
    tenure = f"({idle} + c % {400 * DAY_S})"
    count = "(b % 12)"
    return ", ".join([
        "n", no, f"CASE WHEN a % 2 = 1 THEN {yes} ELSE {no} END",
        "CASE WHEN b % 100 < 97 THEN 'active' WHEN b % 100 < 99 THEN 'unreachable' "
        "ELSE 'erased' END",
        at(tenure), at(idle), "'R' || n", "0", count,
        f"CASE WHEN {count} > 0 THEN {at(tenure)} END",
        f"CASE WHEN {count} > 0 THEN {at(idle)} END",
        "CASE WHEN a % 10 < 8 THEN 1 + b % 12 END", "CASE WHEN a % 10 < 8 THEN 1 + c % 28 END",
        "CASE WHEN c % 20 = 0 THEN 'America/Los_Angeles' WHEN c % 20 = 1 THEN 'Europe/London' "
        "END",
        "CASE WHEN a % 100 < 80 THEN 'member' WHEN a % 100 < 95 THEN 'silver' ELSE 'gold' END",
    ])


COLUMNS = ("id, phone_verified, marketing_consent, status, joined_at, last_active_at, "
           "referral_code, points_balance, purchase_count, first_purchase_at, "
           "last_purchase_at, birth_month, birth_day, timezone, tier")
MIX = "(n * 2654435761) % 4294967291 AS a, (n * 40503 + 12345) % 1000003 AS b, " \
      "(n * 9973 + 7) % 1000033 AS c"


def generate_sql(dialect: str, members: int) -> str:
    if dialect == "sqlite":
        source = (f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                  f"WHERE n < {members}) SELECT n, {MIX} FROM seq")
    else:
        source = f"SELECT n, {MIX.replace('(n *', '(n::bigint *')} " \
                 f"FROM generate_series(1, {members}) AS n"
    return f"INSERT INTO members ({COLUMNS}) SELECT {_columns(dialect)} FROM ({source}) h"


async def populate(db: Database, members: int, programme: config.Programme) -> float:
    started = time.perf_counter()
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        for index in MEMBER_INDEXES:  # faster to build once, after the rows
            await conn.run_sync(lambda sync, ix=index: ix.drop(sync))
    async with db.engine.begin() as conn:
        await conn.execute(text(generate_sql(db.dialect, members)))
    async with db.engine.begin() as conn:
        for index in MEMBER_INDEXES:
            await conn.run_sync(lambda sync, ix=index: ix.create(sync))
    await _steady_state(db, programme)
    if db.dialect == "postgresql":  # autovacuum would, on a live server
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE members"))
            await conn.execute(text("ANALYZE winback_episodes"))
            await conn.execute(text("ANALYZE birthday_gifts"))
            await conn.commit()
    return time.perf_counter() - started


async def _steady_state(db: Database, programme: config.Programme) -> None:
    """Earlier runs happened: episodes for most lapsing members, this year's gifts so far
    (and half of today's)."""
    rules = programme.lifecycle
    async with db.uow() as uow:
        m = Member.__table__
        lapsing = (m.c.last_active_at < NOW - timedelta(days=rules.lapse_floor_days)) & (
            m.c.last_active_at >= NOW - timedelta(days=rules.churn_days))
        await uow.session.execute(insert(WinBackEpisode).from_select(
            ["member_id", "idle_since", "detected_at"],
            select(m.c.id, m.c.last_active_at, literal(NOW, Member.last_active_at.type))
            .where(lapsing, m.c.id % 10 != 0)))
        local = NOW.astimezone(programme.zone).date()
        await uow.session.execute(insert(BirthdayGift).from_select(
            ["member_id", "year", "points", "given_at"],
            select(m.c.id, literal(local.year), literal(100),
                   literal(NOW, Member.last_active_at.type))
            .where(or_(m.c.birth_month < local.month,
                       and_(m.c.birth_month == local.month, m.c.birth_day < local.day),
                       and_(m.c.birth_month == local.month, m.c.birth_day == local.day,
                            m.c.id % 2 == 0)))))
        await uow.commit()


# ------------------------------------------------------------------ measuring

class Captured:
    """The SQL and parameters the driver last received, to EXPLAIN exactly that."""

    def __init__(self, db: Database) -> None:
        self.statement: str | None = None
        self.parameters: Any = None
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.statement, self.parameters = statement, parameters


async def explain(db: Database, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    async with db.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
    if db.dialect == "sqlite":
        return [f"{row[0]:>3} {row[1]:>3}  {row[-1]}" for row in rows]
    return [row[0] for row in rows]


async def _baseline(db: Database) -> int:
    async with db.uow() as uow:
        with sqlite_inline.offloaded():
            return int(await uow.session.scalar(text(BASELINE)))


async def _birthdays(db: Database, programme: config.Programme) -> int:
    return len(await birthdays.due(db, programme, NOW))


async def _winback(db: Database, programme: config.Programme) -> int:
    async with db.uow() as uow:
        with sqlite_inline.offloaded():
            return len((await uow.session.execute(winback.selection(programme, NOW))).all())


async def timed(call, repeats: int) -> tuple[float, int]:
    rows = await call()  # warm-up: caches, prepared statements
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


async def measure(name: str, db: Database, programme: config.Programme, members: int,
                  repeats: int) -> list[Figure]:
    made = await populate(db, members, programme)
    print(f"  {name}: {members:,} members generated and indexed in {made:.1f} s", flush=True)
    captured = Captured(db)
    base_s, base_rows = await timed(lambda: _baseline(db), repeats)
    base_plan = await explain(db, BASELINE, ())
    figures = [Figure(name, "full scan (baseline)", base_rows, base_s, base_s, None, base_plan)]
    for what, call, index in (
            ("birthday selection", lambda: _birthdays(db, programme), "ix_members_birthday"),
            ("win-back selection", lambda: _winback(db, programme),
             "ix_members_lifecycle")):
        seconds, rows = await timed(call, repeats)
        plan = await explain(db, captured.statement, captured.parameters)
        figures.append(Figure(name, what, rows, seconds, base_s, index, plan))
    return figures


# ------------------------------------------------------------------ backends

async def run_sqlite(args: argparse.Namespace, programme: config.Programme) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="memberbot-bench-") as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{tmp}/lifecycle.db")
        try:
            return await measure("sqlite", db, programme, args.members, args.repeats)
        finally:
            await db.dispose()



async def run_postgresql(args: argparse.Namespace,
                         programme: config.Programme) -> list[Figure]:
    async with pg_database(args.pg_url) as db:
        return await measure("postgresql", db, programme, args.members, args.repeats)


# ------------------------------------------------------------------ report

def report(figures: list[Figure]) -> str:
    head = ("backend", "query", "rows", "median ms", "x full scan", "index used",
            f"target < {TARGET_S:g} s")
    rows = [(f.backend, f.what, f"{f.rows:,}", f"{f.seconds * 1000:,.1f}",
             f"{f.seconds / f.baseline_s:.2f}" if f.baseline_s else "-",
             "-" if f.index is None else ("yes" if f.uses_index else "NO"),
             "-" if f.index is None else ("PASS" if f.passed else "FAIL")) for f in figures]
    return format_table(head, rows, left={0, 1})



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lifecycle", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=1_000_000,
                   help="members to generate (default 1,000,000)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed rounds per figure; the median is reported (default 5)")
    add_backend_arguments(p)
    args = p.parse_args(argv)
    args.backends = chosen_backends(p, args)
    if args.members < 1000 or args.repeats < 1:
        p.error("--members must be at least 1000 and --repeats at least 1")
    return args


async def main_async(args: argparse.Namespace) -> int:
    programme = config.load()
    started = time.perf_counter()
    print(f"lifecycle selection benchmark: {args.members:,} members, {args.repeats} rounds, "
          f"at {NOW:%Y-%m-%d %H:%M} UTC; load average {load_average()}", flush=True)
    figures: list[Figure] = []
    for backend in args.backends:
        if backend == "sqlite":
            figures += await run_sqlite(args, programme)
            continue
        why = await pg_reachable(args.pg_url)
        if why is not None:
            print(f"  postgresql skipped: not reachable at {args.pg_url} ({why})", flush=True)
            continue
        figures += await run_postgresql(args, programme)
    for figure in figures:
        if figure.index is not None:
            print(f"\n{figure.backend}, {figure.what}: plan")
            print("\n".join(f"    {line}" for line in figure.plan))
    print()
    if figures:
        print(report(figures))
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average {load_average()}")
    return 0 if all(f.passed for f in figures) else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
