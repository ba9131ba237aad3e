"""/stats export: a period's figures and the period before's as a CSV document.

One row a figure: its code (stable, for a spreadsheet's formulas), its name in the
reader's language, its unit, then both periods. Counts, points and minor units are
whole numbers; a rate is a decimal fraction to four places, rounded half up from the
exact one. No member is named: there are only totals here. UTF-8 with a byte order
mark, so Excel opens Chinese names as Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from domain.config import Programme
from domain.insight import kpis
from domain.insight.kpis import Figures
from domain.insight.rollups import POINT_SOURCES
from handlers.engine import i18n
from handlers.engine.types import Text

Figure = Callable[[Figures], int | Fraction | None]


def rows(programme: Programme) -> list[tuple[str, str, str, Figure]]:
    """(code, name key, unit, how it is read) of every figure exported."""
    minor = f"{programme.currency}/100"
    found: list[tuple[str, str, str, Figure]] = [
        ("members.total", "total", "members", lambda f: f.state("members.total")),
        ("members.new", "new", "members", lambda f: f.number("members.joined")),
        ("members.active", "active", "members", lambda f: f.active),
        ("members.reachable", "reachable", "members", lambda f: f.state("members.reachable")),
        ("sales.purchases", "purchases", "orders", lambda f: f.number("sales")),
        ("sales.buyers", "buyers", "members", lambda f: f.buyers),
        ("sales.gross", "gross", minor, lambda f: f.amount("sales")),
        ("sales.refunds", "refunds", minor, lambda f: f.amount("refunds")),
        ("sales.revenue", "revenue", minor, lambda f: f.revenue),
        ("sales.repeat_rate", "repeat_rate", "rate",
         lambda f: kpis.share(f.repeat_buyers, f.buyers)),
        ("sales.store_takings", "store_takings", minor, lambda f: f.takings),
        ("sales.store_days", "store_days", "days", lambda f: f.takings_days),
        ("sales.member_share", "member_share", "rate",
         lambda f: kpis.share(f.member_sales_on_takings_days, f.takings)),
        ("points.issued", "issued", "points", lambda f: f.issued),
    ]
    found += [(f"points.issued.{s}", f"source.{s}", "points",
               lambda f, s=s: f.amount("points.issued", s)) for s in POINT_SOURCES]  # type: ignore[misc]
    found += [
        ("points.redeemed", "redeemed", "points", lambda f: f.amount("points.redeemed")),
        ("points.expired", "expired", "points", lambda f: f.amount("points.expired")),
        ("points.redemption_rate", "redemption_rate", "rate",
         lambda f: kpis.share(f.amount("points.redeemed"), f.issued)),
        ("points.breakage", "breakage", "rate",
         lambda f: kpis.share(f.amount("points.expired"), f.issued)),
        ("points.outstanding", "outstanding", "points", lambda f: f.outstanding),
        ("engagement.checkins", "checkins", "check-ins", lambda f: f.number("checkins")),
        ("engagement.checkin_members", "checkin_members", "members",
         lambda f: f.checkin_members),
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
    writer.writerow(["figure", i18n.translate(Text("stats.export.name"), locale), "unit",
                     f"{this.period.first}..{this.period.last}",
                     f"{last.period.first}..{last.period.last}"])
    for code, name, unit, read in rows(programme):
        writer.writerow([code, i18n.translate(Text(f"stats.name.{name}"), locale), unit,
                         cell(read(this)), cell(read(last))])
    return ("\ufeff" + out.getvalue()).encode()
