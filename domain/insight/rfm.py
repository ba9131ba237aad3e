"""RFM: how recently, how often and how much each buyer bought, scored 1 to 5 against
the other buyers, and the standard grid of named segments those scores put them in.

Who is scored: every member, erased ones aside, with a purchase (purchase_count > 0 and
a last purchase). Their values:
- recency: the day (UTC) of last_purchase_at (a later day is the better value, so
  `now - last_purchase_at` orders them the other way round and needs no clock);
  buyers of the same day are equally recent, and tie upwards (below);
- frequency: purchase_count;
- monetary: the sum of `amount - refunded` over their purchases, in minor units.

A score is a quintile by rank, with ties scored alike. Among n buyers, a value that
exactly `below` buyers' values are strictly less than scores `1 + 5 * below // n`: the
score of the lowest rank that value holds (frequency and spend: forty per cent who
bought once are all F1). Recency ties the other way, to the highest rank its day holds
(5 less `5 * above // n`, counting the buyers of a later day): everyone who bought
today is as recent as can be, R5, even if all bought today; `Edges.recency` is then
exact only between days no two buyers share. So a value shared by many buyers never
splits them between two scores, and a score can stay empty (if 40% bought once, they
all score F1 and nobody scores F2). Worked out as the four `edges` of a measure:
score >= s exactly when the value is greater than edges[s - 2].

The segment comes from R and FM = (F + M) / 2 rounded half up, on the usual grid of
ten named segments over R and F (GRID below, rule by rule; R across, FM up):

    FM 5 | cant_lose    cant_lose    loyal           loyal          champions
    FM 4 | at_risk      at_risk      loyal           loyal          champions
    FM 3 | at_risk      at_risk      need_attention  potential_loy. potential_loy.
    FM 2 | hibernating  hibernating  about_to_sleep  potential_loy. potential_loy.
    FM 1 | hibernating  hibernating  about_to_sleep  promising      new
           R 1          R 2          R 3             R 4            R 5

Each of the 25 cells belongs to exactly one segment (tested).

The reading (`read`) is shared with churn risk (domain/insight/churn.py), which needs
the same member rows and, for its look back, the same pass over purchases. Members are
read a window of ids at a time, and what each spent summed by the database a window of
member ids at a time from an index that holds every column it needs; the look back
reads the purchases themselves, a window of purchase ids at a time in the order they
are stored (an index lookup per member costs three times as much on SQLite), folded
into arrays indexed by member id. Figures are kept as arrays of machine
integers, not objects (RFM, churn risk and its look back together grew a process by
16 MB for 100,000 members), and every pass over them works in chunks with the loop
given a turn between two, so neither a query nor Python holds the loop for long.
Nothing is stored: the caller decides what to keep of the scores.
"""

from __future__ import annotations

import asyncio
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, func, literal, select

from domain.lifecycle.lifecycle import EPOCH, epoch_seconds, seconds
from domain.members.tables import Member
from domain.points.tables import Purchase
from domain.storage.database import UnitOfWork

SEGMENTS = ("champions", "loyal", "potential_loyalists", "new", "promising",
            "need_attention", "about_to_sleep", "at_risk", "cant_lose", "hibernating")
# (segment, R scores, FM scores): the grid above.
GRID: tuple[tuple[str, range, range], ...] = (
    ("champions", range(5, 6), range(4, 6)),
    ("loyal", range(3, 5), range(4, 6)),
    ("potential_loyalists", range(4, 6), range(2, 4)),
    ("new", range(5, 6), range(1, 2)),
    ("promising", range(4, 5), range(1, 2)),
    ("need_attention", range(3, 4), range(3, 4)),
    ("about_to_sleep", range(3, 4), range(1, 3)),
    ("at_risk", range(1, 3), range(3, 5)),
    ("cant_lose", range(1, 3), range(5, 6)),
    ("hibernating", range(1, 3), range(1, 3)),
)
MEMBER_WINDOW = 2000  # member ids a query reads
PURCHASE_WINDOW = 4000  # purchase ids a query reads (folded on the loop: a few ms)
CHUNK = 4096  # members scored between two turns of the loop (a few ms)
SORTED = 16_384  # values sorted at once (about 2 ms)
NEVER = -(2 ** 62)  # the moment of something that never happened (no purchase yet)
DAY = 86_400


def fm(f: int, m: int) -> int:
    """(F + M) / 2, rounded half up."""
    return (f + m + 1) // 2


def segment_for(r: int, f: int, m: int) -> str:
    """The segment of scores (R, F, M), each 1 to 5."""
    combined = fm(f, m)
    for code, rs, fms in GRID:
        if r in rs and combined in fms:
            return code
    raise ValueError(f"scores out of range: {(r, f, m)}")


