"""Refunds take back the points their order earned, in proportion to the money
returned. Each earn entry is reversed by its own keyed entry, so a repeated refund
changes nothing, and a full refund, in one part or many, reverses exactly all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domain import identifiers
from domain.config import Programme
from domain.members import till_members
from domain.points import earning, ledger, purchases
from domain.points.purchases import PurchaseRefused
from domain.points.tables import Purchase, Refund
from domain.storage.database import UnitOfWork
from domain.tiers import upgrades


@dataclass(frozen=True)
class Refunded:
    order_id: str
    amount: int
    points: int  # reversed
    short: int  # owed back but already spent; the balance never goes below zero
    refunded_total: int
    balance: int
    duplicate: bool


def refund_key(order_id: str, amount: int | None, refund_id: str | None) -> str:
    """What makes two refund calls the same call: the order, and its refund id or else
    the amount asked for. A refund id belongs to its order: `r1` on two orders is two
    refunds. `|` and `=` never occur in an order or refund id, so no two calls share a
    key by accident."""
    if refund_id is not None:
        return f"refund:{order_id}|id={refund_id}"
    return f"refund:{order_id}|amount={amount if amount is not None else 'rest'}"


async def refund(uow: UnitOfWork, programme: Programme, order_id: str, amount: int | None,
                 refund_id: str | None, now: datetime) -> Refunded:
    if not identifiers.valid(identifiers.ORDER_ID, order_id):
        raise PurchaseRefused("invalid_order_id")
    if amount is not None and not (isinstance(amount, int) and 1 <= amount <= purchases.MAX_AMOUNT):
        raise PurchaseRefused("invalid_amount", min=1, max=purchases.MAX_AMOUNT)
    if refund_id is not None and not identifiers.valid(identifiers.ORDER_ID, refund_id):
        raise PurchaseRefused("invalid_refund_id")
    purchase = await uow.session.scalar(select(Purchase).where(Purchase.order_id == order_id)
                                        .with_for_update())
    if purchase is None:
        raise PurchaseRefused("unknown_order")
    key = refund_key(order_id, amount, refund_id)
    done = await uow.session.scalar(select(Refund).where(Refund.key == key))
    if done is not None:
        if amount is not None and amount != done.amount:
            raise PurchaseRefused("refund_conflict", amount=done.amount)
        return Refunded(order_id, done.amount, done.points, done.short, purchase.refunded,
                        await ledger.balance_of(uow, purchase.member_id), duplicate=True)
    left = purchase.amount - purchase.refunded
    if left == 0:
        raise PurchaseRefused("already_refunded")
    amount = left if amount is None else amount
    if amount > left:
        raise PurchaseRefused("refund_too_large", left=left)
    before, after = purchase.refunded, purchase.refunded + amount
    member = await till_members.lock_member(uow, purchase.member_id)
    balance = await ledger.settle(uow, member, now)
    row = Refund(purchase_id=purchase.id, key=key, amount=amount, points=0, short=0,
                 created_at=now)
    uow.session.add(row)
    await uow.flush()  # its id keys the reversals, whatever the length of the ids above
    reversed_, short, spend = 0, 0, amount
    ids = await purchases.entry_ids(uow, purchase)
    for points, _reason, rule in purchase.entries:
        owed = earning.reversal(points, purchase.amount, before, after)
        take = min(owed, balance)
        short += owed - take
        if rule not in ids or (owed <= 0 and spend == 0):
            continue
        # Qualifying points and spend go back in full even when the points were spent
        # (take 0): a refunded purchase no longer counts towards a tier.
        posted = await ledger.post(uow, ledger.Post(
            member_id=member.id, delta=-take, kind="reverse",
            reason="refund" if take else "refund_spent",
            key=f"reversal:{row.id}:{rule}", source="refund", lot_id=ids[rule],
            params={"order": order_id}, qualifying=-owed, spend=-spend), now)
        balance, reversed_, spend = posted.balance, reversed_ + take, 0
    purchase.refunded = after
    row.points, row.short = reversed_, short
    await uow.flush()
    await upgrades.reevaluate_and_tell(uow, programme, member.id, f"reversal:{row.id}", now)
    return Refunded(order_id, amount, reversed_, short, after, balance, duplicate=False)
