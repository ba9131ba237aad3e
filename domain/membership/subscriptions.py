"""Subscriptions to paid plans: who may buy, each payment kept once, what a plan gives
while active, cancelling renewal, refunds and lapses.

A payment is claimed by its charge id (INSERT ... ON CONFLICT DO NOTHING), so one
delivered twice changes nothing the second time. It extends the subscription to the
expiry the platform gives, and gives the plan's gift once per paid period (a ledger
entry keyed by subscription and period). While a subscription is active its plan's
tier floor stands on the member (members.paid_floor, which tier evaluation reads), its
multiplier adds to purchase points (domain/points/purchases.py reads `active_plan`),
and its chats open to the member (domain/community reads `passes`). A renewal missed
for the programme's grace after the period ends lapses it (`lapse_due`, a scheduler
job); a refund ends it at once; so does erasure. Each end takes the floor away, re-
evaluates the tier and re-judges the member's seats in gated chats.

At most one plan is active for a member at a time: a second one is refused before
payment (`check`), so what an active plan gives is never in doubt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.community import seats
from domain.config import Plan, Programme
from domain.errors import Refused
from domain.members.tables import Member
from domain.membership.passes import ACTIVE
from domain.membership.tables import Payment, Subscription
from domain.notices import announce
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.privacy.tables import ErasureRequest
from domain.rewards import gifts
from domain.storage.database import Database, UnitOfWork
from domain.tiers import tiers

LAPSED, REFUNDED, ENDED = "lapsed", "refunded", "ended"
STARS = "XTR"  # the currency code of the stars plans are priced in
PERIOD_S = 30 * 24 * 3600  # the platform renews a subscription every 30 days
LAPSE_BATCH = 100


# ------------------------------------------------------------------ invoices

@dataclass(frozen=True)
class Order:
    """What an invoice is for: a plan, for a member, at a price; carried by the invoice
    as its payload and given back with the payment, so both can be checked."""

    plan: str
    member_id: int
    price: int

    @property
    def payload(self) -> str:
        return f"plan:{self.plan}:{self.member_id}:{self.price}"

    @classmethod
    def parse(cls, payload: str) -> Order | None:
        parts = payload.split(":")
        if len(parts) != 4 or parts[0] != "plan" or not parts[1]:
            return None
        if not (parts[2].isascii() and parts[2].isdigit()
                and parts[3].isascii() and parts[3].isdigit()):
            return None
        return cls(parts[1], int(parts[2]), int(parts[3]))


def order(plan: Plan, member_id: int) -> Order:
    return Order(plan.code, member_id, plan.price)


async def check(uow: UnitOfWork, programme: Programme, member_id: int | None, payload: str,
                amount: int, currency: str) -> str | None:
    """Whether the payment about to be made may go ahead: None when it may, else why
    not (a code): the payload is not ours, names another member, a plan gone or priced
    otherwise now, or a member who may not buy it (erased or about to be, or on a plan
    already)."""
    found = Order.parse(payload)
    if found is None or currency != STARS:
        return "bad_order"
    if member_id is None or found.member_id != member_id:
        return "not_yours"
    plan = programme.plan(found.plan)
    if plan is None:
        return "plan_gone"
    if plan.price != found.price or amount != plan.price:
        return "price_changed"
    member = await uow.session.get(Member, member_id)
    if member is None or member.status == "erased":
        return "not_allowed"
    if await active(uow, member_id) is not None:
        return "already_active"
    if await uow.session.scalar(select(ErasureRequest.member_id).where(
            ErasureRequest.member_id == member_id, ErasureRequest.state == "waiting")):
        return "erasure_pending"  # no plan to start that the erasure would end unused
    return None


# ------------------------------------------------------------------ payments

@dataclass(frozen=True)
class Charge:
    """A payment as the platform reports it. `expires_at`: the end of the period paid
    for; `recurring`: part of a subscription; `first`: its first payment."""

    charge_id: str
    payload: str
    amount: int
    currency: str
    expires_at: datetime | None
    platform: str
    account: str
    recurring: bool = True
    first: bool = True


@dataclass(frozen=True)
class Paid:
    """What a payment did: the subscription it paid, until when; `duplicate` when the
    charge was recorded before (nothing changed); `gift` the points given with it."""

    plan: str
    until: datetime
    duplicate: bool
    gift_points: int = 0
    gift_coupon: bool = False


class PaymentRefused(Refused):
    """A payment that names no plan and member of ours: kept nowhere. The platform took
    the money, so it is logged with its charge id for staff to give back by hand."""


_P = Payment.__table__
_CLAIM = {name: dialect.insert(_P).on_conflict_do_nothing(index_elements=["charge_id"])
          .returning(_P.c.id) for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


async def pay(uow: UnitOfWork, programme: Programme, member_id: int, charge: Charge,
              now: datetime) -> Paid:
    """Record `charge` once, extend the member's subscription to the period it paid
    for and give what the plan gives. A charge recorded before changes nothing."""
    found = Order.parse(charge.payload)
    if found is None or found.member_id != member_id:
        raise PaymentRefused("bad_order")
    member = await ledger_lock(uow, member_id)  # a second delivery waits here, then sees
    earlier = await uow.session.scalar(select(Payment).where(
        Payment.charge_id == charge.charge_id))
    if earlier is not None:
        return Paid(earlier.plan, earlier.expires_at, duplicate=True)
    plan = programme.plan(found.plan)
    until = charge.expires_at or now + timedelta(seconds=PERIOD_S)
    sub = await uow.session.scalar(select(Subscription).where(
        Subscription.member_id == member_id, Subscription.plan == found.plan))
    renewal = charge.recurring and not charge.first
    if sub is None:
        sub = Subscription(member_id=member_id, plan=found.plan, status=ACTIVE, renews=True,
                           platform=charge.platform, account=charge.account,
                           charge_id=charge.charge_id, chats=[], started_at=now,
                           expires_at=until, updated_at=now)
        uow.session.add(sub)
    else:
        was_active = sub.status == ACTIVE
        if not renewal:
            # Paid anew (after a lapse, a refund): a new subscription on the platform,
            # named by this first payment. A renewal keeps the first payment's name,
            # even one that comes after the plan lapsed.
            sub.charge_id, sub.renews = charge.charge_id, True
        if not was_active:
            sub.started_at, sub.ended_at = now, None
        sub.status = ACTIVE
        sub.platform, sub.account = charge.platform, charge.account
        sub.expires_at = max(until, sub.expires_at) if was_active else until
        sub.updated_at = now
    sub.chats = list(plan.chats) if plan is not None else []
    await uow.flush()
    claimed = await uow.scalar(_CLAIM[uow.dialect], dict(
        charge_id=charge.charge_id, subscription_id=sub.id, member_id=member_id,
        plan=found.plan, amount=charge.amount, currency=charge.currency, expires_at=until,
        recurring=charge.recurring, first=charge.first, refunded_at=None, created_at=now))
    if claimed is None:  # a concurrent delivery of the same charge won: it did the rest
        return Paid(found.plan, until, duplicate=True)
    points, coupon = await _gift(uow, programme, plan, sub, now)
    await _stand(uow, programme, member, now)
    return Paid(found.plan, sub.expires_at, False, points, coupon)


async def ledger_lock(uow: UnitOfWork, member_id: int) -> Member:
    """The member, locked (in id order, as every writer locks members)."""
    member = await uow.session.scalar(select(Member).where(Member.id == member_id)
                                      .with_for_update())
    if member is None:
        raise PaymentRefused("not_yours")
    return member


async def _gift(uow: UnitOfWork, programme: Programme, plan: Plan | None, sub: Subscription,
                now: datetime) -> tuple[int, bool]:
    """The plan's gift for the period now paid, once: points keyed by subscription and
    period, a coupon given only while the period's mark is not yet on the subscription."""
    if plan is None:
        return 0, False
    period = sub.expires_at.isoformat()
    points = 0
    if plan.gift_points:
        posted = await ledger.post(uow, ledger.Post(
            member_id=sub.member_id, delta=plan.gift_points, kind="earn", reason="plan_gift",
            key=f"membership:gift:{sub.id}:{period}", source="membership",
            params={"plan": plan.code},
            expires_at=expires_at(programme.expiry, programme, now)), now)
        points = 0 if posted.duplicate else plan.gift_points
    coupon = False
    if plan.gift_reward is not None and sub.gift_period != period:
        coupon = await gifts.give_coupon(uow, programme, sub.member_id, plan.gift_reward,
                                         now) is not None
    sub.gift_period = period
    return points, coupon


