"""Staff and paid plans: /subscribers lists the active subscriptions (how many, and
the first by expiry), /refund CHARGE_ID gives a payment back through the platform it
was made on, after a confirmation (refund.mmd beside this file), and ends the plan it
paid for at once; audited."""

from __future__ import annotations

import unicodedata

from domain import identifiers
from domain.membership import subscriptions
from domain.membership.subscriptions import RefundRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Reply, Text, button, reply
from handlers.engine.words import local, number
from handlers.membership.premium import asked
from handlers.staff.roles import denied

CONFIRM = "refund.confirm"
FLOW = Flow.beside(__file__, "refund.mmd", CONFIRM)
YES, NO = "refund:yes", "refund:no"
SHOWN = 30  # subscriptions listed by /subscribers
router = Router(flows=[FLOW])


@router.command("subscribers", role="operator")
async def subscribers(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "subscribers")
    if refusal is not None:
        return refusal
    total, first = await subscriptions.subscribers(ctx.uow, SHOWN)
    if not total:
        return Outcome([reply("subscribers.none")])
    lines = []
    for sub in first:
        plan = ctx.programme.plan(sub.plan)
        lines.append(Text("subscribers.line" if sub.renews else "subscribers.line_cancelled", {
            "number": number(sub.member_id), "plan": local(plan.name) if plan else sub.plan,
            "until": ctx.local(sub.expires_at).date()}))
    more = Text("subscribers.more", {"more": total - len(first)}) if total > len(first) else ""
    return Outcome([reply("subscribers.list", total=total, lines=lines, more=more)])


@router.command("refund", role="admin")
async def refund(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "refund")
    if refusal is not None:
        return refusal
    words = unicodedata.normalize("NFKC", ctx.arg).split()
    if len(words) != 1 or not identifiers.valid(identifiers.CHARGE_ID, words[0]):
        return Outcome([reply("refund.usage")])  # never echoed: it may hold anything
    charge_id = words[0]
    try:
        found = await subscriptions.refundable(ctx.uow, charge_id)
    except RefundRefused as exc:
        return Outcome([reply(f"refund.{exc.code}", charge=charge_id)])
    if ctx.payments is None or ctx.payments.platform != found.platform:
        return Outcome([reply("refund.elsewhere", charge=charge_id)])
    plan = ctx.programme.plan(found.plan)
    return Outcome([reply("refund.confirm", (button("refund.yes", YES),),
                          (button("refund.no", NO),), charge=charge_id,
                          number=number(found.member_id), stars=found.amount,
                          plan=local(plan.name) if plan else found.plan)],
                   state=CONFIRM, data={"charge": charge_id})


@router.state(CONFIRM)
async def confirmed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "refund")
    if refusal is not None:
        return refusal
    if ctx.action == NO:
        return Outcome([Reply("refund.kept", edit=True)])
    if ctx.action != YES:
        return Outcome([reply("refund.use_buttons")], state=CONFIRM, data=ctx.data)
    charge_id = str(ctx.data["charge"])
    try:
        found = await subscriptions.refundable(ctx.uow, charge_id)
    except RefundRefused as exc:  # refunded meanwhile, by another staff member
        return Outcome([reply(f"refund.{exc.code}", charge=charge_id)])
    port = ctx.payments
    if port is None or port.platform != found.platform:
        return Outcome([reply("refund.elsewhere", charge=charge_id)])
    failed = await ctx.read(f"refund:{charge_id}", asked(
        port, lambda p: p.refund(found.account, charge_id)))
    if failed is not None:
        return Outcome([reply("refund.failed", charge=charge_id, reason=failed)])
    # The plan ends now: its renewal too, or the next period would be charged. Already
    # off, or refused: the refund stands all the same (the member may cancel it too).
    await ctx.read(f"refund:{charge_id}:renewal", asked(
        port, lambda p: p.set_renewal(found.account, found.subscription_charge, False)))
    done = await subscriptions.refund(ctx.uow, ctx.programme, charge_id, ctx.now)
    await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "membership.refund",
                       charge_id, {"member": number(done.member_id), "stars": done.amount},
                       ctx.now)
    return Outcome([Reply("refund.done", {"charge": charge_id, "stars": done.amount,
                                          "number": number(done.member_id)}, edit=True)])


@router.action("refund")
async def stale(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])
