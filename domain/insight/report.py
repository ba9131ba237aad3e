"""The weekly report: once a week, at `[insight] report_weekday` and `report_hour` in
the programme's zone, each operator who asked for it (/report on) is told the week's
figures against the week before, the three that changed most, and the main chart of
/stats.

Cheap for the scheduler: the figures are worked out once a week, not once a reader,
and only while some reader still lacks that week's report; each reader gets one notice
keyed `report:{ISO week}:{member}`, so however often, on however many schedulers or
after however many restarts the job runs, a reader is told once a week. The notice
carries the figures as numbers (handlers/insight/report.py words them and draws the
chart when it is sent) and the members by tier and RFM segment as last scored, which
the next week's report compares with.

Which changes are the biggest, as a rule:
- a figure's change is |now - was| / max(|now|, |was|), at most 1: relative to the
  larger week, so a rise and a fall by the same factor weigh the same, and to or from
  nothing counts 1; a rate's, of the rates;
- weighted by its base (the members, orders or records it counts, the larger week;
  a rate's, the smaller week's denominator): min(base, FULL_BASE) / FULL_BASE;
- a figure on a base under MIN_BASE, or that moved by less than MIN_CHANGE, is left
  out: 3 members becoming 6 says nothing;
- the TOP largest, ties to the larger base, then to the order of FIGURES.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, func, select

from domain.config import Programme
from domain.insight import kpis, rollups
from domain.insight.kpis import Figures
from domain.insight.periods import Period
from domain.insight.tables import InsightMemberScore, InsightReportReader
from domain.members.tables import Member
from domain.notices import announce
from domain.notices.tables import Notice
from domain.staff import roles
from domain.storage.database import Database, UnitOfWork

KEY = "report.weekly"  # the notice's translation key
PREFIX = "report:"  # of its idempotency key: report:2026-W10:17
PERMISSION = "insight"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What the main chart of /stats draws day by day (handlers/insight/stats_charts.py
# MEASURES; a test keeps them alike): read once here, as the chart is drawn when sent.
DAILY = ("members.joined", "sales", "refunds", "points.issued", "points.redeemed")
TOP = 3
MIN_BASE = 20
FULL_BASE = 100
MIN_CHANGE = Fraction(1, 10)
SEGMENT = "segment"  # the code of a change in the members of a tier and RFM segment
# How a figure reads: a number of members or records, money (minor units), points, a rate.
COUNT, MONEY, POINTS, RATE = "count", "money", "points", "rate"

Amount = Callable[[Figures], int]


def _number(measure: str) -> Amount:
    return lambda f: f.number(measure)


def _amount(measure: str) -> Amount:
    return lambda f: f.amount(measure)


def _field(name: str) -> Amount:
    return lambda f: int(getattr(f, name))


@dataclass(frozen=True)
class Figure:
    """One figure compared week on week: its value (a rate's part), a rate's whole, and
    the base its change is weighted by."""

    code: str  # its name in words: stats.name.{code}
    kind: str
    value: Amount
    base: Amount
    whole: Amount | None = None


FIGURES: tuple[Figure, ...] = (
    Figure("revenue", MONEY, lambda f: f.revenue, _number("sales")),
    Figure("purchases", COUNT, _number("sales"), _number("sales")),
    Figure("buyers", COUNT, _field("buyers"), _field("buyers")),
    Figure("repeat_rate", RATE, _field("repeat_buyers"), _field("buyers"), _field("buyers")),
    Figure("new", COUNT, _number("members.joined"), _number("members.joined")),
    Figure("active", COUNT, _field("active"), _field("active")),
    Figure("redemption_rate", RATE, _amount("points.redeemed"), _number("points.issued"),
           _amount("points.issued")),
    Figure("issued", POINTS, _amount("points.issued"), _number("points.issued")),
    Figure("redeemed", POINTS, _amount("points.redeemed"), _number("points.redeemed")),
    Figure("expired", POINTS, _amount("points.expired"), _number("points.expired")),
    Figure("checkins", COUNT, _number("checkins"), _number("checkins")),
    Figure("coupons_used", COUNT, _field("coupons_used"), _field("coupons_used")),
    Figure("campaigns", RATE, _field("campaign_buyers"), _field("campaign_reached"),
           _field("campaign_reached")),
    Figure("surveys", RATE, _field("surveys_completed"), _field("surveys_sent"),
           _field("surveys_sent")),
    Figure("referrals", COUNT, _field("referrals"), _field("referrals")),
)
KINDS = {f.code: f.kind for f in FIGURES} | {SEGMENT: COUNT}

Segments = dict[str, dict[str, int]]  # tier code ("" for none) -> RFM segment -> members


@dataclass(frozen=True)
class Change:
    """A figure this week against the week before; a rate as the exact fraction."""

    code: str  # a code of FIGURES, or SEGMENT
    was: Fraction
    now: Fraction
    base: int
    tier: str | None = None  # a SEGMENT change's tier and RFM segment
    segment: str | None = None

    @property
    def kind(self) -> str:
        return KINDS[self.code]

    @property
    def rose(self) -> bool:
        return self.now > self.was

    @property
    def size(self) -> Fraction:
        """The change relative to the larger week, at most 1."""
        larger = max(abs(self.now), abs(self.was))
        return min(Fraction(1), abs(self.now - self.was) / larger) if larger else Fraction(0)

    @property
    def score(self) -> Fraction:
        return self.size * Fraction(min(self.base, FULL_BASE), FULL_BASE)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "was": _pair(self.was),
                                "now": _pair(self.now), "base": self.base}
        if self.code == SEGMENT:
            data |= {"tier": self.tier, "segment": self.segment}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        return cls(str(data["code"]), Fraction(*data["was"]), Fraction(*data["now"]),
                   int(data["base"]), data.get("tier"), data.get("segment"))


def _pair(value: Fraction) -> list[int]:
    return [value.numerator, value.denominator]


def biggest(this: Figures, last: Figures, segments: Segments | None = None,
            segments_before: Segments | None = None, top: int = TOP) -> list[Change]:
    """The `top` changes that count most by the rule above; segments by tier only
    when both weeks have them (the nightly scoring ran before each report)."""
    found: list[tuple[int, Change]] = []
    for order, figure in enumerate(FIGURES):
        change = _compare(figure, this, last)
        if change is not None:
            found.append((order, change))
    if segments and segments_before:
        tiers = sorted(segments.keys() | segments_before.keys())
        for tier in tiers:
            now, was = segments.get(tier, {}), segments_before.get(tier, {})
            for segment in sorted(now.keys() | was.keys()):
                a, b = was.get(segment, 0), now.get(segment, 0)
                found.append((len(FIGURES), Change(SEGMENT, Fraction(a), Fraction(b),
                                                   max(a, b), tier, segment)))
    kept = [(order, c) for order, c in found
            if c.base >= MIN_BASE and c.size >= MIN_CHANGE]
    kept.sort(key=lambda item: (-item[1].score, -item[1].base, item[0]))
    return [c for _, c in kept[:top]]


def _compare(figure: Figure, this: Figures, last: Figures) -> Change | None:
    if figure.whole is None:
        return Change(figure.code, Fraction(figure.value(last)), Fraction(figure.value(this)),
                      max(figure.base(this), figure.base(last)))
    was_whole, now_whole = figure.whole(last), figure.whole(this)
    if not was_whole or not now_whole:
        return None
    return Change(figure.code, Fraction(figure.value(last), was_whole),
                  Fraction(figure.value(this), now_whole),
                  min(figure.base(this), figure.base(last)))


# Who reads it


async def subscribe(uow: UnitOfWork, member_id: int, now: datetime) -> bool:
    """True when the member did not read it before. The permission is the caller's to
    check; the job checks it again every week, so a revoked role stops the report."""
    stmt = (uow.upsert(InsightReportReader).values(member_id=member_id, since=now)
            .on_conflict_do_nothing(index_elements=["member_id"])
            .returning(InsightReportReader.member_id))
    return (await uow.session.execute(stmt)).scalar() is not None


async def unsubscribe(uow: UnitOfWork, member_id: int) -> bool:
    """True when the member read it until now."""
    return bool(await uow.changed(delete(InsightReportReader)
                                  .where(InsightReportReader.member_id == member_id)))


async def reads(uow: UnitOfWork, member_id: int) -> bool:
    return await uow.session.get(InsightReportReader, member_id) is not None


async def readers(uow: UnitOfWork) -> list[int]:
    """Those who asked for it and still hold the permission, in id order."""
    allowed = set(await roles.holders(uow, PERMISSION))
    listed = await uow.session.scalars(select(InsightReportReader.member_id)
                                       .order_by(InsightReportReader.member_id))
    return [m for m in listed if m in allowed]


# Which week


def week_of(programme: Programme, now: datetime) -> Period:
    """The seven days the latest report due by `now` covers: the week before its day.
    A run late, made up, or asked for on another day finds the same week."""
    local = now.astimezone(programme.zone)
    rules = programme.insight
    back = (local.weekday() - WEEKDAYS.index(rules.report_weekday)) % 7
    if back == 0 and local.hour < rules.report_hour:
        back = 7
    day = local.date() - timedelta(days=back)
    return Period(day - timedelta(days=7), day - timedelta(days=1))


def label(period: Period) -> str:
    """The ISO week the period starts in, "2026-W10": one a report, as they are a week
    apart, and in order as text."""
    year, week, _ = period.first.isocalendar()
    return f"{year}-W{week:02d}"


def notice_key(week: str, member_id: int) -> str:
    return f"{PREFIX}{week}:{member_id}"


# What it says


@dataclass(frozen=True)
class Week:
    """A report's figures, as the notice carries them."""

    week: str
    this: Figures
    last: Figures
    daily: dict[tuple[date, str], list[int]]  # the chart's days (kpis.daily)
    changes: tuple[Change, ...]
    segments: Segments  # as scored when it was made: next week compares with them

    def params(self) -> dict[str, Any]:
        """The notice's parameters: JSON, dates tagged as handlers/notices reads them,
        so even a plain rendering of the notice can name the week."""
        first, last = self.this.period.first, self.this.period.last
        return {
            "first": {"$date": first.isoformat()}, "last": {"$date": last.isoformat()},
            "typed": f"{first.isoformat()} {last.isoformat()}",
            "figures": {
                "week": self.week, "this": figures_json(self.this),
                "last": figures_json(self.last),
                "daily": [[d.isoformat(), m, a, n] for (d, m), (a, n) in
                          sorted(self.daily.items())],
                "changes": [c.as_json() for c in self.changes],
                "segments": self.segments}}

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> Week:
        data = params["figures"]
        return cls(
            str(data["week"]), figures_from(data["this"]), figures_from(data["last"]),
            {(date.fromisoformat(d), str(m)): [int(a), int(n)] for d, m, a, n in data["daily"]},
            tuple(Change.from_json(c) for c in data["changes"]),
            {str(t): {str(s): int(n) for s, n in by.items()}
             for t, by in data["segments"].items()})


_SPECIAL = ("period", "days", "standing", "standing_at", "extra")


def figures_json(f: Figures) -> dict[str, Any]:
    """Figures as JSON numbers; every plain whole-number field is carried by name."""
    data: dict[str, Any] = {
        "first": f.period.first.isoformat(), "last": f.period.last.isoformat(),
        "days": [[m, d, a, n] for (m, d), (a, n) in sorted(f.days.items())],
        "standing": None if f.standing is None else
        [[m, d, v] for (m, d), v in sorted(f.standing.items())],
        "standing_at": f.standing_at.isoformat() if f.standing_at else None}
    for item in fields(Figures):
        if item.name not in _SPECIAL:
            data[item.name] = int(getattr(f, item.name))
    return data


def figures_from(data: Mapping[str, Any]) -> Figures:
    plain: dict[str, Any] = {item.name: int(data.get(item.name, 0)) for item in fields(Figures)
                             if item.name not in _SPECIAL}
    standing = data.get("standing")
    at = data.get("standing_at")
    return Figures(
        period=Period(date.fromisoformat(data["first"]), date.fromisoformat(data["last"])),
        days={(str(m), str(d)): [int(a), int(n)] for m, d, a, n in data["days"]},
        standing=None if standing is None else
        {(str(m), str(d)): int(v) for m, d, v in standing},
        standing_at=datetime.fromisoformat(at) if at else None, **plain)


_SEGMENTS = (select(Member.tier, InsightMemberScore.segment, func.count())
             .join(Member, Member.id == InsightMemberScore.member_id)
             .where(InsightMemberScore.segment.is_not(None), Member.status != "erased")
             .group_by(Member.tier, InsightMemberScore.segment))


async def segments_now(uow: UnitOfWork) -> Segments:
    """The members by tier and RFM segment, as the nightly scoring left them."""
    found: Segments = {}
    for tier, segment, members in await uow.execute(_SEGMENTS):
        by_segment = found.setdefault(tier or "", {})  # no tier: ""
        by_segment[str(segment)] = by_segment.get(str(segment), 0) + int(members)
    return found


async def segments_before(uow: UnitOfWork, week: str) -> Segments:
    """The segments the latest report before `week` carried (any reader's: they are
    alike); none when no report went out before."""
    params = await uow.scalar(
        select(Notice.params).where(Notice.key == KEY, Notice.idempotency_key >= PREFIX,
                                    Notice.idempotency_key < f"{PREFIX}{week}")
        .order_by(Notice.idempotency_key.desc()).limit(1))
    if not params:
        return {}
    return Week.read(params).segments


async def compute(uow: UnitOfWork, programme: Programme, period: Period,
                  now: datetime) -> Week:
    """The week's figures, the week before's, the chart's days and the changes: one
    reading of the roll-ups' tail for all of them."""
    tail = await rollups.tail(uow, programme.zone, await rollups.marks(uow))
    this = await kpis.figures(uow, programme, period, now, tail)
    last = await kpis.figures(uow, programme, period.before(), now, tail)
    daily = await kpis.daily(uow, period, tail, DAILY)
    week = label(period)
    segments = await segments_now(uow)
    changes = biggest(this, last, segments, await segments_before(uow, week))
    return Week(week, this, last, daily, tuple(changes), segments)


# The job


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    """Queue this week's report for every reader who has not had it. Nothing is worked
    out when all have (the job run again, on another scheduler, after a restart)."""
    period = week_of(programme, now)
    week = label(period)
    async with db.uow() as uow:
        listed = await readers(uow)
        keys = {notice_key(week, m): m for m in listed}
        had = set(await uow.session.scalars(
            select(Notice.idempotency_key).where(Notice.idempotency_key.in_(list(keys))))
        ) if keys else set()
    wanting = [m for key, m in keys.items() if key not in had]
    if not wanting:
        return {"readers": len(listed), "queued": 0}
    async with db.snapshot() as snapshot:
        made = await compute(snapshot, programme, period, now)
    params = made.params()
    async with db.uow() as uow:
        await announce.tell_many(uow, [(m, KEY, params, notice_key(week, m))
                                       for m in wanting], now)
        await uow.commit()
    return {"readers": len(listed), "queued": len(wanting)}
