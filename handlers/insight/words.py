"""How figures read: percentages from exact fractions, a change against the period
before, money from minor units, a period in words."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from babel.numbers import get_currency_precision

from domain.insight.periods import Period
from handlers.engine.types import Money, Text

PERIOD_KEYS = {"today": "stats.period.today", "7d": "stats.period.days",
               "30d": "stats.period.days", "month": "stats.period.month",
               "quarter": "stats.period.quarter"}


def percent(part: Fraction | None) -> str:
    """'41%', '4.5%', '0.3%': a tenth where the whole number would say too little;
    '—' when there is nothing to divide by. Rounded half up from the exact fraction."""
    if part is None:
        return "—"
    hundred = Decimal(part.numerator * 100) / Decimal(part.denominator)
    places = Decimal("1") if abs(hundred) >= 10 or hundred == 0 else Decimal("0.1")
    shown = hundred.quantize(places, rounding=ROUND_HALF_UP)
    return f"{shown.normalize():f}%" if places == Decimal("0.1") else f"{shown}%"


def rounded(part: Fraction) -> int:
    """The nearest whole number, halves away from zero."""
    return int((Decimal(part.numerator) / Decimal(part.denominator)).quantize(
        Decimal("1"), rounding=ROUND_HALF_UP))


def average(minor: int, orders: int, currency: str) -> Money | str:
    return Money(rounded(Fraction(minor, orders)), currency) if orders else "—"


def worth(points: int, point_value: Decimal, currency: str) -> Money:
    """What points stand for in money: the programme states one point's value."""
    minor = Decimal(points) * point_value * (Decimal(10) ** get_currency_precision(currency))
    return Money(int(minor.quantize(Decimal("1"), rounding=ROUND_HALF_UP)), currency)


def change(now: int, was: int | None, money: str | None = None) -> Text | str:
    """' (was 41, +27%)'; ' (was 0)' where a percentage would mean nothing; nothing
    when there is no earlier figure."""
    if was is None:
        return ""
    before: int | Money = Money(was, money) if money else was
    if was == 0:
        return Text("stats.was", {"was": before})
    diff = percent(Fraction(now - was, abs(was)))
    return Text("stats.was_change", {"was": before,
                                     "diff": diff if diff.startswith("-") else "+" + diff})


def rate_change(now: Fraction | None, was: Fraction | None) -> Text | str:
    """' (was 41%, -13 pts)': a rate's change in percentage points."""
    if was is None:
        return ""
    if now is None:
        return Text("stats.was", {"was": percent(was)})
    points = percent(now - was)[:-1]  # the difference, in points
    return Text("stats.was_points", {"was": percent(was),
                                     "diff": points if points.startswith("-") else "+" + points})


def period_words(name: str | None, period: Period) -> Text:
    key = PERIOD_KEYS.get(name or "", "stats.period.day" if period.days == 1
                          else "stats.period.between")
    return Text(key, {"first": period.first, "last": period.last, "days": period.days})


def day_label(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"
