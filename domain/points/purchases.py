"""Purchases: an order from the shop earns points by the programme's rules.

The order id is the idempotency key. The order row is claimed first (INSERT ... ON
CONFLICT DO NOTHING), so a repeated or concurrent call finds it and returns the first
result, and every rule's points are one ledger entry keyed `purchase:<order>:<rule>`.
The order row lists its rules as [points, reason, rule], which is how a refund finds
the entries to reverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from domain import identifiers
from domain.campaigns import boosts
from domain.config import Programme
from domain.errors import Refused
from domain.lifecycle import lifecycle
from domain.members import referrals
from domain.members.tables import Member
from domain.membership import passes
from domain.notices.tables import Notice
from domain.points import earning, ledger
from domain.points.expiry import expires_at
from domain.points.tables import LedgerEntry, Purchase
from domain.privacy import returning
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime
from domain.tiers import upgrades

MAX_AMOUNT = 1_000_000_000  # minor units: ten million yuan is not a tea order
MAX_ITEMS = 200
MAX_QUANTITY = 100_000


class PurchaseRefused(Refused):
    pass


@dataclass(frozen=True)
class Order:
    order_id: str
    amount: int
    currency: str
    items: tuple[earning.Item, ...] = ()
    source: str = "api"


@dataclass(frozen=True)
class Recorded:
    order_id: str
    member_id: int
    points: int
    rules: list[dict[str, Any]]
    balance: int
    tier: str | None
    upgraded: bool
    duplicate: bool
    # Points the member's first purchase paid them for joining through a friend
    # (referrals), beside `points`, which the order's own rules earned.
    referral: int = 0


def check(order: Order, programme: Programme) -> None:
    """Refuse what no till sends, before anything is written."""
    if not identifiers.valid(identifiers.ORDER_ID, order.order_id):
        raise PurchaseRefused("invalid_order_id")
    if order.currency != programme.currency:  # a well-formed code of another currency
        raise PurchaseRefused("wrong_currency", expected=programme.currency)
    if not (isinstance(order.amount, int) and 1 <= order.amount <= MAX_AMOUNT):
        raise PurchaseRefused("invalid_amount", min=1, max=MAX_AMOUNT)
    if len(order.items) > MAX_ITEMS:
        raise PurchaseRefused("too_many_items", max=MAX_ITEMS)
    for item in order.items:
        if not (1 <= item.quantity <= MAX_QUANTITY and 0 <= item.amount <= order.amount
                and identifiers.valid(identifiers.ITEM_TEXT, item.sku)
                and identifiers.valid(identifiers.ITEM_TEXT, item.category)):
            raise PurchaseRefused("invalid_item")


# What a purchase reads of its member: plain columns, so no ORM object is built and
# flushed on the hot path of the API.
_STANDING = (*upgrades.STANDING, Member.points_balance, Member.status)


@dataclass(frozen=True)
class _Standing:
    member: Any  # a row of _STANDING
    bought: bool  # a purchase before this one
    window_total: int  # what tier evaluation counts, before this purchase
    campaign_percent: int = 0  # a campaign's points multiplier open to the member
    plan: str | None = None  # the member's active paid plan


def _load_statement(basis: str) -> Any:
    column = LedgerEntry.spend if basis == "spend" else LedgerEntry.qualifying
    bought = select(Purchase.id).where(Purchase.member_id == Member.id).exists()
    total = (select(func.coalesce(func.sum(column), 0))
             .where(LedgerEntry.member_id == Member.id,
                    LedgerEntry.created_at > bindparam("b_since", type_=UTCDateTime()))
             .scalar_subquery())
    campaign = boosts.best_percent(Member.id, bindparam("b_now", type_=UTCDateTime()))
    return (select(*_STANDING, passes.active_plan(Member.id), campaign, bought, total)
            .where(Member.id == bindparam("b_member"))
            .with_for_update(key_share=True, of=Member))


# Built once, like the ledger's: building them per call cost as much as running them.
_LOAD = {basis: _load_statement(basis) for basis in ("points", "spend")}
_P = Purchase.__table__
_CLAIM = {name: dialect.insert(_P).on_conflict_do_nothing(index_elements=["order_id"])
          .returning(_P.c.id) for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


async def _load(uow: UnitOfWork, programme: Programme, member_id: int,
                now: datetime) -> _Standing:
    """The member, locked, with purchase history and tier total: one round trip."""
    ladder = programme.tiers
    row = (await uow.execute(_LOAD[ladder.basis], {
        "b_member": member_id, "b_since": now - timedelta(days=ladder.window_days),
        "b_now": now})).first()
    if row is None or row.status == "erased":
        raise PurchaseRefused("unknown_member")
    return _Standing(row, bool(row[-2]), int(row[-1] or 0), int(row[-3] or 0), row[-4])


async def record(uow: UnitOfWork, programme: Programme, member_id: int, order: Order,
                 now: datetime) -> Recorded:
    check(order, programme)
    standing = await _load(uow, programme, member_id, now)
    member = standing.member
    # A first purchase earns its bonus once per person: not again after an erasure.
    first = not standing.bought and not await returning.returning(uow, member_id)
    earns = plan_for(programme, member.tier, order, first=first, now=now,
                     campaign_percent=standing.campaign_percent, paid_plan=standing.plan)
    rules = [[e.points, e.reason, e.rule] for e in earns]
    points = sum(e.points for e in earns)
    claimed = await uow.scalar(_CLAIM[uow.dialect], dict(
        order_id=order.order_id, member_id=member_id, amount=order.amount,
        currency=order.currency, items=[vars(i) for i in order.items], points=points,
        entries=rules, refunded=0, source=order.source, created_at=now))
    if claimed is None:
        return await _first_result(uow, member_id, order)
    await lifecycle.purchased(uow, {member_id: 1}, now)
    written = await ledger.post_credits(uow, earn_posts(programme, member_id, order, earns, now),
                                        now)
    balance = member.points_balance + sum(e.points for e in earns if _key(order, e) in written)
    if not standing.bought and member.referred_by_id is not None:
        referee = await uow.session.get(Member, member_id)
        assert referee is not None  # _load found it and holds its lock
        await referrals.on_first_purchase(uow, programme, referee, now)
        upgraded = await upgrades.reevaluate_and_tell(uow, programme, member_id,
                                                      f"order:{order.order_id}", now)
        before, balance = balance, await ledger.balance_of(uow, member_id)
        referral = balance - before  # the member's lock is held: nothing else moved it
        tier = referee.tier
    else:
        referral = 0
        gained = order.amount if programme.tiers.basis == "spend" and earns else points
        tier, upgraded = await upgrades.apply(uow, programme, member,
                                           max(standing.window_total + gained, 0),
                                           f"order:{order.order_id}", now)
    return Recorded(order.order_id, member_id, points, _rules(rules), balance, tier,
                    upgraded, False, referral)


def plan_for(programme: Programme, tier_code: str | None, order: Order, first: bool,
             now: datetime, campaign_percent: int = 0,
             paid_plan: str | None = None) -> list[earning.Earn]:
    """`paid_plan`: the member's active paid plan, whose multiplier adds its extra."""
    tier = programme.tiers.by_code(tier_code) or programme.tiers.levels[0]
    plan = programme.plan(paid_plan) if paid_plan else None
    return earning.plan(programme.earning, tier.multiplier_percent, order.amount, order.items,
                        now.astimezone(programme.zone).date(), first, campaign_percent,
                        plan.multiplier_percent - 100 if plan is not None else 0)