async def _stand(uow: UnitOfWork, programme: Programme, member: Member, now: datetime) -> None:
    """Put the member's paid floor in step with their active plan, re-evaluate the tier
    and re-judge their seats (a plan's chats open and close without a tier change)."""
    await uow.flush()  # the subscription's new status, for the query below
    sub = await active(uow, member.id)
    plan = programme.plan(sub.plan) if sub is not None else None
    floor = plan.tier_floor if plan is not None else None
    before = member.paid_floor
    if before != floor:
        member.paid_floor = floor
    await uow.flush()
    if before is not None and before != floor:
        await tiers.floor_lowered(uow, programme.tiers, member.id, now)
    else:
        await tiers.reevaluate(uow, programme.tiers, member.id, now)
    await seats.recheck(uow, programme.tiers, [member.id], now)


# ------------------------------------------------------------------ reading

async def active(uow: UnitOfWork, member_id: int) -> Subscription | None:
    return await uow.session.scalar(select(Subscription).where(
        Subscription.member_id == member_id, Subscription.status == ACTIVE)
        .order_by(Subscription.id).limit(1))


async def latest(uow: UnitOfWork, member_id: int) -> Subscription | None:
    """The member's subscription most recently paid, active or not."""
    return await uow.session.scalar(select(Subscription).where(
        Subscription.member_id == member_id).order_by(Subscription.started_at.desc(),
                                                       Subscription.id.desc()).limit(1))


