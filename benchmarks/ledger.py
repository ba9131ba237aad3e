"""Ledger throughput: the domain service against a bare INSERT of the same rows.

    python -m benchmarks.ledger [--ops N] [--repeats R] [--backends sqlite,postgresql]
                                [--pg-url URL] [--pool-size P]

For each backend (SQLite in a fresh temporary file; PostgreSQL in a fresh schema,
when reachable) and for 1 and 16 concurrent members it times:

* domain: one unit of work per operation,
  ``async with db.uow() as uow: await ledger.post(uow, Post(...), now); await uow.commit()``,
  alternating earn (+10) and redeem (-4) with unique keys, so every redeem succeeds;
* bare: the same ledger rows (same columns, same values) inserted through the same
  engine (same driver, same pragmas, same BEGIN IMMEDIATE), one INSERT and one
  commit per row, no balance update, no ON CONFLICT, no RETURNING.

With concurrency 1 one member posts sequentially; with 16, 16 asyncio tasks each
post for their own member. On SQLite the bare inserts queue on an asyncio lock,
like the units of work do, so the baseline is not slowed by SQLite's busy handler.

Each figure is the median of `--repeats` timed rounds after a warm-up; domain and
bare alternate which goes first. The ratio is domain ops/s over bare inserts/s;
the target is at least 0.3 on both backends. Exit status 1 when any ratio misses.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    pg_database,
    pg_reachable,
)
from domain import config
from domain.members import members
from domain.members.tables import Member
from domain.points import ledger
from domain.points.tables import LedgerEntry
from domain.storage.database import Database, is_sqlite
from domain.storage.tables import Base

TARGET_RATIO = 0.3
CONCURRENCIES = (1, 16)
EARN = 10
REDEEM = 4


@dataclass(frozen=True)
class Result:
    backend: str
    concurrency: int
    ops: int
    domain_ops_s: float
    bare_ops_s: float

    @property
    def ratio(self) -> float:
        return self.domain_ops_s / self.bare_ops_s if self.bare_ops_s else 0.0

    @property
    def passed(self) -> bool:
        return self.ratio >= TARGET_RATIO


# --------------------------------------------------------------------------- rows

def make_post(member_id: int, tag: str, seq: int, expires: datetime) -> ledger.Post:
    """The i-th movement of a member: earn on even, redeem on odd; keys never repeat."""
    key = f"bench:{tag}:{member_id}:{seq}"
    if seq % 2 == 0:
        return ledger.Post(member_id=member_id, delta=EARN, kind="earn", reason="bench_earn",
                           key=key, source="bench", expires_at=expires, qualifying=EARN)
    return ledger.Post(member_id=member_id, delta=-REDEEM, kind="redeem", reason="bench_redeem",
                       key=key, source="bench")


def bare_row(cmd: ledger.Post, now: datetime) -> dict[str, Any]:
    """The row ledger.post would append for `cmd`: the same columns and values."""
    return {
        "member_id": cmd.member_id,
        "delta": cmd.delta,
        "kind": cmd.kind,
        "reason": cmd.reason,
        "params": cmd.params,
        "source": cmd.source,
        "idempotency_key": cmd.key,
        "created_at": now,
        "expires_at": cmd.expires_at if cmd.delta > 0 else None,
        "lot_id": cmd.lot_id,
        "qualifying": cmd.qualifying,
        "spend": cmd.spend,
    }


# ------------------------------------------------------------------- workloads

class Bench:
    """One database, its members, and the two workloads over it."""

    def __init__(self, name: str, db: Database, now: datetime) -> None:
        self.name = name
        self.db = db
        self.now = now
        self.expires = now + timedelta(days=365)
        self.member_ids: list[int] = []
        # Bare inserts queue like units of work do on SQLite (see module docstring).
        self.bare_lock = asyncio.Lock() if is_sqlite(db.engine) else None
        self.bare_stmt = insert(LedgerEntry)
        self._round = 0

    async def setup(self, programme: config.Programme, count: int) -> None:
        async with self.db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with self.db.uow() as uow:
            for i in range(count):
                reg = await members.register(uow, programme, "bench", f"member-{i}", self.now)
                self.member_ids.append(reg.member.id)
            await uow.commit()

    def _tag(self, kind: str) -> str:
        self._round += 1
        return f"{kind}{self._round}"

    async def domain(self, member_id: int, ops: int, tag: str) -> None:
        db, now, expires = self.db, self.now, self.expires
        for seq in range(ops):
            async with db.uow() as uow:
                await ledger.post(uow, make_post(member_id, tag, seq, expires), now)
                await uow.commit()

    async def bare(self, member_id: int, ops: int, tag: str) -> None:
        engine, lock, stmt = self.db.engine, self.bare_lock, self.bare_stmt
        for seq in range(ops):
            row = bare_row(make_post(member_id, tag, seq, self.expires), self.now)
            if lock is None:
                await _insert_one(engine, stmt, row)
            else:
                async with lock:
                    await _insert_one(engine, stmt, row)

    async def timed(self, kind: str, concurrency: int, ops: int) -> float:
        """Run `ops` operations split over `concurrency` members; return operations per second."""
        work: Callable[[int, int, str], Awaitable[None]] = (
            self.domain if kind == "domain" else self.bare)
        tag = self._tag(kind[0])
        share = [ops // concurrency + (1 if i < ops % concurrency else 0)
                 for i in range(concurrency)]
        start = time.perf_counter()
        await asyncio.gather(*(work(self.member_ids[i], share[i], tag)
                               for i in range(concurrency)))
        elapsed = time.perf_counter() - start
        return ops / elapsed

    async def check(self) -> None:
        """Every domain posting landed and each cached balance matches its ledger."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(Member.id, Member.points_balance,
                       select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                       .where(LedgerEntry.member_id == Member.id,
                              LedgerEntry.idempotency_key.like("bench:d%"))
                       .scalar_subquery())
                .where(Member.id.in_(self.member_ids)))
            for member_id, balance, total in rows:
                if balance != total:
                    raise AssertionError(
                        f"{self.name}: member {member_id} balance {balance} != ledger {total}")


