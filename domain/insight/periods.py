"""The periods figures are asked for, in days of the programme's zone, each compared
with the period of the same length just before it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

NAMED = ("today", "7d", "30d", "month", "quarter")
LONGEST = 3 * 366  # days a period may span: a figure over more says little


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def before(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]


def named(word: str, today: date) -> Period | None:
    """'today', '7d', '30d', 'month' (this month so far), 'quarter' (so far); None for
    any other word."""
    if word == "today":
        return Period(today, today)
    if word in ("7d", "30d"):
        return Period(today - timedelta(days=int(word[:-1]) - 1), today)
    if word == "month":
        return Period(today.replace(day=1), today)
    if word == "quarter":
        return Period(date(today.year, (today.month - 1) // 3 * 3 + 1, 1), today)
    return None


class PeriodRefused(ValueError):
    def __init__(self, code: str, word: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.word = word  # what was typed, where that is what is wrong


def between(first: date, last: date, today: date) -> Period:
    """FROM TO as typed: both days count; refused when backwards, in the future or
    too long."""
    if last < first:
        raise PeriodRefused("backwards")
    if first > today:
        raise PeriodRefused("future")
    period = Period(first, min(last, today))
    if period.days > LONGEST:
        raise PeriodRefused("too_long")
    return period
