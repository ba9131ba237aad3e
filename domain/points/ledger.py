"""The points ledger: append-only entries, one per movement, each with a unique key.

`members.points_balance` and `members.next_expiry_at` are caches of the ledger,
changed in the same transaction as the entry. A debit is one conditional UPDATE:
it succeeds only when the balance covers it and no lot has expired unwritten, so
the balance can never go negative and never spends expired points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy import BigInteger, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain import monitoring
from domain.errors import InsufficientPoints, InvalidAmount, UnknownMember
from domain.members.tables import Member
from domain.points import lots
from domain.points.tables import LedgerEntry
from domain.storage.database import DIALECTS, UnitOfWork, upsert
from domain.storage.tables import UTCDateTime

Kind = Literal["earn", "redeem", "expire", "adjust", "reverse"]
MAX_DELTA = 1_000_000_000


@dataclass(frozen=True)
class Post:
    """A command to move points. `key` makes it happen at most once, ever."""

    member_id: int
    delta: int
    kind: Kind
    reason: str
    key: str
    source: str = "bot"
    params: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    lot_id: int | None = None
    qualifying: int = 0
    spend: int = 0


@dataclass(frozen=True)
class Posted:
    entry_id: int | None
    balance: int
    duplicate: bool


# Built once: rebuilding these per call cost more than the database work itself.
# Bind parameters are typed, so timestamps go through UTCDateTime on every backend
# (an untyped datetime reaches PostgreSQL as timestamptz and shifts with the session zone).
_E, _M = LedgerEntry.__table__, Member.__table__
_AT = UTCDateTime()
_amount = bindparam("b_amount", type_=BigInteger)
_expires = bindparam("b_expires", type_=_AT)
_by_member = _M.c.id == bindparam("b_member")
INSERT_ONCE = {
    name: dialect.insert(_E).on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_E.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
CREDIT = (update(_M).where(_by_member)
          .values(points_balance=_M.c.points_balance + _amount)
          .returning(_M.c.points_balance))
CREDIT_EXPIRING = (
    update(_M).where(_by_member)
    .values(points_balance=_M.c.points_balance + _amount,
            next_expiry_at=case((_M.c.next_expiry_at.is_(None), _expires),
                                (_M.c.next_expiry_at > _expires, _expires),
                                else_=_M.c.next_expiry_at))
    .returning(_M.c.points_balance))
# Refuses while any lot has expired unwritten, so expired points are never spent.
DEBIT = (update(_M)
         .where(_by_member, _M.c.points_balance >= _amount,
                or_(_M.c.next_expiry_at.is_(None),
                    _M.c.next_expiry_at > bindparam("b_now", type_=_AT)))
         .values(points_balance=_M.c.points_balance - _amount)
         .returning(_M.c.points_balance))
DEBIT_NOW = (update(_M).where(_by_member, _M.c.points_balance >= _amount)
             .values(points_balance=_M.c.points_balance - _amount)
             .returning(_M.c.points_balance))


async def post(uow: UnitOfWork, cmd: Post, now: datetime) -> Posted:
    """Apply one movement. The key is claimed first: a key seen before changes nothing.

    Writes go through Core, so a Member already loaded in the session keeps its old
    balance: use the returned `Posted.balance`, or refresh the member.
    """
    if (cmd.delta == 0 and not (cmd.qualifying or cmd.spend)) or abs(cmd.delta) > MAX_DELTA:
        raise InvalidAmount(delta=cmd.delta)
    if cmd.delta < 0:
        return await _post_debit(uow, cmd, now)
    entry_id = await _append(uow, cmd, now)
    if entry_id is None or cmd.delta == 0:
        # No points move, only what counts towards a tier: a refund of points that were
        # spent already still takes back its qualifying points and spend.
        return Posted(entry_id, await balance_of(uow, cmd.member_id),
                      duplicate=entry_id is None)
    if cmd.expires_at is not None:
        balance = await _scalar(uow, CREDIT_EXPIRING, b_member=cmd.member_id,
                                b_amount=cmd.delta, b_expires=cmd.expires_at)
    else:
        balance = await _scalar(uow, CREDIT, b_member=cmd.member_id, b_amount=cmd.delta)
    if balance is None:
        raise UnknownMember(member_id=cmd.member_id)
    _report(uow, "issued", cmd.delta)
    return Posted(entry_id, balance, duplicate=False)


# A debit's kind as operators count it: anything else taken back is "reversed".
_DEBITS: dict[str, monitoring.Movement] = {"redeem": "redeemed", "expire": "expired"}


def _report(uow: UnitOfWork, movement: monitoring.Movement, points: int) -> None:
    """Count points moved once the transaction commits (monitoring), when watched."""
    if points and monitoring.watched():
        uow.after_commit(partial(monitoring.points_moved, movement, points))


async def _post_debit(uow: UnitOfWork, cmd: Post, now: datetime) -> Posted:
    """A debit can be refused after its entry is written; the savepoint takes the entry
    back with it, so a caller that catches the refusal and commits leaves no trace."""
    async with uow.savepoint():
        entry_id = await _append(uow, cmd, now)
        if entry_id is None:
            return Posted(None, await balance_of(uow, cmd.member_id), duplicate=True)
        balance = await _debit(uow, cmd.member_id, -cmd.delta, now)
        if balance is None:
            raise UnknownMember(member_id=cmd.member_id)
        _report(uow, _DEBITS.get(cmd.kind, "reversed"), -cmd.delta)
        return Posted(entry_id, balance, duplicate=False)


async def _scalar(uow: UnitOfWork, stmt: Any, **params: Any) -> Any:
    return await uow.scalar(stmt, params)


async def _append(uow: UnitOfWork, cmd: Post, now: datetime) -> int | None:
    return await _scalar(
        uow, INSERT_ONCE[uow.dialect], member_id=cmd.member_id, delta=cmd.delta, kind=cmd.kind,
        reason=cmd.reason, params=cmd.params, source=cmd.source, idempotency_key=cmd.key,
        created_at=now, expires_at=cmd.expires_at if cmd.delta > 0 else None,
        lot_id=cmd.lot_id, qualifying=cmd.qualifying, spend=cmd.spend,
    )


async def _debit(uow: UnitOfWork, member_id: int, amount: int, now: datetime) -> int | None:
    balance = await _scalar(uow, DEBIT, b_member=member_id, b_amount=amount, b_now=now)
    if balance is not None:
        return balance
    member = await _lock(uow, member_id)
    if member is None:
        return None
    if member.next_expiry_at is not None and member.next_expiry_at <= now:
        await write_off(uow, member_id, now)
        balance = await _scalar(uow, DEBIT_NOW, b_member=member_id, b_amount=amount)
        if balance is not None:
            return balance
        member = await _lock(uow, member_id)
        if member is None:
            return None
    raise InsufficientPoints(balance=member.points_balance, needed=amount)


async def _lock(uow: UnitOfWork, member_id: int) -> Member | None:
    # NO KEY UPDATE: our own ledger inserts hold KEY SHARE on this row through the
    # foreign key, and a plain FOR UPDATE would deadlock against them. Flush first:
    # populate_existing would otherwise drop changes not yet written (a profile edit).
    await uow.flush()
    stmt = (
        select(Member).where(Member.id == member_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return await uow.session.scalar(stmt)


async def settle(uow: UnitOfWork, member: Member, now: datetime) -> int:
    """The balance a member may spend now: writes off anything already expired first,
    so no screen shows points that are gone."""
    if member.next_expiry_at is not None and member.next_expiry_at <= now:
        await write_off(uow, member.id, now)
    return await balance_of(uow, member.id)


_BALANCE = select(_M.c.points_balance).where(_by_member)
_MOVEMENTS = select(_E.c.id, _E.c.delta, _E.c.created_at, _E.c.expires_at,
                    _E.c.lot_id).where(_E.c.member_id == bindparam("b_member"))
_COUNT = select(func.count()).select_from(_E).where(_E.c.member_id == bindparam("b_member"))
_RECENT = (select(LedgerEntry).where(LedgerEntry.member_id == bindparam("b_member"))
           .order_by(LedgerEntry.id.desc()).limit(bindparam("b_limit"))
           .offset(bindparam("b_offset")))
_PAGE = (select(*_E.c, func.count().over().label("total"))
         .where(_E.c.member_id == bindparam("b_member"))
         .order_by(_E.c.id.desc()).limit(bindparam("b_limit"))
         .offset(bindparam("b_offset")))


async def balance_of(uow: UnitOfWork, member_id: int) -> int:
    value = await _scalar(uow, _BALANCE, b_member=member_id)
    if value is None:
        raise UnknownMember(member_id=member_id)
    return value


async def movements(uow: UnitOfWork, member_id: int) -> list[lots.Movement]:
    rows = await uow.execute(_MOVEMENTS, {"b_member": member_id})
    return [lots.Movement(*row) for row in rows]


async def write_off(uow: UnitOfWork, member_id: int, now: datetime) -> int:
    """Expire what is due for one member, oldest first. Keyed per lot, so re-running is a no-op."""
    member = await _lock(uow, member_id)
    if member is None:
        raise UnknownMember(member_id=member_id)
    open_lots = lots.replay(await movements(uow, member_id))
    expired = 0
    for lot in lots.due(open_lots, now):
        entry_id = await _append(uow, Post(
            member_id=member_id, delta=-lot.remaining, kind="expire", reason="expired",
            key=f"expire:{lot.id}", source="expiry", lot_id=lot.id,
            params={"earned_at": lot.created_at.isoformat()},
        ), now)
        if entry_id is not None:
            expired += lot.remaining
            lot.remaining = 0
    await uow.session.execute(
        update(Member).where(Member.id == member_id).values(
            points_balance=Member.points_balance - expired,
            next_expiry_at=lots.next_expiry(open_lots),
        )
    )
    _report(uow, "expired", expired)
    return expired


@dataclass(frozen=True)
class Expiring:
    points: int
    on: datetime


def may_expire_within(member: Member, now: datetime, days: int) -> bool:
    """False when no points can expire within `days`, so the ledger need not be replayed.

    `next_expiry_at` is never later than any open lot's expiry: credits lower it, debits
    leave it, and a write-off moves it only later. So a member loaded before any credit
    in this transaction answers safely."""
    soonest = member.next_expiry_at
    return soonest is not None and soonest <= now + timedelta(days=days)


async def expiring_soon(uow: UnitOfWork, member_id: int, now: datetime,
                        days: int) -> list[Expiring]:
    """Points that will expire within `days`, grouped by moment, soonest first."""
    horizon = now + timedelta(days=days)
    grouped: dict[datetime, int] = {}
    for lot in lots.replay(await movements(uow, member_id)):
        if lot.remaining and lot.expires_at and now < lot.expires_at <= horizon:
            grouped[lot.expires_at] = grouped.get(lot.expires_at, 0) + lot.remaining
    return [Expiring(points, on) for on, points in sorted(grouped.items())]


async def recent(uow: UnitOfWork, member_id: int, limit: int, offset: int = 0) -> list[LedgerEntry]:
    rows = await uow.session.scalars(_RECENT, {"b_member": member_id, "b_limit": limit,
                                               "b_offset": offset})
    return list(rows)


async def page(uow: UnitOfWork, member_id: int, limit: int,
               offset: int = 0) -> tuple[list[Any], int]:
    """A page of entries, newest first, and how many there are in all: one query, as
    a statement asks for both on every page. Plain rows with the entry's fields (an
    ORM load cost more than the query), read-only as entries are."""
    rows = (await uow.execute(_PAGE, {"b_member": member_id, "b_limit": limit,
                                      "b_offset": offset})).all()
    if rows:
        return list(rows), rows[0].total
    return [], await count(uow, member_id) if offset else 0


async def count(uow: UnitOfWork, member_id: int) -> int:
    return await _scalar(uow, _COUNT, b_member=member_id) or 0


_QUALIFYING = {
    basis: select(func.coalesce(func.sum(column), 0)).where(
        _E.c.member_id == bindparam("b_member"), _E.c.created_at > bindparam("b_since", type_=_AT))
    for basis, column in (("points", _E.c.qualifying), ("spend", _E.c.spend))
}


async def qualifying_total(uow: UnitOfWork, member_id: int, since: datetime, basis: str) -> int:
    total = await _scalar(uow, _QUALIFYING[basis], b_member=member_id, b_since=since)
    # Reversals can outlive the purchase they reverse in the window; never below zero.
    return max(int(total or 0), 0)


_INSERT_MANY = {
    dialect: upsert(dialect, _E).on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_E.c.id, _E.c.idempotency_key)
    for dialect in DIALECTS
}
_CREDIT_MANY = (update(_M).where(_M.c.id == bindparam("b_member"))
                .values(points_balance=_M.c.points_balance + _amount))
_CREDIT_MANY_EXPIRING = (
    update(_M).where(_M.c.id == bindparam("b_member"))
    .values(points_balance=_M.c.points_balance + _amount,
            next_expiry_at=case((or_(_M.c.next_expiry_at.is_(None),
                                     _M.c.next_expiry_at > _expires), _expires),
                                else_=_M.c.next_expiry_at)))


_INSERT_ROWS = _E.insert()


async def post_credits(uow: UnitOfWork, cmds: list[Post], now: datetime,
                       fresh: bool = False) -> dict[str, int | None]:
    """The bulk sibling of `post`, for credits only (a purchase's rules, an import): the
    same rows with the same unique keys, in one INSERT, and each member's caches moved
    once. A key seen before is skipped. Returns the key (and entry id) of every row
    written. With `fresh`, the caller has claimed the keys already (their orders are
    new in this transaction): a repeated key is then an IntegrityError, not a skip, and
    the faster plain INSERT returns no ids."""
    if not cmds:
        return {}
    if any(c.delta <= 0 or c.delta > MAX_DELTA for c in cmds):
        raise InvalidAmount(delta=next(c.delta for c in cmds if c.delta <= 0 or
                                       c.delta > MAX_DELTA))
    rows = [dict(member_id=c.member_id, delta=c.delta, kind=c.kind, reason=c.reason,
                 params=c.params, source=c.source, idempotency_key=c.key, created_at=now,
                 expires_at=c.expires_at, lot_id=c.lot_id, qualifying=c.qualifying,
                 spend=c.spend) for c in cmds]
    written: dict[str, int | None]
    if fresh:
        await uow.execute(_INSERT_ROWS, rows)
        written = dict.fromkeys((c.key for c in cmds), None)
    else:
        written = {key: entry_id for entry_id, key in
                   await uow.execute(_INSERT_MANY[uow.dialect], rows)}
    moved: dict[int, tuple[int, datetime | None]] = {}
    for c in cmds:
        if c.key in written:
            total, soonest = moved.get(c.member_id, (0, None))
            if c.expires_at is not None and (soonest is None or c.expires_at < soonest):
                soonest = c.expires_at
            moved[c.member_id] = (total + c.delta, soonest)
    if moved:
        for stmt, expiring in ((_CREDIT_MANY_EXPIRING, True), (_CREDIT_MANY, False)):
            params = [{"b_member": m, "b_amount": total, "b_expires": soonest}
                      for m, (total, soonest) in moved.items() if (soonest is not None) == expiring]
            if params:
                await uow.execute(stmt, params)
        _report(uow, "issued", sum(total for total, _ in moved.values()))
    return written