def _key(order: Order, earn: earning.Earn) -> str:
    return f"purchase:{order.order_id}:{earn.rule}"  # as _first_result reads them back


def earn_posts(programme: Programme, member_id: int, order: Order, earns: list[earning.Earn],
               now: datetime, expiry: datetime | None = None) -> list[ledger.Post]:
    """One earn entry per paying rule, keyed by order and rule; the first carries the spend.
    `expiry` may be given when many orders share one moment (an import)."""
    expiry = expiry or expires_at(programme.expiry, programme, now)
    return [ledger.Post(
        member_id=member_id, delta=earn.points, kind="earn", reason=earn.reason,
        key=_key(order, earn), source=order.source,
        params={"order": order.order_id, **earn.params}, expires_at=expiry,
        qualifying=earn.points, spend=order.amount if i == 0 else 0)
        for i, earn in enumerate(earns)]


async def _first_result(uow: UnitOfWork, member_id: int, order: Order) -> Recorded:
    existing = await uow.session.scalar(select(Purchase).where(
        Purchase.order_id == order.order_id))
    assert existing is not None  # the claim conflicted on it; purchases are never deleted
    # The order id names the order; the same id with other contents is another order.
    if (existing.member_id, existing.amount, existing.currency, existing.items) != (
            member_id, order.amount, order.currency, [vars(i) for i in order.items]):
        raise PurchaseRefused("order_conflict")
    member = await uow.session.get(Member, member_id)
    referral = await _referral_paid_with(uow, existing)
    # As the first answer said: the balance just after this order's entries, and
    # whether it took the member up a tier (its notice is keyed by the order).
    keys = [f"purchase:{order.order_id}:{rule}" for _, _, rule in existing.entries]
    if referral:
        keys.append(f"referral:referee:{member_id}")
    last = await uow.session.scalar(select(func.max(LedgerEntry.id)).where(
        LedgerEntry.idempotency_key.in_(keys))) if keys else None
    balance = (await ledger.balance_of(uow, member_id) if last is None else int(
        await uow.session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.member_id == member_id, LedgerEntry.id <= last)) or 0))
    upgraded = await uow.session.scalar(select(Notice.id).where(
        Notice.member_id == member_id,
        Notice.idempotency_key == f"tier:{member_id}:order:{order.order_id}")) is not None
    return Recorded(order.order_id, member_id, existing.points, _rules(existing.entries),
                    balance, member.tier if member else None, upgraded, True, referral)