async def _insert_one(engine: AsyncEngine, stmt: Any, row: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await conn.execute(stmt, row)


async def measure(bench: Bench, ops: int, repeats: int, warmup: int) -> list[Result]:
    results = []
    for concurrency in CONCURRENCIES:
        # Warm-up: fills the pool, the statement caches and (asyncpg) prepared statements.
        n = max(warmup, concurrency * 4)
        for kind in ("bare", "domain"):
            await bench.timed(kind, concurrency, n)
        samples: dict[str, list[float]] = {"domain": [], "bare": []}
        for r in range(repeats):
            order = ("bare", "domain") if r % 2 == 0 else ("domain", "bare")
            for kind in order:
                samples[kind].append(await bench.timed(kind, concurrency, ops))
        results.append(Result(bench.name, concurrency, ops,
                              statistics.median(samples["domain"]),
                              statistics.median(samples["bare"])))
        paired = " ".join(f"{d / b:.2f}" for d, b in zip(samples["domain"], samples["bare"],
                                                          strict=True))
        print(f"  {bench.name:<10} x{concurrency:<2}  domain "
              + " ".join(f"{v:5.0f}" for v in samples["domain"])
              + "  bare " + " ".join(f"{v:5.0f}" for v in samples["bare"])
              + f"  ops/s; per-round ratio {paired}", flush=True)
    await bench.check()
    return results


# ------------------------------------------------------------------- backends

async def run_sqlite(args: argparse.Namespace, programme: config.Programme,
                     now: datetime) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="memberbot-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        db = Database.from_url(url, pool_size=args.pool_size)
        try:
            bench = Bench("sqlite", db, now)
            await bench.setup(programme, max(CONCURRENCIES))
            return await measure(bench, args.ops, args.repeats, args.warmup)
        finally:
            await db.dispose()



async def run_postgresql(args: argparse.Namespace, programme: config.Programme,
                         now: datetime) -> list[Result]:
    async with pg_database(args.pg_url, pool_size=args.pool_size) as db:
        bench = Bench("postgresql", db, now)
        await bench.setup(programme, max(CONCURRENCIES))
        return await measure(bench, args.ops, args.repeats, args.warmup)


# ------------------------------------------------------------------- report

def table(results: list[Result]) -> str:
    head = ("backend", "members", "domain ops/s", "bare inserts/s", "ratio",
            f"target >= {TARGET_RATIO}")
    rows = [(r.backend, str(r.concurrency), f"{r.domain_ops_s:,.0f}", f"{r.bare_ops_s:,.0f}",
             f"{r.ratio:.2f}", "PASS" if r.passed else "FAIL") for r in results]
    return format_table(head, rows, left={0})



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ledger", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=500,
                   help="operations per timed round, split over the members (default 500)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed rounds per figure; the median is reported (default 5)")
    p.add_argument("--warmup", type=int, default=100,
                   help="untimed operations before timing (default 100)")
    add_backend_arguments(p)
    p.add_argument("--pool-size", type=int, default=20,
                   help="connection pool size for both workloads (default 20)")
    args = p.parse_args(argv)
    args.backends = chosen_backends(p, args)
    if args.ops < max(CONCURRENCIES) or args.repeats < 1 or args.warmup < 0:
        p.error(f"--ops must be at least {max(CONCURRENCIES)}, --repeats at least 1")
    return args


async def main_async(args: argparse.Namespace) -> int:
    programme = config.load()
    now = datetime.now(UTC).replace(microsecond=0)
    results: list[Result] = []
    started = time.perf_counter()
    print(f"ledger benchmark: {args.ops} ops per round, {args.repeats} rounds, "
          f"earn +{EARN} / redeem -{REDEEM} alternating; load average {load_average()}", flush=True)
    for backend in args.backends:
        if backend == "sqlite":
            results += await run_sqlite(args, programme, now)
        else:
            why = await pg_reachable(args.pg_url)
            if why is not None:
                print(f"  postgresql skipped: not reachable at {args.pg_url} ({why})", flush=True)
                continue
            results += await run_postgresql(args, programme, now)
    print()
    if results:
        print(table(results))
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load average {load_average()}")
    return 0 if all(r.passed for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
