"""The lines of /stats and of the weekly report: each figure of a period beside the
same figure of the period before, with the change (a count or money by how much in
per cent, a rate by how many points), and broken-down figures part by part.

Money averages are of revenue after refunds, as the revenue line is, so the two read
together; so is members' share of the tills' takings.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from domain.config import Programme
from domain.insight import kpis, rollups
from domain.insight.kpis import Figures
from handlers.engine.types import Money, Text
from handlers.engine.words import tier_called
from handlers.insight.words import change, percent, rate_change, rounded, worth

STAGES = ("new", "active", "lapsing", "churned")


def _line(name: str, value: object, was: Text | str = "") -> Text:
    return Text("stats.line", {"name": Text(f"stats.name.{name}"), "value": value,
                               "change": was})


def _block(name: str, parts: Sequence[tuple[object, object, Text | str]]) -> Text:
    """A figure broken down, one part a line below its name, each with its change."""
    items = [Text("stats.pair", {"name": part, "value": value, "change": was})
             for part, value, was in parts]
    return Text("stats.block", {"name": Text(f"stats.name.{name}"),
                                "items": items or "  —"})


def _states(this: Figures, last: Figures, measure: str,
            names: Sequence[tuple[str, object]]) -> list[tuple[object, object, Text | str]]:
    now, before = this.states(measure), last.states(measure) if last.standing else None
    return [(label, now.get(code, 0),
             change(now.get(code, 0), before.get(code, 0)) if before is not None else "")
            for code, label in names]


def member_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    total, reachable = this.state("members.total"), this.state("members.reachable")
    joined = this.number("members.joined")
    ladder = programme.tiers
    return [
        _line("total", "—" if total is None else total,
              "" if total is None else change(total, last.state("members.total"))),
        _line("new", joined, change(joined, last.number("members.joined"))),
        _line("active", this.active, change(this.active, last.active)),
        _line("reachable", "—" if reachable is None else reachable,
              "" if reachable is None else change(reachable,
                                                  last.state("members.reachable"))),
        _block("by_tier", _states(this, last, "members.tier", [
            (t.code, tier_called(ladder, t.code)) for t in ladder.levels])),
        _block("by_platform", _states(this, last, "members.platform", [
            (p, Text(f"stats.platform.{p}")) for p in sorted(this.states("members.platform"))])),
        _block("by_stage", _states(this, last, "members.stage", [
            (s, Text(f"stats.stage.{s}")) for s in STAGES])),
    ]


def net_average(figures: Figures, tier: str | None = None) -> Fraction | None:
    """Revenue after refunds per order, exactly; None without orders."""
    orders = figures.number("sales", tier)
    if not orders:
        return None
    return Fraction(figures.amount("sales", tier) - figures.amount("refunds", tier), orders)


def _money_change(now: Fraction | None, was: Fraction | None, money: str) -> Text | str:
    if now is None or was is None:
        return ""
    return change(rounded(now), rounded(was), money)


def sales_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    money = programme.currency
    orders = this.number("sales")
    ladder = programme.tiers
    tiers = [t.code for t in ladder.levels if this.number("sales", t.code)]

    def avg(figures: Figures, tier: str | None = None) -> Money | str:
        found = net_average(figures, tier)
        return "—" if found is None else Money(rounded(found), money)

    return [
        _line("purchases", orders, change(orders, last.number("sales"))),
        _line("buyers", this.buyers, change(this.buyers, last.buyers)),
        _line("revenue", Money(this.revenue, money), change(this.revenue, last.revenue, money)),
        _line("refunds", Money(this.amount("refunds"), money),
              change(this.amount("refunds"), last.amount("refunds"), money)),
        _line("average_order", avg(this),
              _money_change(net_average(this), net_average(last), money)),
        _block("average_by_tier", [
            (tier_called(ladder, t), avg(this, t),
             _money_change(net_average(this, t), net_average(last, t), money))
            for t in tiers]),
        _line("repeat_rate", percent(kpis.share(this.repeat_buyers, this.buyers)),
              rate_change(kpis.share(this.repeat_buyers, this.buyers),
                          kpis.share(last.repeat_buyers, last.buyers))),
        _line("member_share", member_share(this),
              rate_change(_share(this), _share(last)) if last.takings_days else ""),
        *([_line("stars", Text("stats.stars", {"stars": this.stars}),
                 change(this.stars, last.stars))]
          if programme.membership.plans or this.stars or last.stars else []),
    ]


def _share(figures: Figures) -> Fraction | None:
    return kpis.share(figures.member_sales_on_takings_days, figures.takings)


def member_share(figures: Figures) -> Text:
    """Members' revenue against the tills' takings, over the days the tills reported."""
    if not figures.takings_days:
        return Text("stats.no_takings")
    share = _share(figures)
    key = "stats.member_share_over" if share is not None and share > 1 else \
        "stats.member_share"
    return Text(key, {"share": percent(share), "reported": figures.takings_days,
                      "days": figures.period.days})


def points_lines(programme: Programme, this: Figures, last: Figures) -> list[Text]:
    issued, was_issued = this.issued, last.issued
    sources, before = this.by("points.issued"), last.by("points.issued")
    value, money = programme.insight.point_worth, programme.currency

    def moved(measure: str, name: str) -> Text:
        return _line(name, this.amount(measure), change(this.amount(measure),
                                                         last.amount(measure)))

    def rate(measure: str, name: str) -> Text:
        now = kpis.share(this.amount(measure), issued)
        return _line(name, percent(now),
                     rate_change(now, kpis.share(last.amount(measure), was_issued)))

    liability, was_liability = (worth(f.outstanding, value, money) for f in (this, last))
    return [
        _line("issued", issued, change(issued, was_issued)),
        _block("issued_by", [
            (Text(f"stats.name.source.{s}"), sources[s][0],
             change(sources[s][0], before.get(s, [0])[0]))
            for s in rollups.POINT_SOURCES if s in sources]),
        moved("points.redeemed", "redeemed"),
        moved("points.expired", "expired"),
        moved("points.reversed", "reversed"),
        rate("points.redeemed", "redemption_rate"),
        rate("points.expired", "breakage"),
        _line("outstanding", this.outstanding, change(this.outstanding, last.outstanding)),
        _line("liability", liability,
              change(liability.minor, was_liability.minor, money)),
    ]


def engagement_lines(this: Figures, last: Figures) -> list[Text]:
    checkins = this.number("checkins")

    def counted(name: str, now: int, was: int) -> Text:
        return _line(name, now, change(now, was))

    return [
        _line("checkins", Text("stats.checkins", {
            "checkins": checkins, "members": this.checkin_members,
            "share": percent(kpis.share(this.checkin_members, this.active))}),
            change(checkins, last.number("checkins"))),
        counted("streaks", this.number("checkins.streak7"), last.number("checkins.streak7")),
        counted("coupons_issued", this.number("coupons.issued"),
                last.number("coupons.issued")),
        counted("coupons_used", this.coupons_used, last.coupons_used),
        _line("campaigns", _of(this.campaign_buyers, this.campaign_reached,
                               "stats.none_reached"),
              rate_change(kpis.share(this.campaign_buyers, this.campaign_reached),
                          kpis.share(last.campaign_buyers, last.campaign_reached))),
        _line("surveys", _of(this.surveys_completed, this.surveys_sent, "stats.none_sent"),
              rate_change(kpis.share(this.surveys_completed, this.surveys_sent),
                          kpis.share(last.surveys_completed, last.surveys_sent))),
        counted("referrals", this.referrals, last.referrals),
    ]


def _of(part: int, whole: int, none: str) -> Text:
    if not whole:
        return Text(none)
    return Text("stats.of", {"share": percent(kpis.share(part, whole)), "part": part,
                             "whole": whole})
