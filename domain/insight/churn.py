"""Churn risk: a score from 0 to 100 for each member, from how long they have been
idle against their own purchase rhythm; the members at highest risk; how many of those
a win-back coupon has reached; and how well the score foretold churn in the past.

The score is anchored on the lifecycle stages (domain/lifecycle/lifecycle.py), so its
numbers mean what operators already know:
- idle = now - last activity (last_active_at: a message or a purchase), whole seconds;
- lapse point L = the member's usual purchase interval times lapse_multiple, never less
  than lapse_floor_days; with fewer than two purchases, lapse_floor_days. The usual
  interval is (last purchase - first purchase) / (purchases - 1), in whole seconds,
  rounded down, as lifecycle compares it;
- churn point C = churn_days.

    idle > C:        100                              (lifecycle: churned)
    idle <= L:       49 * idle // L                   (active: 0 to 49)
    L < idle <= C:   50 + 50 * (idle - L) // (C - L)  (lapsing: 50 to 100)

So a score of 50 or more says exactly that lifecycle's rule finds the member lapsing or
churned (to the second; the "new" stage of recent joiners aside: tested against
lifecycle.stage_of), and within each stage the score climbs with idleness as a share
of that stage's span. A member whose lapse point lies at or beyond C never lapses by
the rule: their score stays under 50 until they churn. THRESHOLD (50) is what "at risk"
means unless the caller says otherwise.

Looking back (`evaluate`): as of a past moment T = now - horizon (now taken to the
whole second; horizon defaults to churn_days), each member, erased ones aside, who had
bought before T is scored from the purchases table before T alone: their count, first
and last purchase before T, and idle = T - that last purchase (the record keeps no
history of other activity, so at T a purchase is the only activity known). A member
*churned* when the purchases table has no purchase of theirs (refunded or not) in
[T, T + horizon). The prediction "score >= threshold at T" is then counted against it:
true and false positives, false negatives, true negatives, and precision and recall as
exact fractions (None when there is nothing to divide by).

A win-back coupon *reached* a member when the win-back job (domain/lifecycle/winback.py)
gave them a coupon in an episode (winback_episodes.coupon_id) issued after their last
purchase (or at all, if they never bought).

Everything is read once by domain/insight/rfm.py's `read` (which RFM shares) and the
win-back coupons a window of episode ids at a time; scoring runs in chunks with the
loop given a turn between two. Members who were erased are never scored.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import BigInteger, bindparam, func, select

from domain.config import Lifecycle, Programme
from domain.insight import rfm
from domain.insight.rfm import NEVER, Members, chunks
from domain.lifecycle.lifecycle import epoch_seconds, seconds
from domain.lifecycle.tables import WinBackEpisode
from domain.rewards.tables import Coupon
from domain.storage.database import UnitOfWork

THRESHOLD = 50  # lifecycle's lapsing point
TOP = 20
DAY_S = 86_400
EPISODE_WINDOW = 5000  # win-back episode ids a query reads

_E = WinBackEpisode.__table__
_C = Coupon.__table__
WINBACK_COUPONS = (select(_E.c.member_id, epoch_seconds(_C.c.issued_at))
                   .join(_C, _C.c.id == _E.c.coupon_id)
                   .where(_E.c.id > bindparam("b_low", type_=BigInteger()),
                          _E.c.id <= bindparam("b_high", type_=BigInteger())))


def lapse_point(first: int, last: int, purchases: int, rules: Lifecycle) -> int:
    """Seconds of idleness after which lifecycle calls the member lapsing (moments in
    whole seconds, NEVER for none)."""
    floor = rules.lapse_floor_days * DAY_S
    if purchases < 2 or first == NEVER or last == NEVER:
        return floor
    return max(rules.lapse_multiple * (last - first) // (purchases - 1), floor)


def risk(idle: int, lapse: int, churn: int) -> int:
    """The score of `idle` seconds for a member whose lapse point is `lapse` seconds,
    with the programme's churn point at `churn` seconds (the module's rule)."""
    if idle > churn:
        return 100
    if idle <= lapse:
        return 49 * max(idle, 0) // lapse
    return 50 + 50 * (idle - lapse) // (churn - lapse)


def scores(at: int, active: Iterable[int], first: Iterable[int], last: Iterable[int],
           purchases: Iterable[int], rules: Lifecycle) -> list[int]:
    """The scores as of `at` of members by their last activity, first and last purchase
    and purchases (in step): `risk` and `lapse_point` in one loop without a call per
    member, which a million members notice (tested to agree with them)."""
    floor, multiple = rules.lapse_floor_days * DAY_S, rules.lapse_multiple
    churn = rules.churn_days * DAY_S
    found: list[int] = []
    add = found.append
    for active_at, first_at, last_at, n in zip(active, first, last, purchases, strict=True):
        idle = at - active_at
        if idle > churn:
            add(100)
            continue
        lapse = floor
        if n > 1 and first_at != NEVER and last_at != NEVER:
            rhythm = multiple * (last_at - first_at) // (n - 1)
            if rhythm > floor:
                lapse = rhythm
        if idle <= lapse:
            add(49 * idle // lapse if idle > 0 else 0)
        else:
            add(50 + 50 * (idle - lapse) // (churn - lapse))
    return found


def usual_gap(first: int, last: int, purchases: int) -> int | None:
    """The usual interval between two purchases in seconds; None under two purchases."""
    if purchases < 2 or first == NEVER or last == NEVER:
        return None
    return (last - first) // (purchases - 1)


def _check(threshold: int) -> None:
    if not 0 <= threshold <= 100:
        raise ValueError(f"a threshold is a score from 0 to 100, not {threshold}")


@dataclass(frozen=True)
class AtRisk:
    member_id: int
    score: int
    idle_days: int  # whole days since their last activity
    usual_gap_days: int | None  # rounded to the nearest day; None under two purchases
    reachable: bool  # status "active": messages can reach them
    winback: bool  # a win-back coupon reached them since their last purchase


@dataclass(frozen=True)
class RiskScores:
    """Each scored member's score: member ids ascending, a byte each beside them."""

    ids: array[int]
    scores: bytes

    async def members_at_least(self, score: int) -> list[int]:
        """Ids of members scoring `score` or more, ascending (a campaign filter)."""
        mask = bytes(1 if s >= score else 0 for s in range(256))
        found: list[int] = []
        async for span in chunks(len(self.scores), rfm.CHUNK * 8):
            hits = self.scores[span.start:span.stop].translate(mask)
            i = hits.find(1)
            while i >= 0:
                found.append(self.ids[span.start + i])
                i = hits.find(1, i + 1)
        return found


