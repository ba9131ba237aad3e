"""Campaigns: writing the deliveries of a 100,000-member campaign, and sending one
through the Telegram Sender at a Bot API server's flood limit.

    python -m benchmarks.campaigns [--members N] [--messages M] [--limit L]
                                   [--backends sqlite,postgresql] [--pg-url URL]
                                   [--no-lifecycle]

Start (for each backend: SQLite in a fresh temporary file; PostgreSQL in a fresh schema,
when reachable). N members (default 100,000) are generated in one INSERT .. SELECT, each
with a Telegram account: three tiers, two languages, 90% with marketing consent, activity
and purchase histories spread over the lifecycle stages. Then it times:

* start: `domain.campaigns.campaigns.start_due` for an A/B campaign (70/30, 10% holdout) whose
  segment reads identities (platform Telegram), the lifecycle stage clause (new, active,
  lapsing) and the points balance; it writes one delivery per member in the segment, in
  batches of member ids (INSERT .. SELECT, one transaction each), and counts them;
* baseline: one bare `INSERT INTO campaign_deliveries .. SELECT .. FROM members` of every
  member, no segment, no assignment, one statement;
* peak memory of the start: Python's own allocations (tracemalloc, a second campaign so
  tracing does not slow the timed one) and the process's peak RSS (ru_maxrss).

Targets: the start under 10 s, peak memory under 200 MB. The ratio start / baseline
shows what the segment, the assignment and the batching cost over the bare write.

Delivery (SQLite). M members (default 6,000) each in their own private chat, a campaign
to all of them, and the real dispatcher (bot/campaign_dispatch.py): claims, rendering, the
Telegram pusher through a Sender paced at L msg/s (default 300) on a real aiogram Bot,
outcomes recorded as they come, the operator's progress message edited every 3 s; the
local Bot API server (tests/support/fake_telegram.py) answers 429 above L msg/s. The baseline is
`benchmarks.telegram_outbound.measure`: the bare Sender sending M messages at the same
limit in the same run. Targets: achieved rate >= 95% of L; nobody lost or duplicated.

At the end it runs `benchmarks.lifecycle` (birthday and win-back selection over
1,000,000 members) so one command prints every figure of the scheduler and campaigns
work; `--no-lifecycle` leaves it out. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, case, cast, func, insert, literal, select, text

from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    pg_database,
    pg_reachable,
)
from domain import config
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.members.tables import Identity, Member
from domain.storage.database import Database
from domain.storage.tables import Base, UTCDateTime

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
TARGET_START_S = 10.0
TARGET_MEMORY_MB = 200.0
TARGET_RATIO = 0.95
OPERATOR_CHAT = 9_000
FIRST_CHAT = 100_000
TEXT = "Spring tea has arrived: come and taste it this week."
SEGMENT = Segment(platforms=("telegram",), stages=("new", "active", "lapsing"), points_min=0)


@dataclass(frozen=True)
class Start:
    backend: str
    members: int
    written: int
    start_s: float
    bare_s: float
    traced_mb: float
    rss_mb: float

    @property
    def passed(self) -> bool:
        return (self.start_s < TARGET_START_S and self.traced_mb < TARGET_MEMORY_MB
                and self.rss_mb < TARGET_MEMORY_MB)


@dataclass(frozen=True)
class Delivery_:
    messages: int
    limit: int
    elapsed_s: float
    rate: float
    bare_rate: float
    lost: int
    duplicated: int
    too_many_requests: int
    progress_edits: int

    @property
    def ratio(self) -> float:
        return self.rate / self.limit

    @property
    def passed(self) -> bool:
        return self.ratio >= TARGET_RATIO and not self.lost and not self.duplicated


# --------------------------------------------------------------------------- members

def _series(dialect: str, count: int) -> Any:
    """A one-column selectable `n` of 1..count, made by the database."""
    if dialect == "postgresql":
        return func.generate_series(1, count).table_valued("n").render_derived(name="seq")
    seq = select(literal(1, Integer()).label("n")).cte("seq", recursive=True)
    return seq.union_all(select(seq.c.n + 1).where(seq.c.n < count))


async def generate(db: Database, count: int, first_chat: int = FIRST_CHAT) -> None:
    """`count` members numbered 2.. (member 1 is the operator), each on Telegram."""
    seq = _series(db.dialect, count)
    n = seq.c.n

    def at(days: int) -> Any:
        return literal(NOW - timedelta(days=days), UTCDateTime())

    def spread(*days: int) -> Any:
        return case(*((n % len(days) == i, at(d)) for i, d in enumerate(days[:-1])),
                    else_=at(days[-1]))

    member_id = n + 1
    members = select(
        member_id, literal("B") + cast(member_id, String()),
        spread(10, 200, 400, 700), spread(0, 3, 40, 100, 250),
        case((n % 3 == 0, "member"), (n % 3 == 1, "silver"), else_="gold"),
        case((n % 2 == 0, "en"), else_=None), n % 10 != 0, literal("active"),
        n % 2000, literal(False), n % 5, spread(300, 500, 800), spread(5, 40, 90, 200))
    columns = ["id", "referral_code", "joined_at", "last_active_at", "tier", "locale",
               "marketing_consent", "status", "points_balance", "phone_verified",
               "purchase_count", "first_purchase_at", "last_purchase_at"]
    accounts = select(Member.id, literal("telegram"),
                      cast(Member.id + first_chat, String()), at(0)).where(Member.id > 1)
    async with db.uow() as uow:
        await uow.session.execute(insert(Member.__table__).from_select(columns, members))
        await uow.session.execute(insert(Identity.__table__).from_select(
            ["member_id", "platform", "external_id", "linked_at"], accounts))
        if db.dialect == "postgresql":
            await uow.session.execute(text(
                "SELECT setval(pg_get_serial_sequence('members', 'id'), "
                "(SELECT max(id) FROM members))"))
        await uow.commit()


async def operator(db: Database) -> None:
    async with db.uow() as uow:
        await uow.session.execute(insert(Member.__table__).values(
            id=1, referral_code="OPERATOR", joined_at=NOW, last_active_at=NOW,
            marketing_consent=False, status="active", points_balance=0, phone_verified=False,
            purchase_count=0))
        await uow.session.execute(insert(Identity.__table__).values(
            member_id=1, platform="telegram", external_id=str(OPERATOR_CHAT), linked_at=NOW))
        await uow.commit()


async def fresh(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await operator(db)


async def campaign(db: Database, programme: config.Programme, key: str, draft: Draft,
                   platform: str = "console") -> int:
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(1, platform, str(OPERATOR_CHAT),
                                                               "en"), draft, key, NOW)
        await uow.commit()
    return made.campaign.id


async def written(db: Database, campaign_id: int) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Delivery)
                                        .where(Delivery.campaign_id == campaign_id)) or 0


# --------------------------------------------------------------------------- start

async def measure_start(name: str, db: Database, programme: config.Programme,
                        members: int) -> Start:
    await fresh(db)
    await generate(db, members)
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:  # a running database has its statistics
            await conn.execute(text("ANALYZE"))
    draft = Draft(SEGMENT, ("A: spring tea", "B: new leaves"), split=70, holdout=10)
    timed = await campaign(db, programme, "timed", draft)
    started = time.perf_counter()
    assert await campaigns.start_due(db, programme, NOW) == 1
    start_s = time.perf_counter() - started
    count = await written(db, timed)
    # Memory: the same start again, traced (tracing slows Python, so it is not timed).
    traced = await campaign(db, programme, "traced", draft)
    tracemalloc.start()
    try:
        assert await campaigns.start_due(db, programme, NOW) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert await written(db, traced) == count
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    bare_s = await bare_start(db, programme)
    result = Start(name, members, count, start_s, bare_s, peak / 2**20, rss_mb)
    print(f"  {name:<10} start {start_s:6.2f} s for {count:,} deliveries of {members:,} "
          f"members; bare INSERT .. SELECT of all {bare_s:5.2f} s; traced peak "
          f"{result.traced_mb:.1f} MB, process peak RSS {rss_mb:.0f} MB", flush=True)
    return result


async def bare_start(db: Database, programme: config.Programme) -> float:
    """The baseline of a start: every member, one bare statement, into a campaign of
    its own; seconds."""
    bare = await campaign(db, programme, "bare", Draft(Segment(), ("bare",)))
    stmt = insert(Delivery.__table__).from_select(
        ["campaign_id", "member_id", "variant", "status", "attempts"],
        select(literal(bare), Member.id, literal("A"), literal("pending"), literal(0)))
    started = time.perf_counter()
    async with db.uow() as uow:
        await uow.session.execute(stmt)
        await uow.commit()
    return time.perf_counter() - started


async def start_sqlite(args: argparse.Namespace, programme: config.Programme) -> Start:
    with tempfile.TemporaryDirectory(prefix="memberbot-bench-") as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            return await measure_start("sqlite", db, programme, args.members)
        finally:
            await db.dispose()


async def start_postgresql(args: argparse.Namespace, programme: config.Programme) -> Start:
    async with pg_database(args.pg_url) as db:
        return await measure_start("postgresql", db, programme, args.members)


# --------------------------------------------------------------------------- delivery

async def measure_delivery(args: argparse.Namespace, programme: config.Programme) -> Delivery_:
    # Imported here: aiogram alone takes some 130 MB, which the start's figures leave out
    # (the start runs where the scheduler runs, which needs no chat SDK).
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from benchmarks import telegram_outbound
    from bot.campaign_dispatch import Dispatcher
    from bot.telegram import wiring
    from bot.telegram.sender import Sender
    from bot.telegram.transport import AiogramTransport
    from tests.support.fake_telegram import FakeBotAPI

    bare = await telegram_outbound.measure(args.messages, args.limit, args.messages)
    print(f"  bare Sender: {bare['rate']:.1f} msg/s ({bare['ratio']:.3f} of the limit)",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="memberbot-bench-") as tmp:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            await fresh(db)
            await generate(db, args.messages)
            async with db.uow() as uow:  # every one of them may be messaged
                await uow.session.execute(Member.__table__.update().where(Member.id > 1)
                                          .values(marketing_consent=True))
                await uow.commit()
            campaign_id = await campaign(db, programme, "send", Draft(Segment(), (TEXT,)),
                                         platform="telegram")
            assert await campaigns.start_due(db, programme, datetime.now(UTC)) == 1
            async with FakeBotAPI() as api:
                api.rate_limit = args.limit
                session = AiohttpSession(api=TelegramAPIServer.from_base(api.root), limit=200)
                bot = Bot(api.token, session=session)
                try:
                    sender = Sender(AiogramTransport(bot), rate=args.limit)
                    dispatcher = Dispatcher(db, programme, {"telegram": wiring.pusher(sender)},
                                            {"telegram": wiring.editor(sender)}, every=0.2)
                    started = api.clock()
                    await dispatcher.run_until_idle()
                finally:
                    await bot.session.close()
                mine = [c for c in api.sent("sendMessage") if c.text == TEXT]
                got = Counter(str(c.chat_id) for c in mine)
                # Until the last message was performed; the bookkeeping after it is not
                # sending (the bare Sender's figure ends at its last answer, too).
                elapsed = max(c.at for c in mine) - started
                edits = len(api.sent("editMessageText", chat_id=OPERATOR_CHAT))
                too_many = api.too_many_requests
            async with db.uow() as uow:
                status = await uow.session.scalar(select(Campaign.status)
                                                  .where(Campaign.id == campaign_id))
            assert status == "done", status
        finally:
            await db.dispose()
    wanted = {str(FIRST_CHAT + i) for i in range(2, args.messages + 2)}
    result = Delivery_(args.messages, args.limit, elapsed, sum(got.values()) / elapsed,
                       bare["rate"], len(wanted - got.keys()),
                       sum(n - 1 for n in got.values() if n > 1), too_many, edits)
    print(f"  dispatcher: {result.rate:.1f} msg/s ({result.ratio:.3f} of the limit), "
          f"{edits} progress edits", flush=True)
    return result


# --------------------------------------------------------------------------- report

def _verdict(ok: bool, target: str) -> str:
    return f"{target} {'PASS' if ok else 'FAIL'}"


def report(starts: list[Start], delivery: Delivery_ | None) -> str:
    rows = []
    for s in starts:
        rows += [
            (f"{s.backend}: deliveries written", f"{s.written:,} of {s.members:,} members", ""),
            (f"{s.backend}: start", f"{s.start_s:.2f} s",
             _verdict(s.start_s < TARGET_START_S, f"< {TARGET_START_S:.0f} s")),
            (f"{s.backend}: bare INSERT .. SELECT", f"{s.bare_s:.2f} s",
             f"start / bare = {s.start_s / s.bare_s:.2f}"),
            (f"{s.backend}: peak traced memory", f"{s.traced_mb:.1f} MB",
             _verdict(s.traced_mb < TARGET_MEMORY_MB, f"< {TARGET_MEMORY_MB:.0f} MB")),
            (f"{s.backend}: process peak RSS", f"{s.rss_mb:.0f} MB",
             _verdict(s.rss_mb < TARGET_MEMORY_MB, f"< {TARGET_MEMORY_MB:.0f} MB")),
        ]
    if delivery is not None:
        d = delivery
        rows += [
            ("delivery: messages / elapsed", f"{d.messages:,} / {d.elapsed_s:.2f} s", ""),
            ("delivery: achieved rate", f"{d.rate:.1f} msg/s", f"limit {d.limit}"),
            ("delivery: achieved / limit", f"{d.ratio:.3f}",
             _verdict(d.ratio >= TARGET_RATIO, f">= {TARGET_RATIO}")),
            ("delivery: bare Sender rate", f"{d.bare_rate:.1f} msg/s",
             f"dispatcher / bare = {d.rate / d.bare_rate:.3f}"),
            ("delivery: lost / duplicated", f"{d.lost} / {d.duplicated}",
             _verdict(not d.lost and not d.duplicated, "= 0 / 0")),
            ("delivery: 429s answered", f"{d.too_many_requests}", ""),
            ("delivery: progress edits", f"{d.progress_edits}", ""),
        ]
    head = ("figure", "value", "target")
    return format_table(head, rows, left={0, 2})



def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.campaigns", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=100_000,
                   help="members in the start benchmark (default 100,000)")
    p.add_argument("--messages", type=int, default=6_000,
                   help="recipients in the delivery benchmark (default 6,000)")
    p.add_argument("--limit", type=int, default=300,
                   help="Bot API flood limit and Sender rate, msg/s (default 300)")
    add_backend_arguments(p)
    p.add_argument("--no-delivery", action="store_true", help="leave out the delivery rate")
    p.add_argument("--no-lifecycle", action="store_true",
                   help="leave out benchmarks.lifecycle (birthday and win-back selection)")
    args = p.parse_args(argv)
    args.backends = chosen_backends(p, args)
    if args.members < 10 or args.messages < 10 or args.limit < 1:
        p.error("--members and --messages must be at least 10, --limit positive")
    return args


async def main_async(args: argparse.Namespace) -> int:
    programme = config.load()
    print(f"campaigns benchmark: start for {args.members:,} members, delivery of "
          f"{args.messages:,} messages at {args.limit}/s; load average {load_average()}",
          flush=True)
    starts: list[Start] = []
    for backend in args.backends:
        if backend == "sqlite":
            starts.append(await start_sqlite(args, programme))
            continue
        why = await pg_reachable(args.pg_url)
        if why is not None:
            print(f"  postgresql skipped: not reachable at {args.pg_url} ({why})", flush=True)
            continue
        starts.append(await start_postgresql(args, programme))
    delivery = None if args.no_delivery else await measure_delivery(args, programme)
    print()
    print(report(starts, delivery))
    print(f"\nload average {load_average()}", flush=True)
    return 0 if all(s.passed for s in starts) and (delivery is None or delivery.passed) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    status = asyncio.run(main_async(args))
    if not args.no_lifecycle and importlib.util.find_spec("benchmarks.lifecycle") is not None:
        from benchmarks import lifecycle

        print("\n" + "=" * 72 + "\n", flush=True)
        status = max(status, lifecycle.main([]))
    return status


if __name__ == "__main__":
    sys.exit(main())
