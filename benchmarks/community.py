"""Gated chats and moderation at scale: the lapse sweep over a gate of 50,000 members,
and ordinary group traffic through memberbot against a bare aiogram bot.

    python -m benchmarks.community [--parts sweep,traffic] [--backends sqlite,postgresql]
                                   [--seats N] [--messages N] [--users N] [--groups N]

**Sweep.** For each backend (SQLite in a fresh temporary file; PostgreSQL in a fresh
schema, when reachable) it generates N members (benchmarks.campaigns.generate), seats
every one of them in one chat gated at the top tier, and runs
`domain.community.seats.sweep`, the hourly safety net, twice:

* first sweep: nobody holds the top tier, so every seat lapses and a warning notice is
  queued for each (the worst case: a gate raised by a tier);
* second sweep: everyone is lapsed already; nothing changes and nothing is queued.

Peak memory is Python's own allocation during the sweep (tracemalloc), so the figure
shows whether the sweep holds the whole gate in memory (it reads a page at a time).
tracemalloc slows Python down several times over, so the two sweeps are timed first
and then run again, from the same start, for their peaks.
The baseline is a bare `UPDATE` of every seat to "lapsed" in one statement, in the
same run.

**Traffic.** `--messages` ordinary group messages (20,000) from `--users` people (2,000)
spread over `--groups` supergroups, polled over HTTP from the local Bot API server
(tests/support/fake_telegram.py) with real aiogram. memberbot runs its whole path
(`memberbot run`'s service: inbox, the moderation runner with every group router,
antiflood on in every group, captcha on with captchas pending, the captcha expiry
worker running); the bare bot is aiogram's own polling with a handler that takes each
group message and makes no call, as memberbot makes none for chatter. Everyone writes
once first, untimed, as people seen before (their first message is remembered, one
write each). The figure is messages/s until the last message is recorded as handled;
the ratio is memberbot over the bare bot, medians of `--repeats` rounds of each taken
in turns (each round of memberbot on a fresh database). Target: at least 0.5. The database profile
counts the transactions committed while the timed messages were handled, by who
committed them: most messages must write nothing of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tracemalloc
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from aiogram import Dispatcher
from aiogram.types import Message
from sqlalchemy import delete, func, insert, literal, select, update

from benchmarks import campaigns as seeding
from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    on_backend,
)
from bot import programme as programme_file
from bot import web
from bot.app import App
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.telegram import aiogram_bot, service
from domain.community import captchas, group_settings, seats
from domain.community.tables import Gate, Seat
from domain.config import Programme
from domain.members.tables import Identity, Member
from domain.notices.tables import Notice
from domain.storage import schema
from domain.storage.database import Database, UnitOfWork
from domain.storage.tables import UTCDateTime
from handlers.community.moderation import newcomers
from handlers.routers import build_engine
from tests.support.fake_telegram import FakeBotAPI

NOW = seeding.NOW


async def seats_in_gate(db: Database, tier: str, now: datetime) -> int:
    """One chat gated at `tier`, and a seat in it for every member but the first (the
    operator's account in the other benchmarks), all of them at the lowest tier: the
    gate's id."""
    async with db.uow() as uow:
        gate = Gate(platform="telegram", chat_id="-1001", kind="supergroup", title="Club",
                    min_tier=tier, grace_s=3 * 86400, on_lapse="remove", dry_run=False,
                    created_by="bench", created_at=now, updated_at=now)
        uow.session.add(gate)
        await uow.flush()
        m, i = Member.__table__, Identity.__table__
        moment = literal(now, UTCDateTime())
        await uow.session.execute(update(m).values(tier=None))  # none holds the gate's tier
        await uow.session.execute(insert(Seat.__table__).from_select(
            ["gate_id", "user_id", "member_id", "status", "chat_admin", "attempts",
             "updated_at"],
            select(literal(gate.id), i.c.external_id, i.c.member_id, literal("in"),
                   literal(False), literal(0), moment)
            .where(i.c.member_id > 1, i.c.platform == "telegram")))
        await uow.commit()
        return gate.id


async def measure(db: Database, seats_wanted: int) -> list[list[str]]:
    programme = programme_file.load()
    await seeding.fresh(db)
    await seeding.generate(db, seats_wanted)
    gate_id = await seats_in_gate(db, programme.tiers.levels[-1].code, NOW)
    labels = ("first sweep (all lapse)", "second sweep (no change)")
    timed = [await _sweep(db, programme) for _ in labels]
    async with db.uow() as uow:
        queued = await uow.session.scalar(select(func.count()).select_from(Notice))
    # The same two sweeps again under tracemalloc, which slows Python down several
    # times over: its peak is the figure, its time is not.
    await _seated_again(db)
    peaks = []
    for _ in labels:
        tracemalloc.start()
        await _sweep(db, programme)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    rows = [[label, f"{counts['judged']:,}", f"{counts['lapsed']:,}", f"{took:.2f}",
             f"{peak / 2**20:.1f}"]
            for label, (counts, took), peak in zip(labels, timed, peaks, strict=True)]
    await _seated_again(db)
    started = time.perf_counter()
    async with db.uow() as uow:
        await uow.session.execute(update(Seat).where(Seat.gate_id == gate_id)
                                  .values(status="lapsed"))
        await uow.commit()
    bare = time.perf_counter() - started
    rows.append(["bare UPDATE of every seat", f"{seats_wanted:,}", "", f"{bare:.2f}", ""])
    rows.append(["notices queued", f"{queued:,}", "", "", ""])
    return rows


async def _sweep(db: Database, programme: Programme) -> tuple[dict[str, int], float]:
    started = time.perf_counter()
    counts = await seats.sweep(db, programme, NOW)
    return counts, time.perf_counter() - started


async def _seated_again(db: Database) -> None:
    """Every seat in again and no warning queued, as before the first sweep."""
    async with db.uow() as uow:
        await uow.session.execute(update(Seat).values(status="in", lapsed_at=None,
                                                      remove_after=None))
        await uow.session.execute(delete(Notice))
        await uow.commit()


# ------------------------------------------------------------------ group traffic

TRAFFIC_TARGET = 0.5
FIRST_GROUP = -1002000000
FIRST_USER = 50_000
FLOOD_LIMIT = 5  # antiflood on: 5 in a row by one person
PENDING_CAPTCHAS = 20  # per group: newcomers who have not answered yet


@dataclass
class Traffic:
    messages: int
    users: int
    groups: int

    def chat(self, user: int) -> int:
        return FIRST_GROUP - user % self.groups

    def push(self, api: FakeBotAPI, count: int, start: int = 0) -> None:
        """`count` messages, person after person: nobody writes twice in a row, so
        antiflood counts every message and acts on none."""
        for i in range(start, start + count):
            user = i % self.users
            api.message(FIRST_USER + user, f"message {i} about tea", chat_id=self.chat(user),
                        chat_type="supergroup", first_name=f"P{user}")

    def rooms(self, api: FakeBotAPI) -> list[int]:
        chats = [FIRST_GROUP - g for g in range(self.groups)]
        for chat in chats:
            api.group(chat, f"Tea group {chat}")
            api.admin(chat)
        return chats


class Profile:
    """Transactions committed, by who committed them, and the deliveries the inbox
    marked handled: the benchmark's instruments, put around memberbot's own functions
    for the run and taken off after."""

    LABELS = {"received": "inbox: deliveries recorded (batches)",
              "finished": "inbox: deliveries marked handled (batches)",
              "expiry": "captcha expiry worker (a pass every 3 s)",
              None: "anything else: moderation, people seen, settings"}

    def __init__(self) -> None:
        self.commits: Counter[str | None] = Counter()
        self.finished = 0
        self.finished_changed = asyncio.Event()
        self._who: ContextVar[str | None] = ContextVar("bench_who", default=None)
        self._undo: list[tuple[object, str, object]] = []

    def __enter__(self) -> Profile:
        profile = self

        def around(owner: object, name: str, label: str, after=None) -> None:
            original = getattr(owner, name)

            async def wrapper(*args, **kwargs):
                token = profile._who.set(label)
                try:
                    result = await original(*args, **kwargs)
                finally:
                    profile._who.reset(token)
                if after is not None:
                    after(args)
                return result

            self._undo.append((owner, name, original))
            setattr(owner, name, wrapper)

        def finished(args) -> None:
            self.finished += len(args[1])
            self.finished_changed.set()

        commit = UnitOfWork.commit

        async def counted_commit(uow: UnitOfWork) -> None:
            await commit(uow)
            self.commits[self._who.get()] += 1

        self._undo.append((UnitOfWork, "commit", commit))
        UnitOfWork.commit = counted_commit  # type: ignore[method-assign]
        around(Pipeline, "_commit_received", "received")
        around(Pipeline, "_commit_finished", "finished", finished)
        around(newcomers, "expire_due", "expiry")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)

    async def handled(self, count: int) -> None:
        while self.finished < count:
            self.finished_changed.clear()
            await asyncio.wait_for(self.finished_changed.wait(), 600)

    def rows(self, before: Counter[str | None], messages: int) -> list[list[str]]:
        rows = []
        for key, label in self.LABELS.items():
            done = self.commits[key] - before[key]
            rows.append([label, f"{done:,}", f"{1000 * done / messages:.1f}"])
        return rows


