"""Purchases throughput: the signed HTTP API against the bare ledger earn, and CSV import.

    python -m benchmarks.purchases [--ops N] [--repeats R] [--rows N] [--contended N]
                                   [--backends sqlite,postgresql] [--pg-url URL]

For each backend (SQLite in a temporary file; PostgreSQL in a fresh schema, when it
answers) it times, alternating which goes first:

* api: purchases per second through the real aiohttp app over HTTP, from 50 concurrent
  clients, each call signed with HMAC and doing the whole use case (signature check,
  JSON parsing, member lookup, earning rules, ledger entries, tier evaluation);
* ledger: bare ledger earns per second, one unit of work per `ledger.post`, from the
  same 50 concurrent tasks against the same database;
* contended: 16 tills posting `--contended` purchases (default 800) for only two
  members, each alternating between them, so concurrent transactions share members
  (on PostgreSQL this once deadlocked: 32 answers of 500 in 800). Every answer must be
  201; it prints purchases per second, errors and the p99 latency.

The ratio api/ledger has a target of at least 0.3. Then it imports a generated CSV of
`--rows` purchases (default 100,000, over 5,000 members) with `memberbot import`'s code
and reports rows per second; the target is at least 5,000 on SQLite. Exit status 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from benchmarks.common import DEFAULT_PG_URL, pg_database, pg_reachable
from bot import importing, web
from bot.api import service, signing
from bot.app import App
from bot.settings import Settings
from domain import config
from domain.members import members
from domain.members.tables import Member
from domain.points import ledger
from domain.storage.database import Database
from domain.storage.tables import Base
from handlers.routers import build_engine

CLIENTS = 50
TILLS = 16  # the contended case: many tills, two members
TARGET_RATIO = 0.3
TARGET_IMPORT = 5_000
KEY = "bench-key"


class Bench:
    def __init__(self, name: str, db: Database, programme: config.Programme) -> None:
        self.name, self.db, self.programme = name, db, programme
        self.ids: list[int] = []
        self.round = 0

    async def setup(self) -> None:
        async with self.db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        now = datetime.now(UTC)
        async with self.db.uow() as uow:
            for i in range(CLIENTS):
                reg = await members.register(uow, self.programme, "bench", f"c{i}", now)
                self.ids.append(reg.member.id)
            await uow.commit()

    async def ledger_rate(self, ops: int) -> float:
        self.round += 1
        tag, expires = f"L{self.round}", datetime.now(UTC) + timedelta(days=365)

        async def worker(i: int) -> None:
            for seq in range(i, ops, CLIENTS):
                async with self.db.uow() as uow:
                    await ledger.post(uow, ledger.Post(
                        member_id=self.ids[i], delta=10, kind="earn", reason="bench",
                        key=f"bench:{tag}:{seq}", expires_at=expires, qualifying=10),
                        datetime.now(UTC))
                    await uow.commit()
        return await _timed(ops, (worker(i) for i in range(CLIENTS)))

    async def api_rate(self, pool: ProcessPoolExecutor, base: str, ops: int) -> float:
        """The clients run in their own process, as tills are other machines."""
        self.round += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, clients, base, self.ids, f"A{self.round}", ops)


def contended(base: str, ids: list[int], tag: str, ops: int) -> dict[str, float]:
    return asyncio.run(_contended(base, ids, tag, ops))


async def _contended(base: str, ids: list[int], tag: str, ops: int) -> dict[str, float]:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=TILLS)) as session:
        async def till(t: int) -> None:
            for seq in range(t, ops, TILLS):
                body = json.dumps({"order_id": f"{tag}-{seq}",
                                   "member": {"number": str(ids[(seq // TILLS + t) % 2])},
                                   "amount": 1_000 + seq, "currency": "CNY"}).encode()
                headers = signing.headers(KEY, int(time.time()), body)
                start = time.perf_counter()
                async with session.post(base + "/api/v1/purchases", data=body,
                                        headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                latencies.append(time.perf_counter() - start)
        rate = await _timed(ops, (till(t) for t in range(TILLS)))
    latencies.sort()
    return {"rate": rate, "errors": ops - statuses.get(201, 0),
            "server_errors": sum(n for s, n in statuses.items() if s >= 500),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))]}


def clients(base: str, ids: list[int], tag: str, ops: int) -> float:
    return asyncio.run(_clients(base, ids, tag, ops))


async def _clients(base: str, ids: list[int], tag: str, ops: int) -> float:
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(i: int) -> None:
            for seq in range(i, ops, CLIENTS):
                body = json.dumps({
                    "order_id": f"{tag}-{seq}", "member": {"number": str(ids[i])},
                    "amount": 12_345, "currency": "CNY",
                    "items": [{"sku": "LONGJING-250G", "category": "tea", "quantity": 1,
                               "amount": 12_345}]}).encode()
                headers = signing.headers(KEY, int(time.time()), body)
                async with session.post(base + "/api/v1/purchases", data=body,
                                        headers=headers) as resp:
                    if resp.status != 201:
                        raise AssertionError(f"{resp.status}: {await resp.text()}")
        return await _timed(ops, (worker(i) for i in range(CLIENTS)))


async def _timed(ops: int, workers) -> float:
    start = time.perf_counter()
    await asyncio.gather(*workers)
    return ops / (time.perf_counter() - start)


async def measure_api(bench: Bench, ops: int, repeats: int,
                      contention: int) -> tuple[float, float, dict[str, float]]:
    app = App(Settings(api_key=KEY), bench.programme, bench.db,
              build_engine(bench.db, bench.programme))
    web_app = web.build(bench.db)
    with ProcessPoolExecutor(max_workers=1) as pool:
        async with service.running(app, web_app), \
                web.serving(web_app, "127.0.0.1", 0) as port:
            base = f"http://127.0.0.1:{port}"
            api, bare = await _rounds(bench, pool, base, ops, repeats)
            shared = {}
            if contention:
                shared = await asyncio.get_running_loop().run_in_executor(
                    pool, contended, base, bench.ids[:2], "C", contention)
                print(f"  {bench.name:<10} contended: {TILLS} tills on 2 members, "
                      f"{contention} purchases, {shared['rate']:.0f}/s, "
                      f"{shared['errors']:.0f} not 201 ({shared['server_errors']:.0f} 5xx), "
                      f"p99 {shared['p99_ms']:.0f} ms", flush=True)
            return api, bare, shared


async def _rounds(bench: Bench, pool: ProcessPoolExecutor, base: str, ops: int,
                  repeats: int) -> tuple[float, float]:
    await bench.api_rate(pool, base, CLIENTS * 2)  # warm-up: pools, caches
    await bench.ledger_rate(CLIENTS * 2)
    samples: dict[str, list[float]] = {"api": [], "ledger": []}
    for r in range(repeats):
        for kind in (("api", "ledger") if r % 2 == 0 else ("ledger", "api")):
            rate = (await bench.api_rate(pool, base, ops) if kind == "api"
                    else await bench.ledger_rate(ops))
            samples[kind].append(rate)
    print(f"  {bench.name:<10} api " + " ".join(f"{v:5.0f}" for v in samples["api"])
          + "  ledger " + " ".join(f"{v:5.0f}" for v in samples["ledger"]) + "  ops/s",
          flush=True)
    return statistics.median(samples["api"]), statistics.median(samples["ledger"])


async def measure_import(bench: Bench, rows: int, folder: Path) -> float:
    """Members are created in one statement; the timed part is the import alone."""
    count, now = 5_000, datetime.now(UTC)
    async with bench.db.engine.begin() as conn:
        first = len(bench.ids) + 1
        await conn.execute(insert(Member), [
            {"id": first + i, "joined_at": now, "last_active_at": now,
             "referral_code": f"IMP{i:08d}", "tier": "member", "points_balance": 0,
             "phone_verified": False, "marketing_consent": False, "status": "active"}
            for i in range(count)])
    buffer, tag = io.StringIO(), uuid.uuid4().hex[:6]  # till order ids grow, like these
    out = csv.writer(buffer)
    out.writerow(["order_id", "member", "amount", "currency", "items"])
    for i in range(rows):
        out.writerow([f"IMP-{tag}-{i:07d}", first + i % count, 1_000 + i % 50_000,
                      "CNY", "LONGJING-250G|tea|1|1000" if i % 10 == 0 else ""])
    path = folder / f"import-{bench.name}.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    app = App(Settings(), bench.programme, bench.db, build_engine(bench.db, bench.programme))
    sink = io.StringIO()
    start = time.perf_counter()
    tally = await importing.run(app, path, out=sink, err=sink)
    rate = rows / (time.perf_counter() - start)
    if tally.imported != rows or tally.rejected:
        raise AssertionError(f"import: {tally.imported} of {rows}, {len(tally.rejected)} bad")
    return rate


async def run_backend(name: str, db: Database, args: argparse.Namespace,
                      programme: config.Programme, folder: Path) -> dict[str, float]:
    try:
        bench = Bench(name, db, programme)
        await bench.setup()
        api, bare, shared = await measure_api(bench, args.ops, args.repeats, args.contended)
        rate = await measure_import(bench, args.rows, folder) if args.rows else 0.0
        return {"api": api, "ledger": bare, "import": rate,
                "contended_errors": shared.get("errors", 0.0)}
    finally:
        await db.dispose()


async def main(args: argparse.Namespace) -> int:
    programme = config.load()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="memberbot-bench-") as tmp:
        folder = Path(tmp)
        if "sqlite" in args.backends:
            db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
            results["sqlite"] = await run_backend("sqlite", db, args, programme, folder)
        if "postgresql" in args.backends:
            problem = await pg_reachable(args.pg_url)
            if problem:
                print(f"PostgreSQL skipped: {problem}")
            else:
                results["postgresql"] = await _on_postgres(args, programme, folder)
    print(f"load average at end: {os.getloadavg()[0]:.2f}\n")
    print(f"{'backend':<11}{'API/s':>8}{'ledger/s':>10}{'ratio':>8}{'import rows/s':>15}")
    ok = True
    for name, r in results.items():
        ratio = r["api"] / r["ledger"]
        ok &= ratio >= TARGET_RATIO and (name != "sqlite" or not args.rows
                                         or r["import"] >= TARGET_IMPORT)
        ok &= r["contended_errors"] == 0
        print(f"{name:<11}{r['api']:>8.0f}{r['ledger']:>10.0f}{ratio:>8.2f}{r['import']:>15.0f}")
    print(f"targets: ratio >= {TARGET_RATIO}; import >= {TARGET_IMPORT} rows/s on SQLite; "
          f"every contended purchase answered 201")
    return 0 if ok else 1


async def _on_postgres(args, programme, folder) -> dict[str, float]:
    async with pg_database(args.pg_url, pool_size=CLIENTS, max_overflow=10) as db:
        return await run_backend("postgresql", db, args, programme, folder)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=1_000, help="operations per timed round")
    p.add_argument("--repeats", type=int, default=3, help="timed rounds of each kind")
    p.add_argument("--rows", type=int, default=100_000, help="CSV rows to import (0: skip)")
    p.add_argument("--contended", type=int, default=800,
                   help=f"purchases from {TILLS} tills for two members (0: skip)")
    p.add_argument("--backends", type=lambda s: s.split(","), default=["sqlite", "postgresql"])
    p.add_argument("--pg-url", default=os.environ.get("MEMBERBOT_TEST_DATABASE_URL")
                   or DEFAULT_PG_URL)
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
