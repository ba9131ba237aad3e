"""The charts under /stats: new members and revenue over the period, points issued
against redeemed, and the members by tier. A day a point up to a month, a week (from
Monday) up to half a year, a month beyond, so a chart never has too many to read.
Every chart draws even for a programme of three members opened today: operators try
/stats first on a new programme."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from babel.numbers import get_currency_precision

from domain.config import Programme
from domain.insight import cohorts, kpis
from domain.insight.kpis import Figures
from domain.insight.periods import Period
from domain.insight.rollups import Tally
from domain.storage.database import UnitOfWork
from handlers.engine import charts, i18n
from handlers.engine.chart_kinds import Grid, Lines, Paired, Series
from handlers.engine.charts import Bars, Label
from handlers.engine.types import Text
from handlers.engine.words import tier_called
from handlers.insight.words import day_label, rounded

Daily = dict[tuple[date, str], list[int]]
MEASURES = ("members.joined", "sales", "refunds", "points.issued", "points.redeemed")
BLUE, ORANGE, GREEN, GREY = "#4a7bd0", "#e08a2c", "#3a9d5d", "#9aa5b1"


async def series(uow: UnitOfWork, period: Period, tail: Tally) -> Daily:
    return await kpis.daily(uow, period, tail, MEASURES)


def buckets(period: Period) -> list[tuple[date, date]]:
    """The chart's points: (first day, last day) of each."""
    days = period.dates()
    if period.days <= 31:
        return [(d, d) for d in days]
    starts = [d for d in days if (d.weekday() == 0 if period.days <= 184 else d.day == 1)]
    if not starts or starts[0] != period.first:
        starts.insert(0, period.first)
    ends = [s - timedelta(days=1) for s in starts[1:]] + [period.last]
    return list(zip(starts, ends, strict=True))


def bucket_label(first: date, period: Period) -> str:
    return f"{first.year}-{first.month:02d}" if period.days > 184 else day_label(first)


def _sum(daily: Daily, measure: str, first: date, last: date, which: int = 0) -> int:
    return sum(v[which] for (d, m), v in daily.items() if m == measure and first <= d <= last)


def _say(key: str, locale: str) -> Label:
    return Label(i18n.translate(Text(key), locale), i18n.translate(Text(key), "en"))


def retention(grid: cohorts.Grid, locale: str) -> Grid:
    """Each cohort's active members as a percent of those who joined that month, from
    the first month anyone joined (a programme opened in March has no rows before)."""
    start = next((i for i, size in enumerate(grid.sizes) if size), len(grid.sizes) - 1)
    cells = tuple(
        tuple(None if n is None or not size else rounded(Fraction(100 * n, size)) for n in row)
        for size, row in zip(grid.sizes[start:], grid.active[start:], strict=True))
    return Grid(title=_say("stats.chart.retention", locale),
                rows=tuple(f"{c.year}-{c.month:02d}" for c in grid.cohorts[start:]),
                columns=tuple(str(k) for k in range(len(grid.cohorts))), cells=cells,
                row_label=_say("stats.chart.joined", locale),
                column_label=_say("stats.chart.months_since", locale))


def build(programme: Programme, this: Figures, daily: Daily,
          locale: str) -> list[Bars | Lines | Paired]:
    period = this.period
    spans = buckets(period)
    x = tuple(bucket_label(first, period) for first, _ in spans)
    unit = 10 ** get_currency_precision(programme.currency)
    joined = tuple(_sum(daily, "members.joined", a, b, 1) for a, b in spans)
    revenue = tuple((_sum(daily, "sales", a, b) - _sum(daily, "refunds", a, b)) // unit
                    for a, b in spans)
    over_time = Lines(
        title=_say("stats.chart.members_revenue", locale), x=x,
        series=(Series(_say("stats.chart.new_members", locale), joined, BLUE),
                Series(Label(i18n.translate(Text("stats.chart.revenue", {
                    "currency": programme.currency}), locale), "revenue"),
                    revenue, ORANGE, right=True)),
        y_label=_say("stats.chart.members_axis", locale),
        right_label=Label(programme.currency, programme.currency))
    points = Paired(
        title=_say("stats.chart.points", locale), x=x,
        groups=(Series(_say("stats.chart.issued", locale),
                       tuple(_sum(daily, "points.issued", a, b) for a, b in spans), GREEN),
                Series(_say("stats.chart.redeemed", locale),
                       tuple(_sum(daily, "points.redeemed", a, b) for a, b in spans), ORANGE)))
    ladder = programme.tiers.levels
    held = this.states("members.tier")
    tiers = Bars(
        title=_say("stats.chart.tiers", locale),
        labels=tuple(Label(i18n.translate(tier_called(programme.tiers, t.code), locale),
                           t.code) for t in ladder),
        values=tuple(held.get(t.code, 0) for t in ladder),
        notes=tuple(str(held.get(t.code, 0)) for t in ladder), horizontal=True)
    return [over_time, points, tiers]


async def draw(programme: Programme, this: Figures, daily: Daily, grid: cohorts.Grid,
               locale: str) -> list[bytes]:
    return (await charts.draw_all([*build(programme, this, daily, locale),
                                   retention(grid, locale)])).images