async def _referral_paid_with(uow: UnitOfWork, purchase: Purchase) -> int:
    """The referral welcome a member's first purchase paid them (domain.members.referrals
    keys it by the member), so a repeated order tells the same parts as the first time."""
    earlier = await uow.session.scalar(select(Purchase.id).where(
        Purchase.member_id == purchase.member_id, Purchase.id < purchase.id).limit(1))
    if earlier is not None:
        return 0
    paid = await uow.session.scalar(select(LedgerEntry.delta).where(
        LedgerEntry.idempotency_key == f"referral:referee:{purchase.member_id}"))
    return int(paid or 0)


async def entry_ids(uow: UnitOfWork, purchase: Purchase) -> dict[str, int]:
    """Rule -> the ledger entry that paid it; found by their keys (a unique index)."""
    keys = {f"purchase:{purchase.order_id}:{rule}": rule for _, _, rule in purchase.entries}
    rows = await uow.session.execute(select(LedgerEntry.idempotency_key, LedgerEntry.id)
                                     .where(LedgerEntry.idempotency_key.in_(keys)))
    return {keys[key]: entry_id for key, entry_id in rows}


def _rules(entries: list[list[Any]]) -> list[dict[str, Any]]:
    return [{"rule": rule, "reason": reason, "points": points}
            for points, reason, rule in entries]


async def recorded(uow: UnitOfWork, order_id: str) -> bool:
    """Whether this order is on the books (a late "No" to its confirmation asks)."""
    return await uow.session.scalar(select(Purchase.id).where(
        Purchase.order_id == order_id)) is not None