@dataclass(frozen=True)
class Subscriber:
    member_id: int
    plan: str
    expires_at: datetime
    renews: bool
    started_at: datetime


async def subscribers(uow: UnitOfWork, limit: int = 50) -> tuple[int, list[Subscriber]]:
    """How many subscriptions are active, and the first `limit` by expiry."""
    count = await uow.session.scalar(select(func.count()).select_from(Subscription).where(
        Subscription.status == ACTIVE))
    rows = await uow.session.execute(
        select(Subscription.member_id, Subscription.plan, Subscription.expires_at,
               Subscription.renews, Subscription.started_at)
        .where(Subscription.status == ACTIVE)
        .order_by(Subscription.expires_at, Subscription.id).limit(limit))
    return int(count or 0), [Subscriber(*row) for row in rows]


async def revenue(uow: UnitOfWork, since: datetime, until: datetime) -> int:
    """Stars paid in [since, until), refunds taken off (a whole number)."""
    total = await uow.session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(
        Payment.created_at >= since, Payment.created_at < until,
        Payment.refunded_at.is_(None)))
    return int(total or 0)


async def payments_of(uow: UnitOfWork, member_id: int) -> list[Payment]:
    return list(await uow.session.scalars(select(Payment).where(
        Payment.member_id == member_id).order_by(Payment.id)))


# ------------------------------------------------------------------ renewal, refunds, lapses

async def set_renewal(uow: UnitOfWork, member_id: int, renews: bool,
                      now: datetime) -> Subscription | None:
    """Cancel (False) or re-enable (True) the renewal of the member's active plan; the
    plan stays until its period ends either way. None: no active plan."""
    sub = await active(uow, member_id)
    if sub is None:
        return None
    if sub.renews != renews:
        sub.renews, sub.updated_at = renews, now
    return sub


@dataclass(frozen=True)
class Refunded:
    """A payment refunded (or to refund); `subscription_charge` names its subscription
    on the platform (the first payment's charge id), whose renewal stops too."""

    member_id: int
    platform: str
    account: str
    amount: int
    plan: str
    subscription_charge: str


