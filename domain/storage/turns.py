"""Long work in short turns, so the event loop keeps answering members.

On SQLite our statements run on the loop's own thread (domain.storage.sqlite_inline),
so awaiting one never lets anything else run; and the file has one write lock, which
a member's transaction must wait for. A job over many members therefore works in
transactions that each stop once they have run their slice, and leaves the loop a
turn between them (UnitOfWork does on leaving). On PostgreSQL awaits do suspend, and
transactions there only need to stay short for their row locks; what can still hold
the loop is Python work over many rows between two awaits, which `paced` spreads out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")
# How long one transaction of a long job may run: on SQLite it holds the loop and the
# write lock all along, so a member waits at most about this long for their turn.
SQLITE_SLICE_S = 0.012
# On PostgreSQL the loop is free meanwhile; longer slices save commits.
POSTGRES_SLICE_S = 0.15
# A transaction whose statements run off the loop (UnitOfWork.off_loop) holds only the
# write lock on SQLite: members wait for it, but the loop answers meanwhile.
SQLITE_OFF_LOOP_S = 0.04
# Plain Python work between two turns of the loop.
CPU_SLICE_S = 0.008


def slice_for(dialect: str) -> float:
    return SQLITE_SLICE_S if dialect == "sqlite" else POSTGRES_SLICE_S


def resized(size: int, took: float, dialect: str, least: int, most: int,
            share: float | None = None) -> int:
    """The next batch size, for a batch of `size` that took `took` seconds: as much as
    fits in the backend's slice (or in `share` seconds), within [least, most]."""
    fits = int(size * (share or slice_for(dialect)) / max(took, 1e-6))
    return max(least, min(most, fits, size * 2))


async def paced(items: Iterable[T], every: float = CPU_SLICE_S) -> AsyncIterator[T]:
    """The items, with the loop given a turn each time `every` seconds of work went by."""
    mark = time.perf_counter()
    for item in items:
        yield item
        now = time.perf_counter()
        if now - mark >= every:
            await asyncio.sleep(0)
            mark = time.perf_counter()
