"""The gated chats' lapse sweep over a gate of 50,000 members: time and peak memory.

    python -m benchmarks.community [--seats N] [--backends sqlite,postgresql] [--pg-url URL]

For each backend (SQLite in a fresh temporary file; PostgreSQL in a fresh schema, when
reachable) it generates N members (benchmarks.campaigns.generate), seats every one of
them in one chat gated at the top tier, and runs `domain.community.seats.sweep`, the
hourly safety net, twice:

* first sweep: nobody holds the top tier, so every seat lapses and a warning notice is
  queued for each (the worst case: a gate raised by a tier);
* second sweep: everyone is lapsed already; nothing changes and nothing is queued.

Peak memory is Python's own allocation during the sweep (tracemalloc), so the figure
shows whether the sweep holds the whole gate in memory (it reads a page at a time).
The baseline is a bare `UPDATE` of every seat to "lapsed" in one statement, in the
same run. The group-traffic half of this benchmark comes with moderation.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, insert, literal, select, update

from benchmarks import campaigns as seeding
from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    pg_database,
)
from bot import programme as programme_file
from domain.community import seats
from domain.community.tables import Gate, Seat
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.storage.database import Database
from domain.storage.tables import UTCDateTime

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
        m = Member.__table__
        moment = literal(now, UTCDateTime())
        await uow.session.execute(update(m).values(tier=None))  # none holds the gate's tier
        await uow.session.execute(insert(Seat.__table__).from_select(
            ["gate_id", "user_id", "member_id", "status", "chat_admin", "attempts",
             "updated_at"],
            select(literal(gate.id), m.c.id.cast(Seat.user_id.type), m.c.id, literal("in"),
                   literal(False), literal(0), moment).where(m.c.id > 1)))
        await uow.commit()
        return gate.id


async def measure(db: Database, seats_wanted: int) -> list[list[str]]:
    programme = programme_file.load()
    await seeding.fresh(db)
    await seeding.generate(db, seats_wanted)
    gate_id = await seats_in_gate(db, programme.tiers.levels[-1].code, NOW)
    rows = []
    for label in ("first sweep (all lapse)", "second sweep (no change)"):
        tracemalloc.start()
        started = time.perf_counter()
        counts = await seats.sweep(db, programme, NOW)
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append([label, f"{counts['judged']:,}", f"{counts['lapsed']:,}", f"{took:.2f}",
                     f"{peak / 2**20:.1f}"])
    async with db.uow() as uow:
        queued = await uow.session.scalar(select(func.count()).select_from(Notice))
        await uow.session.execute(update(Seat).values(status="in"))
        await uow.commit()
    started = time.perf_counter()
    async with db.uow() as uow:
        await uow.session.execute(update(Seat).where(Seat.gate_id == gate_id)
                                  .values(status="lapsed"))
        await uow.commit()
    bare = time.perf_counter() - started
    rows.append(["bare UPDATE of every seat", f"{seats_wanted:,}", "", f"{bare:.2f}", ""])
    rows.append(["notices queued", f"{queued:,}", "", "", ""])
    return rows


async def run(backends: list[str], seats_wanted: int, pg_url: str) -> None:
    print(load_average() + f"; {seats_wanted:,} seats")
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                db = Database.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'community.db'}")
                try:
                    rows = await measure(db, seats_wanted)
                finally:
                    await db.dispose()
        else:
            async with pg_database(pg_url) as db:
                rows = await measure(db, seats_wanted)
        print(f"\n{backend}")
        print(format_table(["", "seats", "lapsed", "seconds", "peak MiB"], rows, {0}))
    print(load_average())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seats", type=int, default=50_000)
    add_backend_arguments(p)
    args = p.parse_args(argv)
    asyncio.run(run(chosen_backends(p, args), args.seats, args.pg_url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