class RefundRefused(Refused):
    """"unknown": no payment has that charge id; "refunded": given back already."""


async def refundable(uow: UnitOfWork, charge_id: str) -> Refunded:
    """The payment `charge_id` names, if it may be refunded: else RefundRefused
    ("unknown" or "refunded")."""
    payment = await uow.session.scalar(select(Payment).where(Payment.charge_id == charge_id))
    if payment is None:
        raise RefundRefused("unknown")
    if payment.refunded_at is not None:
        raise RefundRefused("refunded")
    sub = await uow.session.get(Subscription, payment.subscription_id)
    assert sub is not None  # a payment's subscription is never deleted
    return Refunded(payment.member_id, sub.platform, sub.account, payment.amount, payment.plan,
                    sub.charge_id)


async def refund(uow: UnitOfWork, programme: Programme, charge_id: str,
                 now: datetime) -> Refunded:
    """The payment was given back: marked so (it leaves the revenue) and the membership
    it paid for ends at once, with what it gave."""
    found = await refundable(uow, charge_id)
    member = await ledger_lock(uow, found.member_id)
    await uow.session.execute(update(Payment).where(Payment.charge_id == charge_id)
                              .values(refunded_at=now))
    payment = await uow.session.scalar(select(Payment).where(Payment.charge_id == charge_id))
    assert payment is not None
    sub = await uow.session.get(Subscription, payment.subscription_id)
    assert sub is not None
    if sub.status == ACTIVE:
        sub.status, sub.renews, sub.ended_at, sub.updated_at = REFUNDED, False, now, now
        await _stand(uow, programme, member, now)
    await announce.tell(uow, found.member_id, "membership.refunded", {
        "plan": _named(programme, found.plan), "stars": found.amount},
        f"membership:refunded:{charge_id}", now)
    return found


def _named(programme: Programme, code: str) -> Any:
    """A plan's name in each language, for a notice (the code, if the plan is gone)."""
    plan = programme.plan(code)
    return {"$local": plan.name.model_dump()} if plan is not None else code


async def lapse_due(db: Database, programme: Programme, now: datetime,
                    batch: int = LAPSE_BATCH) -> dict[str, int]:
    """End every active subscription whose period ended more than the grace ago with
    no renewal paid: its benefits go and the member's tier is evaluated again. A
    batch per short transaction; running again finds nothing left to do."""
    cutoff = now - timedelta(days=programme.membership.grace_days)
    lapsed = 0
    while True:
        async with db.uow() as uow:
            due = list(await uow.session.scalars(
                select(Subscription).where(Subscription.status == ACTIVE,
                                           Subscription.expires_at <= cutoff)
                .order_by(Subscription.member_id, Subscription.id).limit(batch)))
            for sub in due:
                member = await ledger_lock(uow, sub.member_id)
                sub.status, sub.renews, sub.ended_at, sub.updated_at = LAPSED, False, now, now
                await _stand(uow, programme, member, now)
                await announce.tell(uow, sub.member_id, "membership.lapsed", {
                    "plan": _named(programme, sub.plan), "tier": {"$tier": member.tier}},
                    f"membership:lapsed:{sub.id}:{sub.expires_at.isoformat()}", now)
                lapsed += 1
            await uow.commit()
        if len(due) < batch:
            return {"lapsed": lapsed}


async def end_for_erasure(uow: UnitOfWork, programme: Programme, member_id: int,
                          now: datetime) -> int:
    """The member is being erased: every plan of theirs ends now, its renewal off, and
    the paying account is forgotten. The payments stay (the revenue stays true), with
    the pseudonymous member. How many subscriptions there were."""
    subs = list(await uow.session.scalars(select(Subscription).where(
        Subscription.member_id == member_id)))
    for sub in subs:
        if sub.status == ACTIVE:
            sub.status, sub.ended_at = ENDED, now
        sub.renews, sub.account, sub.updated_at = False, "", now
    member = await uow.session.get(Member, member_id)
    if subs and member is not None and member.paid_floor is not None:
        member.paid_floor = None
        await uow.flush()
    return len(subs)
