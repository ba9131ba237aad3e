"""What each tier redeems and what members redeem together: the model behind personal
reward picks (domain.insight.recommendations), built once from the redemptions and
shared by every member's picks, and a campaign's, until it goes stale.

Everything counts members, not redemptions: a member who took `ten_off` five times
and `tea_set` once is one taker of each and one pair, so a heavy redeemer makes
neither a favourite nor a pair on their own.

Together: lift, how many more members took both items than if taking one said nothing
of the other, m(a, b) / (n(a) * n(b) / N), where m counts the members who took both,
n those who took each and N all who redeemed anything. A raw count would pair every
item with the most popular ones, which popularity offers already; lift divides their
popularity out. Both counts get SHRINK pseudo-members, (m + S) / (e + S), so a pair
that few members share stays near 1 (says nothing) rather than a lucky 20.

Popularity within a tier: the share of the tier's redeeming members who took the
item, smoothed towards the share among all members by PRIOR pseudo-members, so a tier
with little history borrows the programme's taste instead of trusting three members.
The tier is the member's tier when the model is built, not when they redeemed.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import bindparam, func, select

from domain.members.tables import Member
from domain.rewards.tables import Redemption
from domain.storage import turns
from domain.storage.database import Database
from domain.storage.tables import UTCDateTime

log = logging.getLogger(__name__)
SHRINK = 1.0  # pseudo-members added to a pair's observed and expected takers
PRIOR = 20  # pseudo-members a tier's popularity borrows from the whole programme
WINDOW_DAYS = 365  # redemptions older than this say little of taste today
MAX_AGE = timedelta(hours=1)  # a model older than this is rebuilt
FIRST_SPAN = 500  # member ids read in the first window of a build
WINDOW_ROWS = 1_000  # rows a window of a build aims at
# Half the loop's usual turn (domain.storage.turns.CPU_SLICE_S): a step that folds also
# closes the window's snapshot, so its whole stretch stays well under 10 ms.
FOLD_SLICE_S = turns.CPU_SLICE_S / 2

_R, _M = Redemption.__table__, Member.__table__
# One window of member ids: each member's redemptions by reward, the member's rows
# together, so every basket is whole within its window.
_WINDOW = (
    select(_R.c.member_id, _M.c.tier, _R.c.reward, func.count())
    .join_from(_R, _M, _M.c.id == _R.c.member_id)
    .where(_R.c.member_id > bindparam("low"), _R.c.member_id <= bindparam("high"),
           _R.c.created_at > bindparam("since", type_=UTCDateTime()))
    .group_by(_R.c.member_id, _M.c.tier, _R.c.reward)
    .order_by(_R.c.member_id))
_TOP = select(func.max(_R.c.member_id))


@dataclass(frozen=True)
class Model:
    built_at: datetime | None
    members: int  # members with at least one redemption
    tier_members: Mapping[str | None, int]
    takers: Mapping[str, int]  # members who took each item
    tier_takers: Mapping[str | None, Mapping[str, int]]
    redeemed: Mapping[str, int]  # redemptions of each item (the popularity baseline's)
    together: Mapping[str, Mapping[str, int]]  # members who took both, both ways round

    def popularity(self, tier: str | None, code: str) -> float:
        """The smoothed share of the tier's redeeming members who took `code`."""
        if not self.members:
            return 0.0
        overall = self.takers.get(code, 0) / self.members
        took = self.tier_takers.get(tier, {}).get(code, 0)
        return (took + PRIOR * overall) / (self.tier_members.get(tier, 0) + PRIOR)

    def lift(self, a: str, b: str) -> float:
        """How much more often than chance a taker of `a` took `b` too (shrunk)."""
        expected = self.takers.get(a, 0) * self.takers.get(b, 0) / max(self.members, 1)
        return (self.together.get(a, {}).get(b, 0) + SHRINK) / (expected + SHRINK)

    def stale(self, now: datetime, max_age: timedelta = MAX_AGE) -> bool:
        return self.built_at is None or now - self.built_at >= max_age


EMPTY = Model(None, 0, {}, {}, {}, {}, {})  # a model of nothing: it picks nothing


