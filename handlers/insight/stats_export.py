"""/stats export: a period's figures and the period before's as a CSV document.

One row a figure: its code (stable, for a spreadsheet's formulas), its name in the
reader's language, its unit, then both periods; a figure /stats breaks down (by tier,
platform, stage) has a row a part. Counts, points and minor units are
whole numbers; a rate is a decimal fraction to four places, rounded half up from the
exact one. No member is named: there are only totals here. UTF-8 with a byte order
mark, so Excel opens Chinese names as Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from domain.config import Programme
from domain.insight import kpis
from domain.insight.kpis import Figures
from domain.insight.rollups import POINT_SOURCES
from handlers.engine import i18n
from handlers.engine.types import Text
from handlers.engine.words import tier_called
from handlers.insight.stats_lines import STAGES, net_average
from handlers.insight.words import rounded, worth

Figure = Callable[[Figures], int | Fraction | None]
Row = tuple[str, str | Text, str, Figure]  # code, name key or words, unit, how it is read


def rows(programme: Programme, platforms: Sequence[str] = ()) -> list[Row]:
    """(code, name key or words, unit, how it is read) of every figure exported: what
    /stats shows, part by part where it breaks a figure down."""
    minor = f"{programme.currency}/100"
    value = programme.insight.point_worth
    found: list[Row] = [
        ("members.total", "total", "members", lambda f: f.state("members.total")),
        ("members.new", "new", "members", lambda f: f.number("members.joined")),
        ("members.active", "active", "members", lambda f: f.active),
        ("members.reachable", "reachable", "members", lambda f: f.state("members.reachable")),
        *((f"members.tier.{t.code}", Text("stats.export.in", {
            "name": Text("stats.name.total"), "part": tier_called(programme.tiers, t.code)}),
           "members", lambda f, t=t.code: f.state("members.tier", t))
          for t in programme.tiers.levels),
        *((f"members.platform.{p}", Text("stats.export.in", {
            "name": Text("stats.name.total"), "part": Text(f"stats.platform.{p}")}),
           "members", lambda f, p=p: f.state("members.platform", p)) for p in platforms),
        *((f"members.stage.{s}", Text("stats.export.in", {
            "name": Text("stats.name.total"), "part": Text(f"stats.stage.{s}")}),
           "members", lambda f, s=s: f.state("members.stage", s)) for s in STAGES),
        ("sales.purchases", "purchases", "orders", lambda f: f.number("sales")),
        ("sales.buyers", "buyers", "members", lambda f: f.buyers),
        ("sales.gross", "gross", minor, lambda f: f.amount("sales")),
        ("sales.refunds", "refunds", minor, lambda f: f.amount("refunds")),
        ("sales.revenue", "revenue", minor, lambda f: f.revenue),
        ("sales.average_order", "average_order", minor, lambda f: _average(f)),
        *((f"sales.average_order.{t.code}", Text("stats.export.in", {
            "name": Text("stats.name.average_order"),
            "part": tier_called(programme.tiers, t.code)}), minor,
           lambda f, t=t.code: _average(f, t)) for t in programme.tiers.levels),
        ("sales.repeat_rate", "repeat_rate", "rate",
         lambda f: kpis.share(f.repeat_buyers, f.buyers)),
        ("sales.store_takings", "store_takings", minor, lambda f: f.takings),
        ("sales.store_days", "store_days", "days", lambda f: f.takings_days),
        ("sales.member_share", "member_share", "rate",
         lambda f: kpis.share(f.member_sales_on_takings_days, f.takings)),
        ("sales.stars", "stars", "stars", lambda f: f.stars),
        ("points.issued", "issued", "points", lambda f: f.issued),
    ]
    found += [(f"points.issued.{s}", f"source.{s}", "points",
               lambda f, s=s: f.amount("points.issued", s))  # type: ignore[misc]
              for s in POINT_SOURCES]
    found += [
        ("points.redeemed", "redeemed", "points", lambda f: f.amount("points.redeemed")),
        ("points.expired", "expired", "points", lambda f: f.amount("points.expired")),
        ("points.reversed", "reversed", "points", lambda f: f.amount("points.reversed")),
        ("points.redemption_rate", "redemption_rate", "rate",
         lambda f: kpis.share(f.amount("points.redeemed"), f.issued)),
        ("points.breakage", "breakage", "rate",
         lambda f: kpis.share(f.amount("points.expired"), f.issued)),
        ("points.outstanding", "outstanding", "points", lambda f: f.outstanding),
        ("points.liability", "liability", minor,
         lambda f: worth(f.outstanding, value, programme.currency).minor),
        ("engagement.checkins", "checkins", "check-ins", lambda f: f.number("checkins")),
        ("engagement.checkin_members", "checkin_members", "members",
         lambda f: f.checkin_members),
        ("engagement.streaks", "streaks", "check-ins", lambda f: f.number("checkins.streak7")),
        ("engagement.coupons_issued", "coupons_issued", "coupons",
         lambda f: f.number("coupons.issued")),
        ("engagement.coupons_used", "coupons_used", "coupons", lambda f: f.coupons_used),
        ("engagement.campaign_reached", "campaign_reached", "members",
         lambda f: f.campaign_reached),
        ("engagement.campaign_buyers", "campaign_buyers", "members",
         lambda f: f.campaign_buyers),
        ("engagement.surveys_sent", "surveys_sent", "surveys", lambda f: f.surveys_sent),
        ("engagement.surveys_completed", "surveys_completed", "surveys",
         lambda f: f.surveys_completed),
        ("engagement.referrals", "referrals", "members", lambda f: f.referrals),
    ]
    return found


def _average(figures: Figures, tier: str | None = None) -> int | None:
    found = net_average(figures, tier)
    return None if found is None else rounded(found)


def cell(value: int | Fraction | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        return str(exact.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    return str(value)


def csv_of(programme: Programme, this: Figures, last: Figures, locale: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    def say(key: str) -> str:
        return i18n.translate(Text(key), locale)

    writer.writerow([say("stats.export.code"), say("stats.export.name"),
                     say("stats.export.unit"), f"{this.period.first}..{this.period.last}",
                     f"{last.period.first}..{last.period.last}"])
    platforms = sorted({*this.states("members.platform"), *last.states("members.platform")})
    for code, name, unit, read in rows(programme, platforms):
        words = name if isinstance(name, Text) else Text(f"stats.name.{name}")
        writer.writerow([code, i18n.translate(words, locale), unit, cell(read(this)),
                         cell(read(last))])
    return ("\ufeff" + out.getvalue()).encode()
