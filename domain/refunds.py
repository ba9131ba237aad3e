"""Refunds take back the points their order earned, in proportion to the money
returned. Each earn entry is reversed by its own keyed entry, so a repeated refund
changes nothing, and a full refund, in one part or many, reverses exactly all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domain import earning, ledger, purchases, till_members, upgrades
from domain.config import Programme
from domain.database import UnitOfWork
from domain.models import Purchase, Refund
from domain.purchases import PurchaseRefused


@dataclass(frozen=True)
class Refunded:
    order_id: str
    amount: int
    points: int  # reversed
    short: int  # owed back but already spent; the balance never goes below zero
    refunded_total: int
    balance: int
    duplicate: bool


async def refund(uow: UnitOfWork, programme: Programme, order_id: str, amount: int | None,
                 refund_id: str | None, now: datetime) -> Refunded:
    if amount is not None and not (isinstance(amount, int) and 1 <= amount <= purchases.MAX_AMOUNT):
        raise PurchaseRefused("invalid_amount", max=purchases.MAX_AMOUNT)
    if refund_id is not None and not purchases.ORDER_ID.match(refund_id):
        raise PurchaseRefused("invalid_refund_id")
    purchase = await uow.session.scalar(select(Purchase).where(Purchase.order_id == order_id)
                                        .with_for_update())
    if purchase is None:
        raise PurchaseRefused("unknown_order")
    key = f"refund:{refund_id}" if refund_id else f"refund:{order_id}:{amount or 'rest'}"
    done = await uow.session.scalar(select(Refund).where(Refund.key == key))
    if done is not None:
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
    reversed_, short, spend = 0, 0, amount
    ids = await purchases.entry_ids(uow, purchase)
    for points, _reason, rule in purchase.entries:
        owed = earning.reversal(points, purchase.amount, before, after)
        take = min(owed, balance)
        short += owed - take
        if take <= 0 or rule not in ids:
            continue
        entry_id = ids[rule]
        posted = await ledger.post(uow, ledger.Post(
            member_id=member.id, delta=-take, kind="reverse", reason="refund",
            key=f"{key}:{rule}", source="refund", lot_id=entry_id,
            params={"order": order_id}, qualifying=-owed, spend=-spend), now)
        balance, reversed_, spend = posted.balance, reversed_ + take, 0
    purchase.refunded = after
    uow.session.add(Refund(purchase_id=purchase.id, key=key, amount=amount, points=reversed_,
                           short=short, created_at=now))
    await uow.flush()
    await upgrades.reevaluate_and_tell(uow, programme, member.id, key, now)
    return Refunded(order_id, amount, reversed_, short, after, balance, duplicate=False)

