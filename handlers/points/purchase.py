"""/purchase: an operator records a till purchase in chat, confirmed before it counts.

`/purchase 00000042 128.50` goes straight to the confirmation; `/purchase` alone asks
for the member and then the amount. The order id is fixed when the confirmation is
shown, so a double tap records one purchase. The role is checked at every step. The
flow is drawn in purchase.mmd beside this file.
"""

from __future__ import annotations

import re

from babel.numbers import get_currency_precision

from domain.members import members
from domain.members.tables import Member
from domain.points import purchases
from domain.points.purchases import Order, PurchaseRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Money, button, reply
from handlers.engine.words import number
from handlers.staff.roles import denied, member_arg

MEMBER = "purchase.member"
AMOUNT = "purchase.amount"
FLOW = Flow.beside(__file__, "purchase.mmd", MEMBER, AMOUNT)
router = Router(flows=[FLOW])
AMOUNT_TEXT = re.compile(r"(\d{1,10})(?:[.,](\d{1,3}))?")


def parse_amount(text: str, currency: str) -> int | None:
    """'128.50' -> 12850 minor units, with integers only; None when it is not an amount."""
    match = AMOUNT_TEXT.fullmatch(text.strip().lstrip("¥$€£"))
    places = get_currency_precision(currency)
    if match is None or len(match.group(2) or "") > places:
        return None
    minor = int(match.group(1)) * 10 ** places + int((match.group(2) or "").ljust(places, "0")
                                                     or 0)
    return minor if 1 <= minor <= purchases.MAX_AMOUNT else None


@router.command("purchase", listed=False)
async def start(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    if not parts:
        return Outcome([reply("purchase.ask_member")], state=MEMBER)
    if len(parts) != 2:
        return Outcome([reply("purchase.usage")])
    return await _confirm(ctx, parts[0], parts[1])


@router.state(MEMBER)
async def got_member(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    target = member_arg(ctx.text)
    if target is None or await ctx.uow.session.get(Member, target) is None:
        return Outcome([reply("purchase.bad_member")], state=MEMBER)
    return Outcome([reply("purchase.ask_amount", number=number(target))],
                   state=AMOUNT, data={"member": target})


@router.state(AMOUNT)
async def got_amount(ctx: Ctx) -> Outcome:
    return await _confirm(ctx, str(ctx.data.get("member", "")), ctx.text)


async def _confirm(ctx: Ctx, who: str, amount_text: str) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    target = member_arg(who)
    if target is None or await ctx.uow.session.get(Member, target) is None:
        return Outcome([reply("purchase.bad_member")], state=MEMBER)
    currency = ctx.programme.currency
    amount = parse_amount(amount_text, currency)
    if amount is None:
        return Outcome([reply("purchase.bad_amount")], state=AMOUNT,
                       data={"member": target})
    order = f"chat-{members.new_code(10)}"
    return Outcome([reply("purchase.confirm",
                          (button("purchase.yes", f"purchase:ok:{target}:{amount}:{order}"),
                           button("purchase.no", "purchase:no")),
                          amount=Money(amount, currency), number=number(target), order=order)])


@router.action("purchase:ok")
async def record(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    parts = (ctx.action or "").split(":")
    if len(parts) != 5 or not all(p.isascii() and p.isdigit() for p in parts[2:4]):
        return Outcome([reply("error.button_expired")])
    target, amount, order_id = int(parts[2]), int(parts[3]), parts[4]
    order = Order(order_id, amount, ctx.programme.currency, source="operator")
    try:
        done = await purchases.record(ctx.uow, ctx.programme, target, order, ctx.now)
    except PurchaseRefused:
        return Outcome([reply("error.button_expired")])
    if not done.duplicate:
        await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "purchase.record",
                           order_id, {"member": number(target), "amount": amount}, ctx.now)
    return Outcome([reply("purchase.again" if done.duplicate else "purchase.done",
                          order=order_id, number=number(target), points=done.points,
                          balance=done.balance)])


@router.action("purchase:no")
async def decline(ctx: Ctx) -> Outcome:
    return Outcome([reply("purchase.cancelled")])
