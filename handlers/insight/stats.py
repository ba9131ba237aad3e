"""/stats [period]: the programme's figures against the period before, with charts;
/stats export [period]: the same figures as a CSV document.

A period is `today`, `7d`, `30d` (the default), `month`, `quarter` or two dates. The
figures are read in the long read (Ctx.read), from the roll-ups and what came after
them (domain/insight/kpis.py). Operators and up; every export is audited.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from domain.config import Programme
from domain.insight import cohorts, kpis, periods, rollups
from domain.insight.kpis import Figures
from domain.insight.periods import Period, PeriodRefused
from domain.staff import audit
from domain.storage.database import UnitOfWork
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Money, Reply, Text, reply
from handlers.engine.words import tier_called
from handlers.insight import stats_charts, stats_export
from handlers.insight.words import (
    average,
    change,
    percent,
    period_words,
    rate_change,
    worth,
)
from handlers.staff.roles import denied

PERMISSION = "insight"
DEFAULT = "30d"
DAY = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
router = Router()
router.staff_line("command.stats.export", "/stats export", "operator")


@router.command("stats", role="operator")
async def stats_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    words = unicodedata.normalize("NFKC", ctx.arg).lower().split()
    exporting = bool(words) and words[0] == "export"
    asked = words[1:] if exporting else words
    today = ctx.now.astimezone(ctx.programme.zone).date()
    try:
        name, period = read_period(asked, today)
    except PeriodRefused as refused:
        return Outcome([reply(f"stats.period_{refused.code}", longest=periods.LONGEST)])
    if period is None:
        return Outcome([reply("stats.usage")])

    async def read(uow: UnitOfWork) -> tuple[Figures, Figures, stats_charts.Daily,
                                              cohorts.Grid]:
        zone = ctx.programme.zone
        tail = await rollups.tail(uow, zone, await rollups.marks(uow))
        this = await kpis.figures(uow, ctx.programme, period, ctx.now, tail)
        last = await kpis.figures(uow, ctx.programme, period.before(), ctx.now, tail)
        return (this, last, await stats_charts.series(uow, period, tail),
                await cohorts.grid(uow, zone, today, tail))

    key = f"stats:{period.first}:{period.last}"
    this, last, over_time, grid = await ctx.read(key, read)
    if exporting:
        await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "stats.export",
                           f"{period.first}..{period.last}", {"locale": ctx.locale}, ctx.now)
        data = stats_export.csv_of(ctx.programme, this, last, ctx.locale)
        return Outcome([Reply("stats.exported", {"period": period_words(name, period)},
                              file=(f"stats-{period.first}-{period.last}.csv", data))])
    images = await stats_charts.draw(ctx.programme, this, over_time, grid, ctx.locale)
    text = Reply("stats.figures", {
        "period": period_words(name, period), "before": period_words(None, last.period),
        "members": member_lines(ctx.programme, this, last),
        "sales": sales_lines(ctx.programme, this, last),
        "points": points_lines(ctx.programme, this, last),
        "engagement": engagement_lines(this, last)}, image=images[0])
    return Outcome([text, *(Reply(f"stats.caption.{name}", {}, image=image)
                            for name, image in zip(("points", "tiers", "cohorts"), images[1:],
                                                   strict=True))])


def read_period(words: list[str], today: date) -> tuple[str | None, Period | None]:
    """The period asked for, with its name when it has one; (None, None) when the words
    are not a period at all."""
    if not words:
        return DEFAULT, periods.named(DEFAULT, today)
    if len(words) == 1:
        return words[0], periods.named(words[0], today)
    if len(words) == 2:
        days = [_day(word) for word in words]
        if days[0] is not None and days[1] is not None:
            return None, periods.between(days[0], days[1], today)
    return None, None


def _day(word: str) -> date | None:
    found = DAY.fullmatch(word)
    if found is None:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def _line(name: str, value: object, was: Text | str = "") -> Text:
    return Text("stats.line", {"name": Text(f"stats.name.{name}"), "value": value,
                               "change": was})


def member_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    total, reachable = this.state("members.total"), this.state("members.reachable")
    lines = [
        _line("total", total if total is not None else "—",
              change(total, last.state("members.total")) if total is not None else ""),
        _line("new", this.number("members.joined"),
              change(this.number("members.joined"), last.number("members.joined"))),
        _line("active", this.active, change(this.active, last.active)),
        _line("reachable", reachable if reachable is not None else "—",
              change(reachable, last.state("members.reachable"))
              if reachable is not None else ""),
    ]
    ladder = programme.tiers
    tiers = this.states("members.tier")
    lines.append(_block("by_tier", [(tier_called(ladder, t.code), tiers.get(t.code, 0))
                                    for t in ladder.levels]))
    platforms = this.states("members.platform")
    lines.append(_block("by_platform", [(Text(f"stats.platform.{p}"), n)
                                        for p, n in sorted(platforms.items())]))
    stages = this.states("members.stage")
    lines.append(_block("by_stage", [(Text(f"campaign.stage.{s}"), stages.get(s, 0))
                                     for s in ("new", "active", "lapsing", "churned")]))
    return lines


def _block(name: str, pairs: Sequence[tuple[object, object]]) -> Text:
    """A figure broken down, one part a line below its name."""
    items = [Text("stats.pair", {"name": part, "value": value}) for part, value in pairs]
    return Text("stats.block", {"name": Text(f"stats.name.{name}"),
                                "items": items or "  —"})


def sales_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    money = programme.currency
    orders, before = this.number("sales"), last.number("sales")
    by_tier = this.by("sales")
    ladder = programme.tiers
    return [
        _line("purchases", orders, change(orders, before)),
        _line("buyers", this.buyers, change(this.buyers, last.buyers)),
        _line("revenue", Money(this.revenue, money), change(this.revenue, last.revenue, money)),
        _line("refunds", Money(this.amount("refunds"), money)),
        _line("average_order", average(this.amount("sales"), orders, money),
              _average_change(last, money)),
        _block("average_by_tier", [
            (tier_called(ladder, t.code), average(*_pair(by_tier[t.code]), money))
            for t in ladder.levels if t.code in by_tier]),
        _line("repeat_rate", percent(kpis.share(this.repeat_buyers, this.buyers)),
              rate_change(kpis.share(last.repeat_buyers, last.buyers))),
        _line("member_share", _member_share(this), rate_change(
            kpis.share(last.member_sales_on_takings_days, last.takings))
            if last.takings_days else ""),
    ]


def _member_share(figures: Figures) -> Text:
    """Members' sales against the tills' takings, over the days the tills reported."""
    if not figures.takings_days:
        return Text("stats.no_takings")
    return Text("stats.member_share", {
        "share": percent(kpis.share(figures.member_sales_on_takings_days, figures.takings)),
        "reported": figures.takings_days, "days": figures.period.days})


def _pair(figure: list[int]) -> tuple[int, int]:
    return figure[0], figure[1]


def _average_change(last: Figures, money: str) -> Text | str:
    orders = last.number("sales")
    return Text("stats.was", {"was": average(last.amount("sales"), orders, money)}) \
        if orders else ""


def points_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    issued, redeemed = this.issued, this.amount("points.redeemed")
    expired = this.amount("points.expired")
    sources = this.by("points.issued")
    return [
        _line("issued", issued, change(issued, last.issued)),
        _block("issued_by", [(Text(f"stats.name.source.{s}"), sources[s][0])
                             for s in rollups.POINT_SOURCES if s in sources]),
        _line("redeemed", redeemed, change(redeemed, last.amount("points.redeemed"))),
        _line("expired", expired, change(expired, last.amount("points.expired"))),
        _line("redemption_rate", percent(kpis.share(redeemed, issued)),
              rate_change(kpis.share(last.amount("points.redeemed"), last.issued))),
        _line("breakage", percent(kpis.share(expired, issued))),
        _line("outstanding", this.outstanding, change(this.outstanding, last.outstanding)),
        _line("liability", worth(this.outstanding, programme.insight.point_worth,
                                 programme.currency)),
    ]


def engagement_lines(this: Figures, last: Figures) -> list[Text]:
    checkins = this.number("checkins")
    return [
        _line("checkins", Text("stats.checkins", {
            "checkins": checkins, "members": this.checkin_members,
            "share": percent(kpis.share(this.checkin_members, this.active))}),
            change(checkins, last.number("checkins"))),
        _line("streaks", this.number("checkins.streak7")),
        _line("coupons", Text("stats.coupons", {"issued": this.number("coupons.issued"),
                                                "used": this.coupons_used})),
        _line("campaigns", _of(this.campaign_buyers, this.campaign_reached, "stats.none_reached")),
        _line("surveys", _of(this.surveys_completed, this.surveys_sent, "stats.none_sent")),
        _line("referrals", this.referrals, change(this.referrals, last.referrals)),
    ]


def _of(part: int, whole: int, none: str) -> Text:
    if not whole:
        return Text(none)
    return Text("stats.of", {"share": percent(kpis.share(part, whole)), "whole": whole})
