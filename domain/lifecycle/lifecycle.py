"""Lifecycle stages: new, active, lapsing, churned.

A member is "new" for `new_days` after joining. After that, what counts is how long
they have been idle, `now - last_active_at` (a purchase moves `last_active_at` too, so
idle means no message and no purchase): "churned" when idle longer than `churn_days`,
"lapsing" when idle longer than their own usual purchase interval times
`lapse_multiple`, and never less than `lapse_floor_days`; otherwise "active". The usual
interval is (last purchase - first purchase) / (purchases - 1), so a weekly customer
lapses after three weeks of silence only if the floor allows it, a monthly one after
three months; with fewer than two purchases the floor applies.

`stage_of` decides for one member in Python; `stage_clause` is the same rule as SQL
over the members table, for selections (win-back, campaign segments). They compare the
interval in whole seconds with integer arithmetic, so they agree to the second. The
lapsing clause is a range on `last_active_at` (indexed) plus a residual test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import BigInteger, Integer, and_, bindparam, case, false, func, not_, or_, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from domain.config import Lifecycle
from domain.members.tables import Member
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime

Stage = Literal["new", "active", "lapsing", "churned"]
STAGES: tuple[Stage, ...] = ("new", "active", "lapsing", "churned")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class Activity(Protocol):
    """What the stage reads of a member (a Member, or a row with these columns)."""

    joined_at: datetime
    last_active_at: datetime
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    purchase_count: int


def seconds(moment: datetime) -> int:
    """Whole seconds since 1970, rounded down, as the SQL side computes them."""
    return (moment - EPOCH) // SECOND


def usual_interval(member: Activity) -> timedelta | None:
    if member.purchase_count < 2 or not (member.first_purchase_at and member.last_purchase_at):
        return None
    span = seconds(member.last_purchase_at) - seconds(member.first_purchase_at)
    return timedelta(seconds=span / (member.purchase_count - 1))


def stage_of(member: Activity, rules: Lifecycle, now: datetime) -> Stage:
    if member.joined_at > now - timedelta(days=rules.new_days):
        return "new"
    if member.last_active_at < now - timedelta(days=rules.churn_days):
        return "churned"
    first, last = member.first_purchase_at, member.last_purchase_at
    if member.last_active_at < now - timedelta(days=rules.lapse_floor_days) and (
            member.purchase_count < 2 or first is None or last is None  # no usual interval
            or (seconds(now) - seconds(member.last_active_at)) * (member.purchase_count - 1)
            > rules.lapse_multiple * (seconds(last) - seconds(first))):
        return "lapsing"
    return "active"


class epoch_seconds(FunctionElement):  # noqa: N801 - reads as the SQL function it is
    """Whole seconds since 1970 of a UTC timestamp column, on either backend."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; SQLite would round the fraction to
    # milliseconds, so the whole seconds are cut off first.
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)"


def stage_clause(stage: Stage, rules: Lifecycle, now: datetime,
                 table: Any = None) -> ColumnElement[bool]:
    """SQL for "this member is in `stage` at `now`", over `table` (the members table
    or an alias of it)."""
    m = (table if table is not None else Member.__table__).c
    at = UTCDateTime()

    def before(days: int) -> Any:
        return bindparam(None, now - timedelta(days=days), type_=at)

    new = m.joined_at > before(rules.new_days)
    churned = m.last_active_at < before(rules.churn_days)
    no_interval = or_(m.purchase_count < 2, m.first_purchase_at.is_(None),
                      m.last_purchase_at.is_(None))
    idle = bindparam(None, seconds(now), type_=BigInteger()) - epoch_seconds(m.last_active_at)
    beyond_interval = (idle * (m.purchase_count - 1)
                       > rules.lapse_multiple * (epoch_seconds(m.last_purchase_at)
                                                 - epoch_seconds(m.first_purchase_at)))
    # The range on last_active_at is what an index serves; the rest is checked per row.
    lapsing = and_(m.last_active_at < before(rules.lapse_floor_days),
                   m.last_active_at >= before(rules.churn_days),
                   not_(new), or_(no_interval, beyond_interval))
    if stage == "new":
        return new
    if stage == "churned":
        return and_(not_(new), churned)
    if stage == "lapsing":
        return lapsing
    if stage == "active":
        return and_(not_(new), not_(churned), not_(lapsing))
    return false()


# --- purchase statistics -----------------------------------------------------------

_M = Member.__table__
_now = bindparam("b_now", type_=UTCDateTime())
PURCHASED = (update(_M).where(_M.c.id == bindparam("b_member")).values(
    purchase_count=_M.c.purchase_count + bindparam("b_orders", type_=Integer()),
    first_purchase_at=func.coalesce(_M.c.first_purchase_at, _now),
    last_purchase_at=case((or_(_M.c.last_purchase_at.is_(None), _M.c.last_purchase_at < _now),
                           _now), else_=_M.c.last_purchase_at),
    last_active_at=case((_M.c.last_active_at < _now, _now), else_=_M.c.last_active_at)))


async def purchased(uow: UnitOfWork, orders: dict[int, int], now: datetime) -> None:
    """Members bought (member id -> new orders): count them, and a purchase is activity.
    Refunds leave these alone: the visit happened."""
    rows = [{"b_member": member_id, "b_orders": n, "b_now": now}
            for member_id, n in orders.items()]
    if rows:
        await uow.execute(PURCHASED, rows[0] if len(rows) == 1 else rows)