@dataclass
class Tally:
    """Counts added one member at a time; `model()` hands them over as a Model (add
    nothing afterwards). The build from the database and the offline evaluation both
    count through here."""

    members: int = 0
    tier_members: Counter[str | None] = field(default_factory=Counter)
    takers: Counter[str] = field(default_factory=Counter)
    tier_takers: dict[str | None, Counter[str]] = field(default_factory=dict)
    redeemed: Counter[str] = field(default_factory=Counter)
    together: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, tier: str | None, counts: Mapping[str, int]) -> None:
        """One member's redemptions, as the number of each reward."""
        items = [code for code, n in counts.items() if n > 0]
        if not items:
            return
        self.members += 1
        self.tier_members[tier] += 1
        ours = self.tier_takers.setdefault(tier, Counter())
        for code in items:
            self.takers[code] += 1
            ours[code] += 1
            self.redeemed[code] += counts[code]
            pairs = self.together.setdefault(code, Counter())
            for other in items:
                if other != code:
                    pairs[other] += 1

    def model(self, built_at: datetime | None) -> Model:
        return Model(built_at, self.members, self.tier_members, self.takers,
                     self.tier_takers, self.redeemed, self.together)


def fold(tally: Tally, rows: Iterable[tuple[int, str | None, str, int]]) -> Iterator[None]:
    """Rows of (member id, tier, reward, redemptions), a member's rows together, into
    `tally`, a member per step, so a build can pace it."""
    for _, group in groupby(rows, key=lambda row: row[0]):
        basket = list(group)
        counts: dict[str, int] = {}
        for _, _, reward, n in basket:
            counts[reward] = counts.get(reward, 0) + n
        tally.add(basket[0][1], counts)
        yield None


async def build(db: Database, now: datetime, window_days: int = WINDOW_DAYS,
                stop: asyncio.Event | None = None) -> Model:
    """The model of the last `window_days` of redemptions, read a window of member ids
    at a time, each from a snapshot (on SQLite it reads on a worker thread, without the
    write lock). Folding gives the loop a turn every FOLD_SLICE_S, and windows are sized
    to about WINDOW_ROWS rows, so that turning them into Python rows, which happens on
    the loop, stays short too.

    Once `stop` is set it stops between two windows, as if cancelled. Cancelling it
    instead could leave a read running on SQLite's worker thread, with the database
    disposed of under it (a crash)."""
    since = now - timedelta(days=window_days)
    _stop_if(stop)
    async with db.snapshot() as snap:
        top = await snap.scalar(_TOP) or 0
    tally, low, span = Tally(), 0, FIRST_SPAN
    while low < top:
        _stop_if(stop)
        async with db.snapshot() as snap:
            rows = (await snap.execute(_WINDOW, {"low": low, "high": low + span,
                                                 "since": since})).all()
        async for _ in turns.paced(fold(tally, rows), FOLD_SLICE_S):
            pass
        await asyncio.sleep(0)
        low += span
        span = max(100, min(span * WINDOW_ROWS // max(len(rows), 1), span * 2))
    return tally.model(now)


def _stop_if(stop: asyncio.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise asyncio.CancelledError


class Models:
    """The model of one database, shared by every caller. A stale model is still used
    while its successor builds in the background, so no member waits for a rebuild;
    only the very first caller waits for the first build. One build at a time."""

    def __init__(self, db: Database, max_age: timedelta = MAX_AGE,
                 window_days: int = WINDOW_DAYS) -> None:
        self._db = db
        self.max_age = max_age
        self.window_days = window_days
        self._model: Model | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[Model] | None = None
        self._closed = asyncio.Event()

    @property
    def latest(self) -> Model | None:
        return self._model

    async def get(self, now: datetime) -> Model:
        model = self._model
        if model is None:
            return await self.rebuild(now)
        if model.stale(now, self.max_age) and (self._task is None or self._task.done()):
            # A context of its own: the caller's (a member's open unit of work) is not
            # the rebuild's.
            self._task = asyncio.get_running_loop().create_task(
                self.rebuild(now), context=contextvars.Context())
            self._task.add_done_callback(_logged)
        return model

    async def rebuild(self, now: datetime) -> Model:
        """Build now (waiting for a build under way, whose fresh model then serves)."""
        async with self._lock:
            if self._model is not None and not self._model.stale(now, self.max_age):
                return self._model
            self._model = await build(self._db, now, self.window_days, self._closed)
            return self._model

    async def settled(self) -> None:
        """Wait for a background rebuild under way, if any."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait([task])

    async def close(self) -> None:
        """Stop building, before the database is disposed of: a build under way, in the
        background or a caller's, stops after its current read (see `build`), and this
        waits until it has; none starts after."""
        self._closed.set()
        async with self._lock:  # held by the build under way, if any
            pass
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait([task])  # it stops as soon as it has the lock


def _logged(task: asyncio.Task[Model]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the recommendations model could not be rebuilt",
                  exc_info=task.exception())
