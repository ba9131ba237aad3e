"""Purchases per second through the API with one `memberbot run` worker, then two, on one
PostgreSQL, and where the time goes.

    python -m benchmarks.scale [--quick] [--members N] [--ops N] [--repeats R]
                               [--concurrency C] [--pg-url URL]

It creates a database of its own on the server (dropped at the end), starts a real
`memberbot run` worker (`python -m bot.cli run`, purchases API on, nothing else) that
migrates it, and seeds `--members` members in bulk inserts, each with an earlier purchase
imported by `memberbot import`'s code. A load generator in a separate
process (aiohttp, keep-alive, `--concurrency` requests in flight, each HMAC-signed as a
till signs it) then posts `--ops` purchases per timed round: distinct order ids, members
drawn with a skew (a few regulars buy often, most seldom), a third of the orders with
items. Rounds with one worker and with two (a second `memberbot run` started beside the
first, requests spread round robin) take turns, `--repeats` of each; the ratio is the
median of the two-worker rounds over the median of the one-worker rounds.

For each round it prints purchases/s, wall time, latency p50/p99, errors (anything but
201), and the CPU seconds spent while it ran: by each worker, by PostgreSQL (the backends
of this database, and the server's background processes such as the WAL writer), by the
load generator, and by everything else on the machine, read from /proc; and the
transactions PostgreSQL counted. Per purchase, the same figures give the rate they allow
on an otherwise idle machine (the "ceiling"), steadier than the rates on a busy one.

At the end every purchase answered 201 must be recorded exactly once, none that was not
answered 201 may be recorded, each member's balance must equal the sum of its ledger
entries, the purchases' points the sum of their ledger earns, and each member's purchase
count their purchases. The exit status is 1
when a check fails or the ratio is under the target (1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import multiprocessing
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from benchmarks.common import DEFAULT_PG_URL, format_table, load_average, pg_reachable
from bot import importing
from bot.api import signing
from bot.app import App
from bot.settings import Settings
from domain import config
from domain.members.tables import Member
from domain.points.tables import LedgerEntry, Purchase
from domain.storage.database import Database, create_engine
from handlers.routers import build_engine

ROOT = Path(__file__).resolve().parents[1]
KEY = "scale-bench-key"
HISTORY = "HIST"  # the order ids of the members' earlier purchases, imported
TARGET_RATIO = 1.3
TICK = os.sysconf("SC_CLK_TCK")
START_S = 90.0  # a worker's start: imports, migrations on the first
STATS_S = 1.2  # backends report their transaction counts at most once a second
CATALOGUE = [("LONGJING-250G", "tea"), ("PUERH-CAKE", "tea"), ("OOLONG-100G", "tea"),
             ("GAIWAN-WHITE", "teaware"), ("MOONCAKE-BOX", "snacks")]


# ---- CPU accounting from /proc ------------------------------------------------------


def cpu_of(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a live process has used; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def machine_busy() -> float:
    """CPU seconds every core of the machine has been busy since boot (niced work too)."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