@dataclass(frozen=True)
class RiskFigures:
    """The churn figures /segments shows as of `at`, and the nightly scoring keeps."""

    at: datetime
    threshold: int
    members: int  # scored: every member but the erased
    at_risk: int  # scoring `threshold` or more
    reached: int  # of those, how many a win-back coupon reached since their last purchase
    top: tuple[AtRisk, ...]  # highest score first, then longest idle, then lowest id


@dataclass(frozen=True)
class Risk(RiskFigures):
    """The figures, with every member's score."""

    bands: tuple[int, ...]  # members by score: 0-9, 10-19, ..., 90-99, and 100
    scores: RiskScores


async def winback_coupons(uow: UnitOfWork, size: int) -> array[int]:
    """When each member (by id, below `size`) was last given a win-back coupon, in whole
    seconds; NEVER for none."""
    given = array("q", [NEVER]) * size
    top = int(await uow.scalar(select(func.coalesce(func.max(_E.c.id), 0))))
    for low in range(0, top, EPISODE_WINDOW):
        for member_id, at in (await uow.execute(
                WINBACK_COUPONS, {"b_low": low, "b_high": low + EPISODE_WINDOW})).all():
            if member_id < size and at > given[member_id]:
                given[member_id] = at
    return given


async def at_risk(uow: UnitOfWork, programme: Programme, now: datetime, *,
                  top: int = TOP, threshold: int = THRESHOLD, reachable_only: bool = False,
                  members: Members | None = None, savable_only: bool = False) -> Risk:
    """Every member scored as of `now`, and the win-back coupons read from `uow`, best
    a snapshot (Database.snapshot). `members` is a reading already taken (rfm.read);
    else one is taken. `top` lists the members at highest risk (with `savable_only`,
    among those not churned yet, scoring under 100: the ones a win-back may still
    bring back), only those we can reach
    with `reachable_only`."""
    _check(threshold)
    if members is None:
        members = await rfm.read(uow)
    given = await winback_coupons(uow, members.top + 1)
    now_s = seconds(now)
    ids, active, firsts, lasts = (members.ids, members.last_active, members.first_purchase,
                                  members.last_purchase)
    counts, reachable = members.purchases, members.reachable
    scored = bytearray()
    tally = [0] * 101  # members by score
    reached = 0
    heap: list[tuple[int, int, int, int]] = []  # (score, idle, -member id, index)
    async for span in chunks(len(ids)):
        a, b = span.start, span.stop
        found = scores(now_s, active[a:b], firsts[a:b], lasts[a:b], counts[a:b],
                       programme.lifecycle)
        scored.extend(found)
        for i, score in enumerate(found, a):
            tally[score] += 1
            if score >= threshold and given[ids[i]] > lasts[i]:
                reached += 1
            if top and (len(heap) < top or score >= heap[0][0]) and (
                    not reachable_only or reachable[i]) and (
                    not savable_only or score < 100):
                entry = (score, now_s - active[i], -ids[i], i)
                if len(heap) < top:
                    heapq.heappush(heap, entry)
                elif entry > heap[0]:
                    heapq.heapreplace(heap, entry)
    listed = []
    for score, idle, _, i in sorted(heap, reverse=True):
        gap = usual_gap(firsts[i], lasts[i], counts[i])
        listed.append(AtRisk(
            member_id=ids[i], score=score, idle_days=max(idle, 0) // DAY_S,
            usual_gap_days=None if gap is None else (gap + DAY_S // 2) // DAY_S,
            reachable=bool(reachable[i]), winback=given[ids[i]] > lasts[i]))
    bands = tuple(sum(tally[low:low + 10]) for low in range(0, 101, 10))
    return Risk(at=now, threshold=threshold, members=len(ids),
                at_risk=sum(tally[threshold:]), reached=reached, bands=bands,
                top=tuple(listed), scores=RiskScores(ids, bytes(scored)))


# --- looking back ---------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """How the score at `as_of` foretold churn over [as_of, until): among members who
    had bought before `as_of`, "flagged" scored `threshold` or more then, "churned"
    bought nothing in [as_of, until)."""

    as_of: datetime
    until: datetime
    threshold: int
    members: int
    true_positives: int  # flagged and churned
    false_positives: int  # flagged, yet bought again
    false_negatives: int  # not flagged, yet churned
    true_negatives: int  # not flagged, and bought again

    @property
    def churned(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def flagged(self) -> int:
        return self.true_positives + self.false_positives

    @property
    def precision(self) -> Fraction | None:
        """Of the members flagged, the share who churned; None when none was flagged."""
        return Fraction(self.true_positives, self.flagged) if self.flagged else None

    @property
    def recall(self) -> Fraction | None:
        """Of the members who churned, the share flagged; None when none churned."""
        return Fraction(self.true_positives, self.churned) if self.churned else None


def look_back(programme: Programme, now: datetime,
              horizon_days: int | None = None) -> tuple[datetime, datetime]:
    """(T, T + horizon) of the look back ending `now`: what rfm.read needs to fold the
    purchases for `evaluate` into the same pass."""
    horizon = timedelta(days=horizon_days or programme.lifecycle.churn_days)
    until = now.replace(microsecond=0)  # whole seconds, as rfm.read takes them
    return until - horizon, until


async def evaluate(uow: UnitOfWork, programme: Programme, now: datetime, *,
                   horizon_days: int | None = None, threshold: int = THRESHOLD,
                   members: Members | None = None) -> Evaluation:
    """The look back ending `now` (the module's rule). `members` is a reading already
    taken with the same look back (rfm.read(uow, *look_back(...))); else one is taken."""
    _check(threshold)
    as_of, until = look_back(programme, now, horizon_days)
    if members is None:
        members = await rfm.read(uow, as_of, until)
    history = members.history
    if history is None or (history.as_of, history.until) != (as_of, until):
        raise ValueError("the reading was not taken for this look back")
    first, last, count, later = history.first, history.last, history.count, history.later
    at = seconds(history.as_of)
    tally = [0, 0, 0, 0]  # tp, fp, fn, tn
    ids = members.ids
    async for span in chunks(len(ids)):
        seen = [m for m in ids[span.start:span.stop] if count[m]]
        lasts = [last[m] for m in seen]
        found = scores(at, lasts, [first[m] for m in seen], lasts, [count[m] for m in seen],
                       programme.lifecycle)
        for member_id, score in zip(seen, found, strict=True):
            churned = not later[member_id]
            tally[(0 if churned else 1) if score >= threshold else (2 if churned else 3)] += 1
    return Evaluation(as_of, until, threshold, sum(tally), *tally)


# --- all of it, from one reading -------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    """What /segments shows: the figures without every member's scores, which the
    nightly scoring keeps (domain/insight/segment_reports.py)."""

    rfm: rfm.Figures
    risk: RiskFigures
    evaluation: Evaluation | None


@dataclass(frozen=True)
class Report:
    rfm: rfm.Rfm
    risk: Risk
    evaluation: Evaluation | None

    def summary(self) -> Summary:
        """The figures alone, without every member's scores."""
        f, r = self.rfm, self.risk
        return Summary(rfm.Figures(f.at, f.members, f.revenue, f.segments),
                       RiskFigures(r.at, r.threshold, r.members, r.at_risk, r.reached, r.top),
                       self.evaluation)


async def report(uow: UnitOfWork, programme: Programme, now: datetime, *,
                 top: int = TOP, threshold: int = THRESHOLD, reachable_only: bool = False,
                 evaluated: bool = True, horizon_days: int | None = None,
                 savable_only: bool = False) -> Report:
    """RFM, churn risk and (with `evaluated`) the look back, from one read of the members
    and one of the purchases. `uow` is best a snapshot (Database.snapshot)."""
    window = look_back(programme, now, horizon_days) if evaluated else (None, None)
    members = await rfm.read(uow, *window)
    return Report(
        rfm=await rfm.score(members, now),
        risk=await at_risk(uow, programme, now, top=top, threshold=threshold,
                           reachable_only=reachable_only, members=members,
                           savable_only=savable_only),
        evaluation=await evaluate(uow, programme, now, horizon_days=horizon_days,
                                  threshold=threshold, members=members)
        if evaluated else None)