async def seed_groups(db: Database, traffic: Traffic, chats: list[int]) -> None:
    """Antiflood and captcha on in every group, with captchas pending (far from due)."""
    async with db.uow() as uow:
        for chat in chats:
            await group_settings.change(uow, "telegram", str(chat), "bench", NOW,
                                        flood_limit=FLOOD_LIMIT, captcha_on=True,
                                        language="en")
            for n in range(PENDING_CAPTCHAS):
                await captchas.open(uow, "telegram", str(chat), str(10 * FIRST_USER + n), 7,
                                    str(n + 1), datetime.now(UTC) + timedelta(days=1),
                                    datetime.now(UTC))
        await uow.commit()


async def memberbot_traffic(db: Database, traffic: Traffic) -> tuple[float, list[list[str]]]:
    await schema.upgrade(db.engine)
    programme = programme_file.load()
    async with FakeBotAPI() as api:
        await seed_groups(db, traffic, traffic.rooms(api))
        settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                           telegram_rate=1000.0)
        app = App(settings, programme, db, build_engine(db, programme))
        with Profile() as profile:
            running = service.running(app, web.build(db))
            await running.__aenter__()
            try:
                traffic.push(api, traffic.users)  # everyone once: seen before
                await profile.handled(traffic.users)
                before = Counter(profile.commits)
                start = time.perf_counter()
                traffic.push(api, traffic.messages, traffic.users)
                await profile.handled(traffic.users + traffic.messages)
                took = time.perf_counter() - start
                rows = profile.rows(before, traffic.messages)
            finally:
                await running.__aexit__(None, None, None)
        said = [c.method for c in api.sent() if c.method not in ("setMyCommands",
                                                                  "deleteWebhook")]
        assert not said, f"memberbot acted on chatter: {said[:3]}"
    return took, rows