# A buyer's three scores packed in one byte, (R-1)*25 + (F-1)*5 + (M-1), and the
# segment (an index into SEGMENTS) of each of the 125 packings.
_SEGMENT_OF_CELL = bytes(SEGMENTS.index(segment_for(r, f, m))
                         for r in range(1, 6) for f in range(1, 6) for m in range(1, 6))


def unpack(cell: int) -> tuple[int, int, int]:
    return cell // 25 + 1, cell // 5 % 5 + 1, cell % 5 + 1


async def chunks(n: int, chunk: int = CHUNK) -> AsyncIterator[range]:
    """range(n) in chunks, the loop given a turn after each."""
    for at in range(0, n, chunk):
        yield range(at, min(at + chunk, n))
        await asyncio.sleep(0)


# --- reading --------------------------------------------------------------------------

_M = Member.__table__
_P = Purchase.__table__
_LOW = bindparam("b_low", type_=BigInteger())
_HIGH = bindparam("b_high", type_=BigInteger())
_NEVER = literal(NEVER, BigInteger())


def _moment(column: Any) -> Any:
    return func.coalesce(epoch_seconds(column), _NEVER)


MEMBERS = (select(_M.c.id, _moment(_M.c.last_active_at), _moment(_M.c.first_purchase_at),
                  _moment(_M.c.last_purchase_at), _M.c.purchase_count,
                  case((_M.c.status == "active", 1), else_=0))
           .where(_M.c.id > _LOW, _M.c.id <= _HIGH, _M.c.status != "erased")
           .order_by(_M.c.id))
SPENT = (select(_P.c.member_id, _P.c.amount - _P.c.refunded)
         .where(_P.c.id > _LOW, _P.c.id <= _HIGH))
SPENT_WHEN = SPENT.add_columns(epoch_seconds(_P.c.created_at))
# What each member of a window of ids spent: summed from ix_purchases_member_spend, which
# holds every column it needs, in the order of its member ids.
SPENT_BY_MEMBER = (select(_P.c.member_id,
                          func.sum(_P.c.amount - _P.c.refunded).cast(BigInteger()))
                   .where(_P.c.member_id > _LOW, _P.c.member_id <= _HIGH)
                   .group_by(_P.c.member_id))


@dataclass
class History:
    """What each member had bought before `as_of`, and whether they bought in
    [as_of, until) (both in whole seconds): arrays indexed by member id, NEVER and 0
    for none."""

    as_of: datetime
    until: datetime
    first: array[int]
    last: array[int]
    count: array[int]
    later: bytearray


