"""The tills' daily takings from every customer: what members' share of revenue in
/stats is a share of. Reported once a day per store day; a day reported again is
corrected, so a till that resends after a timeout, or fixes its total, changes one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from domain.config import Programme
from domain.errors import Refused
from domain.insight.periods import Period
from domain.insight.tables import StoreTakings
from domain.storage.database import UnitOfWork

MAX_AMOUNT = 10**15  # minor units in a day: far past any store, far from overflowing
MAX_ORDERS = 10**9


class TakingsRefused(Refused):
    pass


@dataclass(frozen=True)
class Reported:
    day: date
    amount: int
    orders: int
    corrected: bool  # the day had been reported before


async def report(uow: UnitOfWork, programme: Programme, day: date, amount: int, orders: int,
                 currency: str, now: datetime) -> Reported:
    if currency != programme.currency:
        raise TakingsRefused("wrong_currency", expected=programme.currency)
    if not 0 <= amount <= MAX_AMOUNT:
        raise TakingsRefused("invalid_amount", most=MAX_AMOUNT)
    if not 0 <= orders <= MAX_ORDERS:
        raise TakingsRefused("invalid_orders", most=MAX_ORDERS)
    if day > now.astimezone(programme.zone).date():
        raise TakingsRefused("day_in_future")
    table = StoreTakings.__table__
    before = await uow.scalar(select(table.c.day).where(table.c.day == day))
    insert = uow.upsert(table).values(day=day, amount=amount, orders=orders, reported_at=now)
    await uow.execute(insert.on_conflict_do_update(
        index_elements=["day"], set_={"amount": amount, "orders": orders, "reported_at": now}))
    return Reported(day, amount, orders, corrected=before is not None)


async def in_period(uow: UnitOfWork, period: Period) -> dict[date, int]:
    """Each reported day's takings in the period, minor units."""
    table = StoreTakings.__table__
    return {day: int(amount) for day, amount in await uow.execute(
        select(table.c.day, table.c.amount).where(table.c.day >= period.first,
                                                  table.c.day <= period.last))}