async def bare_traffic(traffic: Traffic) -> float:
    async with FakeBotAPI() as api:
        traffic.rooms(api)
        bot = aiogram_bot.make_bot(api.token, api.root)
        dp = Dispatcher()
        seen = [0]
        arrived = asyncio.Event()

        @dp.message()
        async def take(message: Message) -> None:
            seen[0] += 1
            arrived.set()

        async def handled(count: int) -> None:
            while seen[0] < count:
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 600)

        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False,
                                                       close_bot_session=True))
        try:
            traffic.push(api, traffic.users)
            await handled(traffic.users)
            start = time.perf_counter()
            traffic.push(api, traffic.messages, traffic.users)
            await handled(traffic.users + traffic.messages)
            return time.perf_counter() - start
        finally:
            await dp.stop_polling()
            await polling


async def measure_traffic(backend: str, pg_url: str, traffic: Traffic,
                          repeats: int) -> tuple[float, float, list]:
    """Rounds in turns, each bot going first in every other; medians of each (messages
    a second), and the database profile of memberbot's median round."""
    ours: list[tuple[float, list]] = []
    bare: list[float] = []
    for round_ in range(repeats):
        if round_ % 2:
            ours.append(await on_backend(backend, pg_url,
                                         lambda db: memberbot_traffic(db, traffic)))
        bare.append(await bare_traffic(traffic))
        if not round_ % 2:
            ours.append(await on_backend(backend, pg_url,
                                         lambda db: memberbot_traffic(db, traffic)))
    took, rows = sorted(ours, key=lambda r: r[0])[len(ours) // 2]
    return traffic.messages / took, traffic.messages / statistics.median(bare), rows


def print_traffic(backend: str, traffic: Traffic, ours: float, bare: float,
                  rows: list[list[str]]) -> bool:
    ratio = ours / bare
    ok = ratio >= TRAFFIC_TARGET
    print(f"\n{backend}: {traffic.messages:,} group messages from {traffic.users:,} people "
          f"in {traffic.groups} groups")
    print(format_table(["bot", "messages/s"], [["bare aiogram", f"{bare:,.0f}"],
                                               ["memberbot", f"{ours:,.0f}"]], {0}))
    print(f"ratio memberbot/bare: {ratio:.2f} (target >= {TRAFFIC_TARGET}: "
          f"{'ok' if ok else 'MISSED'})")
    print(f"\ntransactions committed while the {traffic.messages:,} messages were handled")
    print(format_table(["by", "commits", "per 1,000 messages"], rows, {0}))
    own = int(rows[-1][1].replace(",", ""))
    print(f"messages that wrote anything of their own: at most {own:,} "
          f"({100 * own / traffic.messages:.1f}%); the inbox's writes are batched")
    return ok


# ------------------------------------------------------------------ running

async def run(backends: list[str], parts: list[str], seats_wanted: int, pg_url: str,
              traffic: Traffic, repeats: int) -> bool:
    print(load_average())
    ok = True
    for backend in backends:
        if "sweep" in parts:
            rows = await on_backend(backend, pg_url, lambda db: measure(db, seats_wanted))
            print(f"\n{backend}: lapse sweep over {seats_wanted:,} seats")
            print(format_table(["", "seats", "lapsed", "seconds", "peak MiB"], rows, {0}))
        if "traffic" in parts:
            ours, bare, rows = await measure_traffic(backend, pg_url, traffic, repeats)
            ok = print_traffic(backend, traffic, ours, bare, rows) and ok
    print(load_average())
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="sweep,traffic",
                   help="comma-separated: sweep, traffic (default both)")
    p.add_argument("--seats", type=int, default=50_000)
    p.add_argument("--messages", type=int, default=20_000)
    p.add_argument("--users", type=int, default=2_000)
    p.add_argument("--groups", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3,
                   help="traffic rounds of each bot, in turns; medians (default 3)")
    add_backend_arguments(p)
    args = p.parse_args(argv)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if set(parts) - {"sweep", "traffic"}:
        p.error(f"unknown part(s): {args.parts}")
    traffic = Traffic(args.messages, args.users, args.groups)
    ok = asyncio.run(run(chosen_backends(p, args), parts, args.seats, args.pg_url, traffic,
                         max(args.repeats, 1)))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
