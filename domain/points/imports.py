"""Back-office imports of purchases, a batch per transaction.

The caller sizes batches so each transaction fits the backend's slice
(domain.storage.turns): on SQLite a batch holds the loop and the file's write lock.

Each batch costs a handful of statements, not a handful per row: orders already
recorded are found in one query and skipped (reported as conflicts when the same id
comes with other contents), members in one query each way they are
named, every rule's points go through `ledger.post_credits` with the keys the API
uses (`purchase:<order>:<rule>`), and the touched members' tiers are evaluated once.
A bad row is reported with a code and the values behind it (the caller words them)
and never stops the rest. A phone comes normalised (E.164, `profile.parse_phone`), as
members' phones are stored, so it is found by an exact match on the members.phone index;
one that two members gave is refused. A batch that races a till for one of its orders
fails whole (IntegrityError) and is run again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from domain.config import Programme
from domain.lifecycle import lifecycle
from domain.members import referrals
from domain.members.tables import Identity, Member
from domain.membership import passes
from domain.points import ledger, purchases
from domain.points.expiry import expires_at
from domain.points.purchases import Order, PurchaseRefused
from domain.points.tables import Purchase
from domain.storage import turns
from domain.storage.database import UnitOfWork
from domain.tiers import upgrades


@dataclass(frozen=True)
class Row:
    line: int
    order: Order
    # {"number": ...} | {"phone": E.164} | {"platform": ..., "external_id": ...}
    member: dict[str, str]


@dataclass(frozen=True)
class Rejection:
    line: int
    code: str  # what is wrong
    params: dict[str, Any] = field(default_factory=dict)  # expected and found values


@dataclass
class Tally:
    imported: int = 0
    skipped: int = 0
    points: int = 0
    rejected: list[Rejection] = field(default_factory=list)


# What `purchases.check` found, for each refusal: reported beside what it expected.
_FOUND = {"invalid_order_id": "order_id", "wrong_currency": "currency",
          "invalid_amount": "amount", "too_many_items": "items"}
_CHUNK = 1000  # values per IN (...): well under every backend's parameter limit


_NEW_PURCHASES = insert(Purchase.__table__)


async def import_batch(uow: UnitOfWork, programme: Programme, rows: Sequence[Row],
                       now: datetime) -> Tally:
    tally = Tally()
    valid: list[Row] = []
    for row in rows:
        try:
            purchases.check(row.order, programme)
        except PurchaseRefused as refused:
            got = getattr(row.order, _FOUND.get(refused.code, ""), None)
            if isinstance(got, tuple):  # the items: how many
                got = len(got)
            tally.rejected.append(Rejection(row.line, refused.code, {
                "order_id": row.order.order_id, **refused.params, "got": got}))
            continue
        valid.append(row)
    ids, shared = await _resolve(uow, valid)
    done = {row.order_id: tuple(row[1:]) for row in await uow.session.execute(
        select(Purchase.order_id, Purchase.member_id, Purchase.amount, Purchase.items)
        .where(Purchase.order_id.in_([r.order.order_id for r in valid])))}
    bought = set(await uow.session.scalars(select(Purchase.member_id).distinct().where(
        Purchase.member_id.in_(set(ids.values())))))
    found = {m.id: m for m in await uow.session.execute(
        select(*upgrades.STANDING, passes.active_plan(Member.id).label("paid_plan"))
        .where(Member.id.in_(set(ids.values()))))}
    cmds: list[ledger.Post] = []
    values: list[dict] = []
    firsts: list[int] = []
    touched: Counter[int] = Counter()
    expiry = expires_at(programme.expiry, programme, now)
    async for row in turns.paced(valid):  # on PostgreSQL a batch may be large
        member_id = ids.get(row.line)
        if member_id is None:
            params = {"order_id": row.order.order_id, **row.member}
            if row.line in shared:
                tally.rejected.append(Rejection(row.line, "shared_phone", {
                    **params, "members": shared[row.line]}))
            else:
                tally.rejected.append(Rejection(row.line, "unknown_member", params))
            continue
        contents = (member_id, row.order.amount, [vars(i) for i in row.order.items])
        if row.order.order_id in done:  # the same order again, or another under its id
            if done[row.order.order_id] == contents:
                tally.skipped += 1
            else:
                tally.rejected.append(Rejection(row.line, "order_conflict",
                                                {"order_id": row.order.order_id}))
            continue
        done[row.order.order_id] = contents
        standing, first = found[member_id], member_id not in bought
        if first:
            bought.add(member_id)
            firsts.append(member_id)
        plan = purchases.plan_for(programme, standing.tier, row.order, first, now,
                                  paid_plan=standing.paid_plan)
        cmds.extend(purchases.earn_posts(programme, member_id, row.order, plan, now, expiry))
        points = sum(e.points for e in plan)
        values.append(dict(order_id=row.order.order_id, member_id=member_id,
                           amount=row.order.amount, currency=row.order.currency,
                           items=[vars(i) for i in row.order.items], points=points,
                           entries=[[e.points, e.reason, e.rule] for e in plan], refunded=0,
                           source="import", created_at=now))
        tally.points += points
        touched[member_id] += 1
    # The orders were not there when read above; one that a till records meanwhile
    # (PostgreSQL) makes these INSERTs fail, and the caller runs the batch again.
    if values:
        await uow.execute(_NEW_PURCHASES, values)
    await ledger.post_credits(uow, cmds, now, fresh=True)
    await lifecycle.purchased(uow, touched, now)
    tally.imported = len(values)
    for member_id in firsts:
        if found[member_id].referred_by_id is not None:
            member = await uow.session.get(Member, member_id)
            assert member is not None  # found above, in this transaction
            await referrals.on_first_purchase(uow, programme, member, now)
    await upgrades.reevaluate_many(uow, programme, set(touched), now)
    return tally


async def _resolve(uow: UnitOfWork, rows: list[Row]) -> tuple[dict[int, int], dict[int, int]]:
    """Line -> member id, for the rows whose member exists and is not erased; and line
    -> how many members, for the rows whose phone more than one member gave."""
    numbers = {int(r.member["number"]) for r in rows if "number" in r.member
               and r.member["number"].isascii() and r.member["number"].isdigit()
               and len(r.member["number"]) <= 18}
    phones = {r.member["phone"] for r in rows if "phone" in r.member}
    live = Member.status != "erased"
    by_number: set[int] = set()
    for chunk in _chunks(sorted(numbers)):
        by_number.update(await uow.session.scalars(select(Member.id).where(
            Member.id.in_(chunk), live)))
    by_phone: dict[str | None, set[int]] = {}
    for chunk in _chunks(sorted(phones)):
        for member_id, phone in await uow.session.execute(
                select(Member.id, Member.phone).where(Member.phone.in_(chunk), live)):
            by_phone.setdefault(phone, set()).add(member_id)
    out: dict[int, int] = {}
    shared: dict[int, int] = {}
    for row in rows:
        ref = row.member
        if "number" in ref and ref["number"].isdigit() and int(ref["number"]) in by_number:
            out[row.line] = int(ref["number"])
        elif "phone" in ref:
            owners = set(by_phone.get(ref["phone"], ()))
            if len(owners) == 1:
                out[row.line] = owners.pop()
            elif owners:
                shared[row.line] = len(owners)
        elif "platform" in ref:
            found = await uow.session.scalar(select(Identity.member_id).where(
                Identity.platform == ref["platform"],
                Identity.external_id == ref["external_id"]))
            if found is not None:
                out[row.line] = found
    return out, shared


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]
