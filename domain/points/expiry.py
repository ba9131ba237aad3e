"""When earned points expire, from the programme's policy."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, time

from domain.config import Expiry, Programme


def expires_at(policy: Expiry, programme: Programme, earned_at: datetime) -> datetime | None:
    if policy.policy == "never":
        return None
    local = earned_at.astimezone(programme.zone)
    if policy.policy == "end_of_next_year":
        boundary = datetime(local.year + 2, 1, 1, tzinfo=programme.zone)
        return boundary.astimezone(UTC)
    return add_months(local, policy.months).astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day-of-month `months` later, clamped (31 Jan + 1 month = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return datetime.combine(moment.date().replace(year=year, month=month, day=day),
                            time(moment.hour, moment.minute, moment.second), moment.tzinfo)
