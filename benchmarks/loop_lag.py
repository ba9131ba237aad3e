"""Does the bot keep answering while a big job runs?

    python -m benchmarks.loop_lag [--backend sqlite|postgres|both] [--members N]
                                  [--selection-members N] [--jobs a,b] [--pg-url URL]

For each job and backend (SQLite in a fresh temporary file; PostgreSQL in a fresh
schema, when reachable) it generates the members (benchmarks.campaigns.generate) and
makes every one of them due for the job: points expiring (expiry) or about to
(reminders), a tier period that ended (tier_review), a birthday yesterday (birthdays),
a lapse (winback), a campaign to all of them (campaign_start; campaign_reads then
has an operator open its card and results, through the engine), a CSV of one purchase
each (import, with the code behind `memberbot import`), and N members for an operator
who builds a campaign for everyone through the engine: the segment's count, then its
count per language (selection, default 1,000,000), and a seat for each in a chat
gated at the top tier, which the hourly sweep lapses (community), and a purchase a day
ago for each, which the survey triggers answer with the satisfaction survey and the
periodic NPS, an invitation each (surveys). The job runs once
alone (T0) and once, on a second identical seed, while a simulated member sends
"/points" through the real handlers engine every 50 ms and a ticker sleeping 5 ms
records how late it wakes.
One line per job:

    <job> <backend>: max loop lag N ms, member reply p99 M ms, job T s (alone T0 s)

The targets (issue 13): loop lag at most 50 ms, member reply p99 at most 250 ms.
Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal, select, text, update

from benchmarks import campaigns as seeding
from benchmarks.common import DEFAULT_PG_URL, load_average, pg_database, pg_reachable
from benchmarks.community import seats_in_gate
from benchmarks.stretches import Stretches
from bot import importing
from bot import programme as programme_file
from bot.app import App
from bot.memory import freeze_start_up
from bot.settings import Settings
from domain import config
from domain.campaigns import campaigns, deliveries
from domain.campaigns.campaigns import Draft
from domain.community import seats
from domain.feedback import surveys, triggers
from domain.lifecycle import birthdays, expiry_reminders, winback
from domain.members.tables import Member
from domain.points import writeoffs
from domain.points.tables import LedgerEntry
from domain.staff import roles
from domain.storage.database import Database
from domain.storage.tables import UTCDateTime
from domain.tiers import tier_review
from handlers.engine.types import Inbound
from handlers.routers import build_engine

NOW = seeding.NOW
EVERY_S = 0.05  # the member's pace
TICK_S = 0.005
TARGET_LAG_MS = 50.0
TARGET_P99_MS = 250.0
JOBS = ("expiry", "reminders", "tier_review", "birthdays", "winback", "campaign_start",
        "campaign_reads", "import", "selection", "community", "surveys")
MEMBER = Inbound(platform="console", user_id="lag-probe", chat_id="lag-probe", text="/points")
OPERATOR = Inbound(platform="console", user_id="lag-operator", chat_id="lag-operator",
                   text="/campaign", locale="en")
# After the segment menu: everyone ("12", Next), a text, the same text in every language, no offer,
# one message, no holdout.
SELECTION_STEPS = ("12", "Spring tea is here", "1", "1", "1", "1")


@dataclass
class Figures:
    job: str
    backend: str
    lag_ms: float = 0.0
    p99_ms: float = 0.0
    job_s: float = 0.0
    alone_s: float = 0.0
    stretch: str = ""  # the loop's longest await-free stretch, and where (benchmarks.stretches)
    replies: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.lag_ms <= TARGET_LAG_MS and self.p99_ms <= TARGET_P99_MS

    def line(self) -> str:
        return (f"{self.job} {self.backend}: max loop lag {self.lag_ms:.0f} ms, member reply "
                f"p99 {self.p99_ms:.0f} ms, job {self.job_s:.2f} s (alone {self.alone_s:.2f} s)"
                + (f"; {self.stretch}" if self.stretch else ""))


# ------------------------------------------------------------------ seeds: all due

def _at(moment: Any) -> Any:
    return literal(moment, UTCDateTime())


async def _sql(db: Database, *statements: Any) -> None:
    async with db.uow() as uow:
        for statement in statements:
            await uow.session.execute(statement)
        await uow.commit()


async def _lots(db: Database, expires: Any) -> None:
    """Every member earned 100 points a month ago, expiring at `expires`."""
    m, le = Member.__table__, LedgerEntry.__table__
    await _sql(db, insert(le).from_select(
        ["member_id", "delta", "kind", "reason", "params", "source", "idempotency_key",
         "created_at", "expires_at", "qualifying", "spend"],
        select(m.c.id, literal(100), literal("earn"), literal("seed"),
               literal({}, le.c.params.type), literal("seed"),
               literal("seed:") + m.c.id.cast(le.c.idempotency_key.type),
               _at(NOW - timedelta(days=30)), _at(expires), literal(100), literal(0))
        .where(m.c.id > 1)),
        update(m).where(m.c.id > 1).values(points_balance=100, next_expiry_at=_at(expires)))


async def seed_expiry(db: Database, programme: config.Programme) -> None:
    await _lots(db, NOW - timedelta(days=1))


async def seed_reminders(db: Database, programme: config.Programme) -> None:
    await _lots(db, NOW + timedelta(days=max(programme.expiry.remind_days // 2, 1)))


async def seed_tier_review(db: Database, programme: config.Programme) -> None:
    await _sql(db, update(Member.__table__).where(Member.id > 1).values(
        tier_valid_until=_at(NOW - timedelta(hours=1))))


async def seed_birthdays(db: Database, programme: config.Programme) -> None:
    rules = programme.birthday
    day = (NOW.astimezone(programme.zone) - timedelta(days=1)).date() \
        + timedelta(days=rules.days_before)
    values: dict[str, Any] = dict(birth_month=day.month, birth_day=day.day, timezone=None)
    if rules.benefit is not None:
        values["tier"] = next(t.code for t in programme.tiers.levels
                              if rules.benefit in t.benefits)
    await _sql(db, update(Member.__table__).where(Member.id > 1).values(**values))


async def seed_winback(db: Database, programme: config.Programme) -> None:
    rules = programme.lifecycle
    idle = (rules.lapse_floor_days + rules.churn_days) // 2
    await _sql(db, update(Member.__table__).where(Member.id > 1).values(
        joined_at=_at(NOW - timedelta(days=rules.churn_days * 2)),
        last_active_at=_at(NOW - timedelta(days=idle)), purchase_count=0,
        marketing_consent=True, status="active"))


async def seed_campaign(db: Database, programme: config.Programme) -> None:
    await seeding.campaign(db, programme, "lag", Draft(
        seeding.SEGMENT, ("A: spring tea", "B: new leaves"), split=70, holdout=10))


async def seed_started(db: Database, programme: config.Programme) -> None:
    await seed_campaign(db, programme)
    assert await campaigns.start_due(db, programme, NOW) == 1
    async with db.uow() as uow:  # half of them sent
        await uow.session.execute(update(deliveries.Delivery.__table__).where(
            deliveries.Delivery.status == "pending", deliveries.Delivery.id % 2 == 0)
            .values(status="sent", sent_at=_at(NOW)))
        await uow.commit()


async def seed_surveys(db: Database, programme: config.Programme) -> None:
    """Everyone bought a day and an hour ago: the satisfaction survey (a day after a
    purchase) and the periodic NPS (to buyers) each invite every member."""
    await _sql(db, update(Member.__table__).where(Member.id > 1).values(
        last_purchase_at=_at(NOW - timedelta(hours=25)), purchase_count=1))
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, NOW)
        await uow.commit()


async def seed_community(db: Database, programme: config.Programme) -> None:
    """Every member sits in a chat gated at the top tier, and none holds it: the
    sweep lapses them all, a notice each."""
    await seats_in_gate(db, programme.tiers.levels[-1].code, NOW)


SEEDS: dict[str, Callable[[Database, config.Programme], Awaitable[None]]] = {
    "expiry": seed_expiry, "reminders": seed_reminders, "tier_review": seed_tier_review,
    "birthdays": seed_birthdays, "winback": seed_winback, "campaign_start": seed_campaign,
    "campaign_reads": seed_started, "import": seed_expiry, "selection": seed_tier_review,
    "community": seed_community, "surveys": seed_surveys,
}


def write_csv(path: Path, members: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "amount", "currency", "member"])
        for n in range(members):
            out.writerow([f"lag-{n}", 1000 + n % 5000, "CNY", 2 + n])


# ------------------------------------------------------------------ jobs

async def _operator_says(engine: Any, text: str, expect: str | None = None,
                         action: str | None = None) -> None:
    answer = await engine.handle(replace(OPERATOR, text=text, action=action), NOW)
    keys = [r.key for r in answer.replies]
    if expect is not None and expect not in keys:
        raise AssertionError(f"the operator said {text or action!r} and got {keys}")


async def run_job(job: str, db: Database, programme: config.Programme, folder: Path) -> None:
    if job == "expiry":
        await writeoffs.run(db, NOW.date(), NOW)
    elif job == "reminders":
        await expiry_reminders.run(db, programme, NOW)
    elif job == "tier_review":
        await tier_review.run(db, programme, NOW)
    elif job == "birthdays":
        await birthdays.run(db, programme, NOW)
    elif job == "winback":
        await winback.run(db, programme, NOW)
    elif job == "campaign_start":
        assert await campaigns.start_due(db, programme, NOW) == 1
    elif job == "campaign_reads":
        # An operator's /campaign card (its progress), then its results button, through
        # the real engine: each read runs before the operator's batch (Ctx.read).
        engine = build_engine(db, programme)
        async with db.uow() as uow:
            number = (await campaigns.recent(uow, 1))[0].id
        await _operator_says(engine, f"/campaign {number}", "campaign.card")
        await _operator_says(engine, "", "campaign.results", action=f"camp:results:{number}")
    elif job == "import":
        app = App(Settings(), programme, db, build_engine(db, programme))
        quiet = io.StringIO()
        await importing.run(app, folder / "purchases.csv", out=quiet, err=quiet)
    elif job == "community":
        await seats.sweep(db, programme, NOW)
    elif job == "surveys":
        sent = await triggers.run(db, programme, NOW)
        assert sent.get("satisfaction:purchase") and sent.get("nps:every"), sent
    elif job == "selection":
        # An operator builds a campaign for everyone through the real engine: the
        # segment menu's count, then the confirmation's count per language.
        engine = build_engine(db, programme)
        await _operator_says(engine, "/campaign", "campaign.segment")
        for said in SELECTION_STEPS:
            await _operator_says(engine, said)
        await _operator_says(engine, "1", "campaign.confirm")  # now: the confirmation
    else:
        raise ValueError(job)


# ------------------------------------------------------------------ measuring

async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        asked = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags.append(time.perf_counter() - asked - TICK_S)


async def _member(engine: Any, stop: asyncio.Event, replies: list[float]) -> None:
    async def one(sent: float) -> None:
        await engine.handle(MEMBER)
        replies.append(time.perf_counter() - sent)

    pending: set[asyncio.Task[None]] = set()
    due = time.perf_counter()
    while not stop.is_set():
        # Timed from when the message was due: a held loop delays the sending too.
        task = asyncio.create_task(one(due))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += EVERY_S
        await asyncio.sleep(max(due - time.perf_counter(), 0))
    if pending:
        await asyncio.wait(pending)


async def measure(job: str, backend: str, fresh: Callable[[], Any],
                  programme: config.Programme, folder: Path) -> Figures:
    figures = Figures(job, backend)
    async with fresh() as db:
        started = time.perf_counter()
        await run_job(job, db, programme, folder)
        figures.alone_s = time.perf_counter() - started
    async with fresh() as db:
        engine = build_engine(db, programme)
        await engine.handle(Inbound(platform="console", user_id="lag-probe",
                                    chat_id="lag-probe", text="/start"))
        for _ in range(5):  # the first answers compile statements and load texts
            await engine.handle(MEMBER)
        freeze_start_up()  # as `memberbot run` does once it serves
        stop, lags = asyncio.Event(), []
        ticker = asyncio.create_task(_ticker(stop, lags))
        member = asyncio.create_task(_member(engine, stop, figures.replies))
        await asyncio.sleep(0.3)  # the member is talking before the job starts
        started = time.perf_counter()
        with Stretches() as stretches:
            await run_job(job, db, programme, folder)
        figures.job_s = time.perf_counter() - started
        figures.stretch = (f"longest stretch {stretches.longest * 1000:.0f} ms CPU at "
                           f"{stretches.where or '?'}, {stretches.longest_wall * 1000:.0f} ms "
                           f"wall at {stretches.where_wall or '?'}")
        stop.set()
        await asyncio.gather(ticker, member)
    figures.lag_ms = max(lags, default=0.0) * 1000
    replies = sorted(figures.replies)
    figures.p99_ms = (statistics.quantiles(replies, n=100)[98] if len(replies) > 1
                      else replies[0] if replies else 0.0) * 1000
    return figures


def _seeder(backend: str, job: str, members: int, programme: config.Programme,
            folder: Path, pg_url: str) -> Callable[[], Any]:
    """A context manager factory: each call gives a fresh database seeded for `job`.
    On SQLite the seeded file is made once and copied."""
    template = folder / f"{job}.seed.db"

    async def seed(db: Database) -> None:
        await seeding.fresh(db)
        await seeding.generate(db, members)
        await SEEDS[job](db, programme)
        async with db.uow() as uow:  # the operator of the selection and the reads
            await roles.set_owner(uow, programme, f"console:{OPERATOR.user_id}", NOW)
            await uow.commit()
        if db.dialect == "postgresql":
            async with db.engine.connect() as conn:
                await conn.execute(text("ANALYZE"))
                await conn.commit()

    @asynccontextmanager
    async def fresh() -> AsyncIterator[Database]:
        if backend == "sqlite":
            if not template.exists():
                made = Database.from_url(f"sqlite+aiosqlite:///{template}")
                await seed(made)
                await made.dispose()  # the last connection to close checkpoints the WAL
            copy = folder / f"{job}.{time.monotonic_ns()}.db"
            shutil.copyfile(template, copy)
            db = Database.from_url(f"sqlite+aiosqlite:///{copy}")
            try:
                yield db
            finally:
                await db.dispose()
        else:
            async with pg_database(pg_url, pool_size=20) as db:
                await seed(db)
                yield db

    return fresh


async def run(backends: list[str], jobs: list[str], members: int, selection_members: int,
              pg_url: str) -> list[Figures]:
    programme = programme_file.load()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in backends:
            if backend == "postgresql":
                problem = await pg_reachable(pg_url)
                if problem:
                    print(f"postgresql skipped: {problem}", flush=True)
                    continue
            for job in jobs:
                size = selection_members if job == "selection" else members
                if job == "import":
                    write_csv(folder / "purchases.csv", size)
                fresh = _seeder(backend, job, size, programme, folder, pg_url)
                figures = await measure(job, backend, fresh, programme, folder)
                print(figures.line(), flush=True)
                out.append(figures)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--selection-members", type=int, default=1_000_000)
    p.add_argument("--jobs", default=",".join(JOBS), help="comma-separated, of: "
                   + ", ".join(JOBS))
    p.add_argument("--pg-url", default=None,
                   help="PostgreSQL URL (default $MEMBERBOT_TEST_DATABASE_URL, else "
                   f"{DEFAULT_PG_URL})")
    args = p.parse_args(argv)
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(jobs) - set(JOBS)
    if unknown:
        p.error(f"unknown job(s): {', '.join(sorted(unknown))}")
    backends = {"sqlite": ["sqlite"], "postgres": ["postgresql"],
                "both": ["sqlite", "postgresql"]}[args.backend]
    pg_url = args.pg_url or os.environ.get("MEMBERBOT_TEST_DATABASE_URL", DEFAULT_PG_URL)
    print(f"load average {load_average()}; {args.members:,} members, "
          f"{args.selection_members:,} for the selection", flush=True)
    figures = asyncio.run(run(backends, jobs, args.members, args.selection_members, pg_url))
    print(f"load average {load_average()}", flush=True)
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
