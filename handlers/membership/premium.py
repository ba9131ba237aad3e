"""/premium: the programme's paid plans and what each gives, the member's own plan (until
when, renewing or cancelled), and buttons to subscribe, cancel renewal or re-enable it.

Subscribing answers with an invoice (Reply.invoice) that a platform taking payments in
stars turns into a link to pay; the payment comes back as an Inbound with `payment`
and the action PAID, and is recorded once by its charge id (domain/membership). Where
the platform takes no such payments (WeChat, the console) members see the plans and
are told to subscribe from their linked account there, or through the programme's
payment link. Before the platform takes the money it asks whether it may
(`pre_checkout`): only for a plan that still exists at the price invoiced, for the
member it was made for, who may buy it.

Cancelling or re-enabling renewal asks the platform first (Ctx.payments), then keeps
the choice; the plan stays until its period ends either way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain.config import Plan, Programme
from domain.members import members
from domain.membership import subscriptions
from domain.membership.subscriptions import STARS, Charge, PaymentRefused
from domain.storage.database import Database, UnitOfWork
from handlers.engine import i18n
from handlers.engine.payments import PaymentError, Payments
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Invoice, Reply, Text, button, reply
from handlers.engine.words import local, multiplier

log = logging.getLogger(__name__)
BUY, CANCEL, RENEW, PAID = "premium:buy", "premium:cancel", "premium:renew", "premium:paid"
router = Router()


@router.command("premium")
async def premium(ctx: Ctx) -> Outcome:
    plans = ctx.programme.membership.plans
    if not plans:
        return Outcome([reply("membership.no_plans")])
    sub = await subscriptions.active(ctx.uow, ctx.member.id)
    lines = [_plan_line(ctx.programme, plan) for plan in plans]
    rows: list[tuple[Any, ...]] = []
    if sub is not None:
        plan = ctx.programme.plan(sub.plan)
        until = ctx.local(sub.expires_at).date()
        status = Text("membership.status_renewing" if sub.renews
                      else "membership.status_cancelled",
                      {"plan": local(plan.name) if plan else sub.plan, "until": until})
        if ctx.payments is not None and ctx.payments.platform == sub.platform:
            rows.append((button("membership.cancel" if sub.renews else "membership.renew",
                                CANCEL if sub.renews else RENEW),))
    else:
        status = Text("membership.status_none")
        if ctx.inbound.invoices:
            rows += [(button("membership.subscribe", f"{BUY}:{plan.code}",
                             plan=local(plan.name), price=plan.price),) for plan in plans]
    return Outcome([reply("membership.premium", *rows, plans=lines, status=status,
                          how=_how(ctx, sub is not None))])


def _how(ctx: Ctx, active: bool) -> Text | str:
    """Where to subscribe, where this platform cannot take the payment."""
    if active or ctx.inbound.invoices:
        return ""
    url = ctx.programme.membership.payment_url
    if url:
        return Text("membership.pay_at_link", {"url": url})
    return Text("membership.pay_elsewhere")


def _plan_line(programme: Programme, plan: Plan) -> Text:
    gives: list[Text] = []
    if plan.tier_floor is not None:
        tier = programme.tiers.by_code(plan.tier_floor)
        gives.append(Text("membership.gives_floor", {
            "tier": local(tier.name) if tier else plan.tier_floor}))
    gives += [Text("membership.gives_benefit", {"benefit": local(programme.benefits[code])})
              for code in plan.benefits]
    if plan.multiplier_percent != 100:
        gives.append(Text("membership.gives_multiplier",
                          {"times": multiplier(plan.multiplier_percent)}))
    if plan.gift_points:
        gives.append(Text("membership.gives_points", {"points": plan.gift_points}))
    reward = programme.reward_in_file(plan.gift_reward) if plan.gift_reward else None
    if reward is not None:
        gives.append(Text("membership.gives_coupon", {"reward": local(reward.title)}))
    if plan.chats:
        gives.append(Text("membership.gives_chats", {"chats": len(plan.chats)}))
    return Text("membership.plan", {"plan": local(plan.name), "price": plan.price,
                                    "description": local(plan.description), "gives": gives})


@router.action(BUY)
async def subscribe(ctx: Ctx) -> Outcome:
    code = (ctx.action or "").split(":", 2)[-1]
    plan = ctx.programme.plan(code)
    if plan is None:
        return Outcome([reply("membership.refused.plan_gone")])
    if not ctx.inbound.invoices:
        return Outcome([reply("membership.pay_here", how=_how(ctx, False))])
    order = subscriptions.order(plan, ctx.member.id)
    refused = await subscriptions.check(ctx.uow, ctx.programme, ctx.member.id, order.payload,
                                        plan.price, STARS)
    if refused is not None:
        return Outcome([reply(f"membership.refused.{refused}")])
    invoice = Invoice(title=local(plan.name), description=local(plan.description),
                      payload=order.payload, price=plan.price, currency=STARS,
                      period_s=subscriptions.PERIOD_S,
                      label=Text("membership.pay", {"price": plan.price}))
    return Outcome([Reply("membership.invoice", {"plan": local(plan.name),
                                                 "price": plan.price}, invoice=invoice)])


@router.action(PAID)
async def paid(ctx: Ctx) -> Outcome:
    """The platform reports a payment made; a pressed button naming this is forged."""
    payment = ctx.inbound.payment
    if payment is None:
        return Outcome([reply("error.button_expired")])
    try:
        done = await subscriptions.pay(ctx.uow, ctx.programme, ctx.member.id, Charge(
            charge_id=payment.charge_id, payload=payment.payload, amount=payment.amount,
            currency=payment.currency, expires_at=payment.expires_at,
            platform=ctx.inbound.platform, account=ctx.inbound.user_id,
            recurring=payment.recurring, first=payment.first), ctx.now)
    except PaymentRefused as exc:
        log.warning("payment for no plan of ours", extra={
            "charge": payment.charge_id, "reason": exc.code})
        return Outcome([reply("membership.paid_unknown")])
    plan = ctx.programme.plan(done.plan)
    name = local(plan.name) if plan else done.plan
    until = ctx.local(done.until).date()
    if done.duplicate:
        return Outcome([reply("membership.paid_again", plan=name, until=until)])
    gift = Text("membership.paid_gift", {"points": done.gift_points}) \
        if done.gift_points else ""
    return Outcome([reply("membership.paid", plan=name, until=until, gift=gift)])


@router.action(CANCEL, reads_first=True)
async def cancel(ctx: Ctx) -> Outcome:
    return await _renewal(ctx, False)


@router.action(RENEW, reads_first=True)
async def renew(ctx: Ctx) -> Outcome:
    return await _renewal(ctx, True)


async def _renewal(ctx: Ctx, renews: bool) -> Outcome:
    sub = await subscriptions.active(ctx.uow, ctx.member.id)
    if sub is None:
        return Outcome([reply("membership.none_active")])
    if sub.renews == renews:
        return Outcome([reply("membership.renewing" if renews else "membership.cancelled",
                              until=ctx.local(sub.expires_at).date())])
    port = ctx.payments
    if port is None or port.platform != sub.platform:
        return Outcome([reply("membership.renewal_elsewhere")])
    failed = await ctx.read(f"premium:renewal:{sub.charge_id}:{renews}:{ctx.inbound.key}",
                            asked(port, lambda p: p.set_renewal(sub.account, sub.charge_id,
                                                                 renews)))
    if failed is not None:
        return Outcome([reply("membership.renewal_failed", reason=failed)])
    await subscriptions.set_renewal(ctx.uow, ctx.member.id, renews, ctx.now)
    return Outcome([Reply("membership.renewing" if renews else "membership.cancelled",
                          {"until": ctx.local(sub.expires_at).date()}, edit=True)])


async def stopped_for_erasure(ctx: Ctx) -> list[Reply]:
    """The member asked to be erased: a renewing plan of theirs is cancelled now, at the
    platform, so nothing is charged after they are gone (the plan itself ends with the
    erasure). What to tell them: that it was, or where to cancel it themselves."""
    stopped = await stop_renewal(ctx, ctx.member.id)
    if stopped is None:
        return []
    return [reply("membership.erasure_renewal_stopped" if stopped
                  else "membership.erasure_renewal_elsewhere")]


async def stop_renewal(ctx: Ctx, member_id: int) -> bool | None:
    """Cancel the renewal of the member's plan at the platform and here, before they are
    erased. None: nothing renews; False: it could not be cancelled from this chat (paid
    on another platform, or the platform refused), so somebody must do it there."""
    sub = await subscriptions.active(ctx.uow, member_id)
    if sub is None or not sub.renews:
        return None
    port = ctx.payments
    if port is None or port.platform != sub.platform:
        return False
    failed = await ctx.read(f"premium:renewal:{sub.charge_id}:False:{ctx.inbound.key}",
                            asked(port, lambda p: p.set_renewal(sub.account, sub.charge_id,
                                                                False)))
    if failed is not None:
        return False
    await subscriptions.set_renewal(ctx.uow, member_id, False, ctx.now)
    return True


def asked(port: Payments, call: Callable[[Payments], Awaitable[None]]
           ) -> Callable[[UnitOfWork], Awaitable[str | None]]:
    """A platform call as a long read (Ctx.read): None when done, else what it said."""
    async def ask(_: UnitOfWork) -> str | None:
        try:
            await call(port)
        except PaymentError as exc:
            return exc.reason or "?"
        return None
    return ask


async def pre_checkout(db: Database, programme: Programme, platform: str, user_id: str,
                       payload: str, amount: int, currency: str,
                       hint: str | None) -> str | None:
    """The platform asks whether a payment may go ahead: None when it may, else why not
    in the member's language (the platform shows it to them). Reads only."""
    async with db.snapshot() as uow:
        member = await members.by_identity(uow, platform, user_id)
        refused = await subscriptions.check(uow, programme, member.id if member else None,
                                            payload, amount, currency)
        known = (member.locale, member.language_hint) if member is not None else ()
        locale = i18n.negotiate(*known, hint) or programme.default_locale
    if refused is None:
        return None
    return i18n.translate(Text(f"membership.refused.{refused}"), locale)