@dataclass
class Members:
    """Every member but the erased, in id order, one array per column (moments in whole
    seconds since 1970, NEVER for none); the buyers among them (RFM's population) in
    arrays of their own; and what the pass over purchases found, by member id."""

    ids: array[int] = field(default_factory=lambda: array("q"))
    last_active: array[int] = field(default_factory=lambda: array("q"))
    first_purchase: array[int] = field(default_factory=lambda: array("q"))
    last_purchase: array[int] = field(default_factory=lambda: array("q"))
    purchases: array[int] = field(default_factory=lambda: array("q"))
    reachable: bytearray = field(default_factory=bytearray)
    buyer_ids: array[int] = field(default_factory=lambda: array("q"))
    buyer_last: array[int] = field(default_factory=lambda: array("q"))
    buyer_purchases: array[int] = field(default_factory=lambda: array("q"))
    spent: array[int] = field(default_factory=lambda: array("q"))  # by member id
    history: History | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def top(self) -> int:
        """The highest member id read; the arrays by member id run up to it."""
        return self.ids[-1] if self.ids else 0

    def add(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        ids, active, first, last, purchases, reachable = zip(*rows, strict=True)
        self.ids.extend(ids)
        self.last_active.extend(active)
        self.first_purchase.extend(first)
        self.last_purchase.extend(last)
        self.purchases.extend(purchases)
        self.reachable.extend(reachable)
        buyers = [(r[0], r[3], r[4]) for r in rows if r[4] > 0 and r[3] != NEVER]
        if buyers:
            ids, last, purchases = zip(*buyers, strict=True)
            self.buyer_ids.extend(ids)
            self.buyer_last.extend(last)
            self.buyer_purchases.extend(purchases)


async def read(uow: UnitOfWork, as_of: datetime | None = None,
               until: datetime | None = None) -> Members:
    """Every member's figures and what they spent; with `as_of` and `until`, also what
    each had bought before `as_of` and whether they bought in [as_of, until) (churn's
    look back). Best called on a snapshot (Database.snapshot): the read is long, and
    takes no lock there."""
    members = Members()
    top = int(await uow.scalar(select(func.coalesce(func.max(_M.c.id), 0))))
    for low in range(0, top, MEMBER_WINDOW):
        members.add((await uow.execute(
            MEMBERS, {"b_low": low, "b_high": low + MEMBER_WINDOW})).all())
    size = members.top + 1
    members.spent = array("q", bytes(8 * size))
    if as_of is not None:
        # Whole seconds, as the purchases' moments are read: `at < as_of` is then exact.
        as_of = as_of.replace(microsecond=0)
        until = until.replace(microsecond=0) if until is not None else None
        if until is None or until <= as_of:
            raise ValueError("a look back needs an end after its start")
        members.history = History(as_of, until, array("q", [NEVER]) * size,
                                  array("q", [NEVER]) * size, array("q", bytes(8 * size)),
                                  bytearray(size))
    if members.history is None:  # what each spent, summed by the database
        for low in range(0, size, MEMBER_WINDOW):
            _fold(members, (await uow.execute(
                SPENT_BY_MEMBER, {"b_low": low, "b_high": low + MEMBER_WINDOW})).all())
        return members
    last_purchase = int(await uow.scalar(select(func.coalesce(func.max(_P.c.id), 0))))
    for low in range(0, last_purchase, PURCHASE_WINDOW):
        window = {"b_low": low, "b_high": low + PURCHASE_WINDOW}
        _fold_history(members, members.history,
                      (await uow.execute(SPENT_WHEN, window)).all())
    return members


def _fold(members: Members, rows: Sequence[Any]) -> None:
    spent, size = members.spent, len(members.spent)
    for member_id, amount in rows:
        if member_id < size:  # else they joined after the members were read
            spent[member_id] += amount


def _fold_history(members: Members, history: History,
                  rows: Sequence[Any]) -> None:
    spent, size = members.spent, len(members.spent)
    first, last, count, later = history.first, history.last, history.count, history.later
    start = seconds(history.as_of)
    end = seconds(history.until)
    for member_id, amount, at in rows:
        if member_id >= size:
            continue
        spent[member_id] += amount
        if at < start:
            n = count[member_id]
            count[member_id] = n + 1
            if n == 0:
                first[member_id] = last[member_id] = at
            elif at > last[member_id]:
                last[member_id] = at
            elif at < first[member_id]:
                first[member_id] = at
        elif at < end:
            later[member_id] = 1


# --- scoring --------------------------------------------------------------------------

async def edges(values: array[int]) -> tuple[int, ...]:
    """The four values a score must pass (score >= s when value > edges[s - 2]): the
    values at ranks ceil((s - 1) * n / 5) - 1 of the sorted values. Sorted a chunk at a
    time, not at once (one sort of a million holds the loop a few hundred ms); each rank
    is then found by halving the range of values, counting through the sorted chunks."""
    n = len(values)
    if n == 0:
        return ()
    runs: list[list[int]] = []
    for at in range(0, n, SORTED):
        runs.append(sorted(values[at:at + SORTED]))
        await asyncio.sleep(0)
    least, most = min(run[0] for run in runs), max(run[-1] for run in runs)
    found = []
    for s in range(2, 6):
        rank = -(-(s - 1) * n // 5) - 1  # 0-based
        lo, hi = least, most
        while lo < hi:  # the least x with more than `rank` values at most x
            mid = (lo + hi) // 2
            if sum(bisect_right(run, mid) for run in runs) > rank:
                hi = mid
            else:
                lo = mid + 1
        found.append(lo)
    return tuple(found)


@dataclass(frozen=True)
class Scores:
    """Each buyer's scores and segment: member ids ascending, and beside each the
    packed scores (`unpack`). Nine bytes a buyer."""

    ids: array[int]
    cells: bytes

    def _at(self, member_id: int) -> int | None:
        i = bisect_left(self.ids, member_id)
        return i if i < len(self.ids) and self.ids[i] == member_id else None

    def scores_of(self, member_id: int) -> tuple[int, int, int] | None:
        """(R, F, M) of a member; None when they have not bought (or are erased)."""
        i = self._at(member_id)
        return None if i is None else unpack(self.cells[i])

    def segment_of(self, member_id: int) -> str | None:
        i = self._at(member_id)
        return None if i is None else SEGMENTS[_SEGMENT_OF_CELL[self.cells[i]]]

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> Iterator[tuple[int, int, int, int, str]]:
        """(member id, R, F, M, segment) of every buyer, in id order; a caller that
        goes through them all should give the loop turns as it goes."""
        for member_id, cell in zip(self.ids, self.cells, strict=True):
            yield member_id, *unpack(cell), SEGMENTS[_SEGMENT_OF_CELL[cell]]

    async def members_in(self, codes: Collection[str]) -> list[int]:
        """The ids of the buyers in any of these segments, ascending (a campaign
        filter). Picked out a chunk at a time with bytes.translate and find."""
        unknown = set(codes) - set(SEGMENTS)
        if unknown:
            raise ValueError(f"no such segment: {sorted(unknown)}")
        wanted = {SEGMENTS.index(c) for c in codes}
        mask = bytes(1 if _SEGMENT_OF_CELL[c] in wanted else 0 for c in range(125)) \
            + bytes(256 - 125)
        found: list[int] = []
        async for span in chunks(len(self.cells), CHUNK * 8):
            hits = self.cells[span.start:span.stop].translate(mask)
            i = hits.find(1)
            while i >= 0:
                found.append(self.ids[span.start + i])
                i = hits.find(1, i + 1)
        return found


@dataclass(frozen=True)
class Edges:
    """What each score takes: score >= s when the value is greater than edges[s - 2].
    Recency's are moments (a last purchase later than that), the others purchases and
    minor units; all empty when nobody has bought."""

    recency: tuple[datetime, ...]
    frequency: tuple[int, ...]
    monetary: tuple[int, ...]


@dataclass(frozen=True)
class SegmentFigure:
    code: str
    members: int
    revenue: int  # minor units: amount - refunded over their purchases


@dataclass(frozen=True)
class Figures:
    """What /segments shows of RFM, and what the nightly scoring keeps of it: every
    segment (in SEGMENTS order, empty ones too) with its buyers and their revenue, and
    the totals."""

    at: datetime
    members: int
    revenue: int
    segments: tuple[SegmentFigure, ...]

    def segment(self, code: str) -> SegmentFigure:
        return self.segments[SEGMENTS.index(code)]

    def share_of_members(self, code: str) -> Fraction | None:
        return Fraction(self.segment(code).members, self.members) if self.members else None

    def share_of_revenue(self, code: str) -> Fraction | None:
        """None when the buyers' revenue is nothing (all refunded, or free orders)."""
        return Fraction(self.segment(code).revenue, self.revenue) if self.revenue else None


@dataclass(frozen=True)
class Rfm(Figures):
    """The figures, with the edges of each score and each buyer's scores (`scores`)."""

    edges: Edges
    scores: Scores


async def score(members: Members, now: datetime) -> Rfm:
    """Scores, segments and their figures, of members already read."""
    ids, n, spent = members.buyer_ids, len(members.buyer_ids), members.spent
    monetary = array("q")
    async for span in chunks(n, CHUNK * 4):
        monetary.extend([spent[ids[i]] for i in span])
    # Recency in whole days: buyers of the same day are as recent as each other. Its
    # score counts the buyers more recent than them (edges of the days negated), so a
    # tie takes the highest rank it holds.
    last, back = array("q"), array("q")
    async for span in chunks(n, CHUNK * 4):
        last.extend([members.buyer_last[i] // DAY for i in span])
        back.extend([-last[i] for i in span])
    e_r, e_back, e_f, e_m = [await edges(v) for v in (last, back, members.buyer_purchases,
                                                      monetary)]
    cells = bytearray(n)
    count = [0] * len(SEGMENTS)
    revenue = [0] * len(SEGMENTS)
    segment_of = _SEGMENT_OF_CELL
    purchases = members.buyer_purchases
    async for span in chunks(n):
        for i in span:
            m = monetary[i]
            cell = ((4 - bisect_left(e_back, back[i])) * 25
                    + bisect_left(e_f, purchases[i]) * 5 + bisect_left(e_m, m))
            cells[i] = cell
            s = segment_of[cell]
            count[s] += 1
            revenue[s] += m
    return Rfm(
        at=now, members=n, revenue=sum(revenue),
        segments=tuple(SegmentFigure(code, count[i], revenue[i])
                       for i, code in enumerate(SEGMENTS)),
        edges=Edges(tuple(EPOCH + timedelta(days=d) for d in e_r), e_f, e_m),
        scores=Scores(ids, bytes(cells)))


async def rfm(uow: UnitOfWork, now: datetime, members: Members | None = None) -> Rfm:
    """Every buyer scored and named, with each segment's figures. `members` is a reading
    already taken (`read`, shared with churn risk); else one is taken from `uow`, best
    a snapshot (Database.snapshot)."""
    return await score(members if members is not None else await read(uow), now)


async def member_segments(uow: UnitOfWork) -> Scores:
    """Each buyer's scores and segment code, for segment filters."""
    return (await rfm(uow, EPOCH)).scores