class Postgres:
    """The server's processes as pg_stat_activity lists them: this database's backends,
    and the background processes (WAL writer, checkpointer, ...) every database shares."""

    def __init__(self, admin_url: str, database: str) -> None:
        self.engine = create_engine(admin_url)
        self.database = database

    async def processes(self) -> dict[str, list[int]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT pid, datname, backend_type FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid()"))).all()
        found: dict[str, list[int]] = {"backends": [], "background": []}
        for pid, datname, kind in rows:
            if kind == "client backend":
                if datname == self.database:
                    found["backends"].append(pid)
            elif kind != "autovacuum worker" or datname == self.database:
                found["background"].append(pid)
        return found

    async def sample(self) -> dict[str, dict[int, float]]:
        """CPU seconds per process; empty when the server runs on another machine."""
        out: dict[str, dict[int, float]] = {}
        for group, pids in (await self.processes()).items():
            out[group] = {}
            for pid in pids:
                if _is_postgres(pid) and (cpu := cpu_of(pid)) is not None:
                    out[group][pid] = cpu
        return out

    async def counters(self) -> dict[str, int]:
        """This database's transactions as the server counts them (pg_stat_database,
        which backends report at most once a second: read it a second after a round)."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = (await conn.execute(text(
                "SELECT xact_commit, xact_rollback, deadlocks FROM pg_stat_database "
                "WHERE datname = :name"), {"name": self.database})).one()
        return {"commits": row[0], "rollbacks": row[1], "deadlocks": row[2]}

    async def close(self) -> None:
        await self.engine.dispose()


def _is_postgres(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm", encoding="ascii") as f:
            return f.read().startswith("postgres")
    except OSError:
        return False


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two samples; a process started in between counts from zero."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# ---- the workers ---------------------------------------------------------------------


class Worker:
    """One `memberbot run` process serving the purchases API on a port it picks."""

    def __init__(self, url: str, name: str, folder: Path) -> None:
        self.name, self.url = name, url
        self.log = folder / f"{name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.base = ""

    async def start(self) -> None:
        # The API alone (no chat platform), on the programme this script reads.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERBOT_")}
        env.update({"MEMBERBOT_DATABASE_URL": self.url, "MEMBERBOT_API_KEY": KEY,
                    "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": "0",
                    "PYTHONPATH": str(ROOT)})
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.log.parent, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
        async with asyncio.timeout(START_S):
            while not (port := re.search(r"web app:\s+127\.0\.0\.1:(\d+)", self._said())):
                await self._alive()
                await asyncio.sleep(0.1)
            self.base = f"http://127.0.0.1:{port.group(1)}"
            async with aiohttp.ClientSession() as session:
                while True:
                    await self._alive()
                    try:
                        async with session.get(self.base + "/healthz") as resp:
                            if resp.status == 200:
                                return
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)

    async def settle(self, within: float = 60.0) -> float:
        """Wait until the start's own work (the first recommendations model, the
        scheduler's first jobs) is done, so that it is not counted in a round: until
        the process uses under a tenth of a core. Returns its idle use in cores."""
        deadline = time.monotonic() + within
        while True:
            before = self.cpu()
            await asyncio.sleep(1.0)
            used = self.cpu() - before
            if used < 0.1 or time.monotonic() > deadline:
                return used

    def _said(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def _alive(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is not None:
            raise RuntimeError(f"{self.name} stopped ({self.proc.returncode}):\n{self._said()}")

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_of(self.proc.pid) or 0.0

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# ---- the load generator (its own process) --------------------------------------------


@dataclass
class Load:
    """What one round sends: `orders` are (order id, member id, amount, items)."""
    bases: list[str]
    orders: list[tuple[str, int, int, list[dict[str, Any]]]]
    concurrency: int
    currency: str


@dataclass
class Outcome:
    rate: float
    wall_s: float
    cpu_s: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    failures: int  # no HTTP answer at all
    acknowledged: list[str] = field(default_factory=list)
    served: list[int] = field(default_factory=list)  # answered 201 by each worker
    sample: str = ""  # one refusal's body, to say what went wrong

    @property
    def errors(self) -> int:
        return self.failures + sum(n for s, n in self.statuses.items() if s != 201)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def generate(load: Load) -> Outcome:
    return asyncio.run(_generate(load))


async def _generate(load: Load) -> Outcome:
    bodies = [json.dumps({"order_id": order_id, "member": {"number": str(member)},
                          "amount": amount, "currency": load.currency,
                          **({"items": items} if items else {})}).encode()
              for order_id, member, amount, items in load.orders]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acknowledged: list[str] = []
    failures = 0
    sample = ""
    served = [0] * len(load.bases)
    following = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=load.concurrency, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def till() -> None:
            nonlocal failures, sample
            for seq in following:  # round robin over the workers
                url = load.bases[seq % len(load.bases)] + "/api/v1/purchases"
                body = bodies[seq]
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=signing.headers(
                            KEY, int(time.time()), body)) as resp:
                        answer = await resp.read()
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    failures += 1
                    continue
                latencies.append(1000 * (time.perf_counter() - start))
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    acknowledged.append(load.orders[seq][0])
                    served[seq % len(load.bases)] += 1
                elif not sample:
                    sample = f"{status}: {answer[:200].decode(errors='replace')}"

        cpu, start = time.process_time(), time.perf_counter()
        await asyncio.gather(*(till() for _ in range(load.concurrency)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Outcome(len(bodies) / wall, wall, cpu, latencies, statuses, failures,
                   acknowledged, served, sample)


# ---- the run ---------------------------------------------------------------------------


@dataclass
class Round:
    workers: int
    outcome: Outcome
    worker_cpu: list[float]
    pg_backends: float | None
    pg_background: float | None
    machine: float
    transactions: dict[str, int]

    @property
    def pg(self) -> float:
        return (self.pg_backends or 0.0) + (self.pg_background or 0.0)

    def row(self) -> list[str]:
        o = self.outcome
        cores = os.cpu_count() or 1
        others = self.machine - sum(self.worker_cpu) - o.cpu_s - self.pg
        t = self.transactions
        return [str(self.workers), f"{o.rate:.0f}", f"{o.wall_s:.1f}",
                f"{o.percentile(0.5):.0f}", f"{o.percentile(0.99):.0f}", str(o.errors),
                "+".join(f"{c:.1f}" for c in self.worker_cpu),
                "n/a" if self.pg_backends is None else f"{self.pg_backends:.1f}",
                "n/a" if self.pg_background is None else f"{self.pg_background:.1f}",
                f"{o.cpu_s:.1f}", f"{max(others, 0.0):.1f}",
                f"{max(cores * o.wall_s - self.machine, 0.0):.1f}",
                f"{t['commits'] / max(len(o.latencies_ms), 1):.2f}",
                f"{t['rollbacks']}/{t['deadlocks']}"]

    def per_purchase(self) -> list[float]:
        """CPU ms per purchase: workers, PostgreSQL, load generator."""
        n = max(len(self.outcome.latencies_ms), 1)
        return [1000 * sum(self.worker_cpu) / n, 1000 * self.pg / n,
                1000 * self.outcome.cpu_s / n]

    def ceiling(self) -> float:
        """Purchases/s these CPU costs allow when nothing else runs on the machine: a
        worker is one thread (one core at most), and all share the cores."""
        workers, pg, generator = self.per_purchase()
        cores = os.cpu_count() or 1
        return min(1000 * self.workers / workers, 1000 * cores / (workers + pg + generator))


class Bench:
    def __init__(self, url: str, admin_url: str, database: str, folder: Path,
                 args: argparse.Namespace, currency: str) -> None:
        self.url, self.args, self.currency = url, args, currency
        self.folder = folder
        self.postgres = Postgres(admin_url, database)
        self.first = Worker(url, "worker-1", folder)
        self.second = Worker(url, "worker-2", folder)
        self.members: list[int] = []
        self.weights: list[float] = []
        self.random = random.Random(19)
        self.sent = 0
        self.acknowledged: list[str] = []
        self.tag = uuid.uuid4().hex[:6]

    async def seed(self, programme: config.Programme) -> None:
        """Members in bulk inserts, then each one's earlier purchase through `memberbot
        import`'s code (ledger entries, counts, tiers), as a programme that has run a
        while holds them: the timed purchases are mostly a returning member's."""
        db = Database.from_url(self.url)
        now = datetime.now(UTC)
        try:
            batch = 5_000
            for first in range(0, self.args.members, batch):
                rows = [{"joined_at": now, "last_active_at": now,
                         "referral_code": f"SC{self.tag}{i:08d}", "tier": "member",
                         "points_balance": 0, "phone_verified": False,
                         "marketing_consent": i % 3 == 0, "status": "active",
                         "locale": "zh_Hans" if i % 4 else "en"}
                        for i in range(first, min(first + batch, self.args.members))]
                async with db.engine.begin() as conn:
                    await conn.execute(insert(Member), rows)
            async with db.engine.connect() as conn:
                self.members = list((await conn.execute(
                    select(Member.id).order_by(Member.id))).scalars())
            history = self.folder / "history.csv"
            with history.open("w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(["order_id", "member", "amount", "currency"])
                for member in self.members:
                    out.writerow([f"{HISTORY}-{member}", member,
                                  self.random.randrange(1_500, 60_000), self.currency])
            app = App(Settings(), programme, db, build_engine(db, programme))
            sink = io.StringIO()
            tally = await importing.run(app, history, out=sink, err=sink)
            if tally.imported != len(self.members):
                raise RuntimeError(f"the history import failed:\n{sink.getvalue()}")
        finally:
            await db.dispose()
        # A few regulars buy often, most members seldom: a Pareto skew, capped so that
        # the most faithful buys about 30 times as often as the least.
        self.weights = [min(self.random.paretovariate(1.5), 30.0) for _ in self.members]

    def orders(self, count: int) -> list[tuple[str, int, int, list[dict[str, Any]]]]:
        chosen = self.random.choices(self.members, self.weights, k=count)
        made = []
        for member in chosen:
            self.sent += 1
            amount = self.random.randrange(1_500, 60_000)
            items: list[dict[str, Any]] = []
            if self.random.random() < 1 / 3:
                sku, category = self.random.choice(CATALOGUE)
                items = [{"sku": sku, "category": category, "quantity": 1, "amount": amount}]
            made.append((f"SC-{self.tag}-{self.sent:07d}", member, amount, items))
        return made

    async def send(self, pool: ProcessPoolExecutor, workers: Sequence[Worker],
                   count: int) -> Outcome:
        load = Load([w.base for w in workers], self.orders(count), self.args.concurrency,
                    self.currency)
        outcome = await asyncio.get_running_loop().run_in_executor(pool, generate, load)
        self.acknowledged.extend(outcome.acknowledged)
        return outcome

    async def round(self, pool: ProcessPoolExecutor, workers: Sequence[Worker]) -> Round:
        warm_up = min(max(self.args.concurrency * 4, 200), self.args.ops)
        await self.send(pool, workers, warm_up)  # connections, pools, caches
        await asyncio.sleep(STATS_S)
        counted = await self.postgres.counters()
        pg_before = await self.postgres.sample()
        cpu_before = [w.cpu() for w in workers]
        machine_before = machine_busy()
        outcome = await self.send(pool, workers, self.args.ops)
        machine = machine_busy() - machine_before
        cpu = [w.cpu() - c for w, c in zip(workers, cpu_before, strict=True)]
        pg_after = await self.postgres.sample()
        await asyncio.sleep(STATS_S)
        transactions = {k: v - counted[k] for k, v in (await self.postgres.counters()).items()}
        local = bool(pg_after.get("background"))
        done = Round(len(workers), outcome, cpu,
                     spent(pg_before["backends"], pg_after["backends"]) if local else None,
                     spent(pg_before["background"], pg_after["background"]) if local else None,
                     machine, transactions)
        print(f"  {len(workers)} worker{'s' if len(workers) > 1 else ' '}: "
              f"{outcome.rate:6.0f} purchases/s, p50 {outcome.percentile(0.5):.0f} ms, "
              f"p99 {outcome.percentile(0.99):.0f} ms, {outcome.errors} errors "
              f"(load average {load_average()})"
              + (f"\n    e.g. {outcome.sample}" if outcome.sample else ""), flush=True)
        return done

    async def run(self) -> list[Round]:
        rounds: list[Round] = []
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            for r in range(self.args.repeats):
                for two in ((False, True) if r % 2 == 0 else (True, False)):
                    if two:
                        await self.second.start()
                        await self.second.settle()
                        try:
                            rounds.append(await self.round(pool, [self.first, self.second]))
                        finally:
                            await self.second.stop()
                    else:
                        rounds.append(await self.round(pool, [self.first]))
        return rounds

    async def check(self) -> list[str]:
        """What is wrong with the books after the run; empty when nothing is."""
        db = Database.from_url(self.url)
        problems = []
        try:
            async with db.engine.connect() as conn:
                recorded = list((await conn.execute(select(Purchase.order_id).where(
                    Purchase.order_id.not_like(f"{HISTORY}-%")))).scalars())
                off = (await conn.execute(text(
                    "SELECT count(*) FROM members m WHERE m.points_balance <> "
                    "(SELECT coalesce(sum(l.delta), 0) FROM ledger_entries l "
                    " WHERE l.member_id = m.id)"))).scalar()
                points = (await conn.execute(select(func.coalesce(func.sum(Purchase.points),
                                                                  0)))).scalar()
                earned = (await conn.execute(
                    select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                    .where(LedgerEntry.idempotency_key.like("purchase:%")))).scalar()
                counts = (await conn.execute(text(
                    "SELECT count(*) FROM members m WHERE m.purchase_count <> "
                    "(SELECT count(*) FROM purchases p WHERE p.member_id = m.id)"))).scalar()
        finally:
            await db.dispose()
        acked = set(self.acknowledged)
        if len(acked) != len(self.acknowledged):
            problems.append("an order was answered 201 twice")
        if len(recorded) != len(set(recorded)):
            problems.append(f"{len(recorded) - len(set(recorded))} orders recorded twice")
        if missing := acked - set(recorded):
            problems.append(f"{len(missing)} purchases answered 201 are not recorded")
        if unanswered := set(recorded) - acked:
            problems.append(f"{len(unanswered)} purchases recorded without a 201")
        if off:
            problems.append(f"{off} members' balances differ from their ledger sums")
        if points != earned:
            problems.append(f"purchases' points {points} != their ledger earns {earned}")
        if counts:
            problems.append(f"{counts} members' purchase counts differ from their purchases")
        print(f"checked: {len(recorded)} purchases recorded, {len(acked)} answered 201, "
              f"{points} points earned; " + ("; ".join(problems) or "all consistent"))
        return problems


@asynccontextmanager
async def own_database(admin_url: str) -> AsyncIterator[tuple[str, str]]:
    """A database created for this run on the server, dropped after it: the workers see
    only the URL, as a deployment's workers do."""
    name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(False), name
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


HEAD = ["workers", "purchases/s", "wall s", "p50 ms", "p99 ms", "errors",
        "CPU s: workers", "PG backends", "PG background", "load gen", "others", "idle",
        "commits/purchase", "rollbacks/deadlocks"]


async def measure(args: argparse.Namespace) -> tuple[list[Round], list[str]]:
    """The rounds, and what the check at the end found wrong."""
    programme = config.load()
    with tempfile.TemporaryDirectory(prefix="memberbot-scale-") as tmp:
        async with own_database(args.pg_url) as (url, name):
            bench = Bench(url, args.pg_url, name, Path(tmp), args, programme.currency)
            try:
                await bench.first.start()  # migrates the new database
                await bench.seed(programme)
                idle = await bench.first.settle()
                print(f"a worker at rest uses {idle:.2f} of a core", flush=True)
                rounds = await bench.run()
            finally:
                await bench.second.stop()
                await bench.first.stop()
                await bench.postgres.close()
            return rounds, await bench.check()


async def main(args: argparse.Namespace) -> int:
    problem = await pg_reachable(args.pg_url)
    if problem:
        print(f"PostgreSQL skipped: {problem}")
        return 0
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores; "
          f"{args.members} members, {args.ops} purchases a round, "
          f"{args.concurrency} in flight", flush=True)
    rounds, problems = await measure(args)
    print(f"load average at end: {load_average()}\n")
    print(format_table(HEAD, [r.row() for r in rounds], left=set()))
    print("\nCPU ms per purchase, and the purchases/s they allow on an otherwise idle machine")
    print(format_table(
        ["workers", "workers", "PostgreSQL", "load gen", "total", "ceiling/s"],
        [[str(r.workers), *(f"{v:.2f}" for v in r.per_purchase()),
          f"{sum(r.per_purchase()):.2f}", f"{r.ceiling():.0f}"] for r in rounds],
        left=set()))
    ratio, errors = report(rounds)
    return 0 if ratio >= TARGET_RATIO and not problems and not errors else 1


def report(rounds: list[Round]) -> tuple[float, int]:
    def median(workers: int, figure) -> float:
        return statistics.median(figure(r) for r in rounds if r.workers == workers)

    one, two = (median(n, lambda r: r.outcome.rate) for n in (1, 2))
    ceiling = median(2, Round.ceiling) / median(1, Round.ceiling)
    errors = sum(r.outcome.errors for r in rounds)
    print(f"\none worker {one:.0f} purchases/s, two {two:.0f}: ratio {two / one:.2f} "
          f"(target >= {TARGET_RATIO}); {errors} errors. On an otherwise idle machine "
          f"these CPU costs would allow a ratio of {ceiling:.2f}.")
    return two / one, errors


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a small run: 2,000 members, "
                   "600 purchases a round, one round of each (unless given)")
    p.add_argument("--members", type=int, help="members seeded (default 20,000)")
    p.add_argument("--ops", type=int, help="purchases per timed round (default 5,000)")
    p.add_argument("--repeats", type=int, help="rounds of each kind (default 2)")
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    p.add_argument("--pg-url", default=os.environ.get("MEMBERBOT_TEST_DATABASE_URL")
                   or DEFAULT_PG_URL, help="a database on the server to create ours from")
    args = p.parse_args(argv)
    defaults = (2_000, 600, 1) if args.quick else (20_000, 5_000, 2)
    for name, default in zip(("members", "ops", "repeats"), defaults, strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
