"""/purchase: an operator records a till purchase in chat, confirmed before it counts.

`/purchase 00000042 128.50` goes straight to the confirmation; `/purchase` alone asks
for the member and then the amount, and either answer may carry both (`00000042
128.50`). The order id is fixed when the confirmation is shown, so a double tap
records one purchase. The role is checked at every step. The reply shows every part
of what was earned: each rule, and a friend's referral welcome; it takes the
confirmation's place (Reply.edit), so its buttons go where the platform can edit. The
flow is drawn in purchase.mmd beside this file.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import localcontext

from babel.numbers import (
    NumberFormatError,
    get_currency_precision,
    get_currency_symbol,
    parse_decimal,
)

from domain.members import members
from domain.members.tables import Member
from domain.points import purchases
from domain.points.purchases import Order, PurchaseRefused, Recorded
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Local, Money, Reply, Text, button, reply
from handlers.engine.words import local, number
from handlers.points.earning_words import category_name, sku_name
from handlers.staff.roles import denied, member_arg

MEMBER = "purchase.member"
AMOUNT = "purchase.amount"
FLOW = Flow.beside(__file__, "purchase.mmd", MEMBER, AMOUNT)
router = Router(flows=[FLOW])
# What babel is given: digits, a point and thousands commas (no exponent, no sign, no
# "NaN"); long enough for any number a till could mean, and then some.
AMOUNT_TEXT = re.compile(r"[0-9.,]{1,130}")
# "12,5", "12,50", "1.250,50": a comma where a decimal point would be. A CNY till does
# not write decimals so, and guessing could record ten times too much: it is refused.
DECIMAL_COMMA = re.compile(r"\d+(?:[.,]\d{3})*,\d{1,2}")
MINUS = ("-", "−")
# How the money is also written around an amount, besides its code and babel's symbols.
MARKS = {"CNY": ("¥", "元", "RMB", "人民币")}


def read_amount(text: str, currency: str) -> int | None:
    """'128.50', '1,250', '¥1,250.00', '128.5元', 'RMB 60' -> minor units ('-5' -> -500),
    with integers only; None when the text is not written as an amount at all (whether
    it is allowed is asked apart). Full-width digits and marks read as their ASCII
    forms; a comma separates thousands only (babel checks the grouping)."""
    negative, body = _bare(text, currency)
    if not AMOUNT_TEXT.fullmatch(body):
        return None
    try:
        amount = parse_decimal(body, locale="en", strict=True)
    except NumberFormatError:
        return None
    with localcontext() as exact:
        exact.prec = 200  # 130 digits scaled: exact, never rounded
        minor = amount.scaleb(get_currency_precision(currency))
        if minor != minor.to_integral_value():  # "12.345": finer than the currency
            return None
    return -int(minor) if negative else int(minor)


def decimal_comma(text: str, currency: str) -> bool:
    """Whether a text read as no amount because a comma stands for the decimal point."""
    return DECIMAL_COMMA.fullmatch(_bare(text, currency)[1]) is not None


def _bare(text: str, currency: str) -> tuple[bool, str]:
    """The number as typed without the currency's marks, spaces or minus sign (which
    may come before or after the symbol: "-¥5", "¥-5"), and whether it had one."""
    body = unicodedata.normalize("NFKC", text).strip()  # "１，２５０" -> "1,250", "￥" -> "¥"
    negative = body.startswith(MINUS)
    body = body[1:].strip() if negative else body
    body = _unmarked(body, currency, lead=True)
    if not negative and body.startswith(MINUS):
        negative, body = True, body[1:].strip()
    return negative, _unmarked(body, currency, lead=False)


def _unmarked(body: str, currency: str, lead: bool) -> str:
    """The body without one mark of the currency at its start (or end), in any case."""
    for mark in _marks(currency):
        part = body[:len(mark)] if lead else body[len(body) - len(mark):]
        if len(body) > len(mark) and part.casefold() == mark.casefold():
            return (body[len(mark):] if lead else body[:-len(mark)]).strip()
    return body


def _marks(currency: str) -> list[str]:
    """The currency's code, its symbols in our languages and its usual words; longest
    first, so that "CN¥" is taken whole rather than its "¥"."""
    found = {currency, *MARKS.get(currency, ())}
    found.update(get_currency_symbol(currency, locale=locale) for locale in ("en", "zh_Hans"))
    return sorted(found, key=len, reverse=True)


def parse_amount(text: str, currency: str) -> int | None:
    """An amount a purchase may have, in minor units; None when it is not one."""
    minor = read_amount(text, currency)
    return minor if minor is not None and allowed(minor) else None


def allowed(minor: int) -> bool:
    """The domain's range for an order amount (the API's schema says the same)."""
    return 1 <= minor <= purchases.MAX_AMOUNT


@router.command("purchase", role="operator")
async def start(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    parts = _split(ctx.arg, ctx.programme.currency)
    if parts == []:
        return Outcome([reply("purchase.ask_member")], state=MEMBER)
    if parts is None:
        return Outcome([reply("purchase.usage")])
    return await _member_then_amount(ctx, parts)


@router.state(MEMBER)
async def got_member(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    parts = _split(ctx.text, ctx.programme.currency)
    if not parts:
        return Outcome([reply("purchase.member_or_both")], state=MEMBER)
    return await _member_then_amount(ctx, parts)


def _split(text: str, currency: str) -> list[str] | None:
    """The member number and the amount, which may hold a space ("128.50 元");
    None when there is more than that."""
    parts = text.split(maxsplit=1)
    if len(parts) == 2 and len(parts[1].split()) > 1 and read_amount(parts[1], currency) is None:
        return None
    return parts


async def _member_then_amount(ctx: Ctx, parts: list[str]) -> Outcome:
    """The member number, and the amount when it came too; else the amount is asked."""
    if len(parts) == 2:
        return await _confirm(ctx, parts[0], parts[1])
    target, refusal = await _member(ctx, parts[0])
    if target is None:
        return refusal
    return Outcome([reply("purchase.ask_amount", number=number(target))],
                   state=AMOUNT, data={"member": target})


async def _member(ctx: Ctx, typed: str) -> tuple[int | None, Outcome]:
    """The member a typed number names, or why not (asking for it again)."""
    target = member_arg(typed.lstrip("#"))
    if target is None:
        return None, Outcome([reply("purchase.not_a_number")], state=MEMBER)
    found = await ctx.uow.session.get(Member, target)
    if found is None or found.status == "erased":
        return None, Outcome([reply("purchase.bad_member", number=number(target))],
                             state=MEMBER)
    return target, Outcome([])


@router.state(AMOUNT)
async def got_amount(ctx: Ctx) -> Outcome:
    currency = ctx.programme.currency
    if read_amount(ctx.text, currency) is None and not decimal_comma(ctx.text, currency):
        parts = _split(ctx.text, currency)  # the member again, with the amount: another
        if parts is not None and len(parts) == 2:  # member, perhaps
            return await _confirm(ctx, parts[0], parts[1])
    return await _confirm(ctx, str(ctx.data.get("member", "")), ctx.text)


async def _confirm(ctx: Ctx, who: str, amount_text: str) -> Outcome:
    refusal = await denied(ctx, "purchase")
    if refusal is not None:
        return refusal
    target, unknown = await _member(ctx, who)
    if target is None:
        return unknown
    currency = ctx.programme.currency
    amount = read_amount(amount_text, currency)
    if amount is None:  # a decimal comma is named: "12,5" is not read as 12.50 or 125
        unread = (reply("purchase.decimal_comma", typed=amount_text[:32])
                  if decimal_comma(amount_text, currency) else reply("purchase.bad_amount"))
        return Outcome([unread], state=AMOUNT, data={"member": target})
    if not allowed(amount):  # 0, -5, or more than any till takes: the range, not the format
        return Outcome([reply("purchase.amount_range", low=Money(1, currency),
                              high=Money(purchases.MAX_AMOUNT, currency))],
                       state=AMOUNT, data={"member": target})
    order = f"chat-{members.new_code(10)}"
    return Outcome([reply("purchase.confirm",
                          (button("purchase.yes", f"purchase:ok:{target}:{amount}:{order}"),
                           button("purchase.no", f"purchase:no:{order}")),
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
    return Outcome([Reply("purchase.again" if done.duplicate else "purchase.done",
                          {"order": order_id, "number": number(target),
                           "points": done.points + done.referral, "balance": done.balance,
                           "parts": breakdown(ctx, done)}, edit=True)])


REASONS = ("purchase", "tier_bonus", "category_bonus", "sku_bonus", "promotion",
           "campaign_bonus", "plan_bonus", "first_purchase")


def breakdown(ctx: Ctx, done: Recorded) -> list[Text]:
    """One line per rule that paid (`category:teaware` names its category), then the
    referral welcome: together they add up to what the reply says was earned."""
    lines = []
    for rule in done.rules:
        reason, detail = str(rule["reason"]), str(rule["rule"]).partition(":")[2]
        if reason in REASONS:
            lines.append(Text(f"purchase.part.{reason}", {
                "points": rule["points"], "name": _named(ctx, reason, detail)}))
        else:
            lines.append(Text("purchase.part.other", {"code": reason, "points": rule["points"]}))
    if done.referral:
        lines.append(Text("purchase.part.referral_welcome", {"points": done.referral}))
    return lines


def _named(ctx: Ctx, reason: str, detail: str) -> Local | str:
    """A promotion, category or SKU by the name the programme gives it now."""
    if reason == "category_bonus":
        return category_name(ctx.programme.earning, detail)
    if reason == "sku_bonus":
        return sku_name(ctx.programme.earning, detail)
    if reason == "promotion":
        promotion = next((p for p in ctx.programme.earning.promotions if p.code == detail), None)
        if promotion is not None:
            return local(promotion.name)
    return detail


@router.action("purchase:no")
async def decline(ctx: Ctx) -> Outcome:
    """No: nothing is recorded, unless this confirmation's Yes came first (the order
    it names is on the books), which a late No cannot undo: a refund can."""
    order = (ctx.action or "").split(":")[2:3]
    if order and await purchases.recorded(ctx.uow, order[0][:64]):
        return Outcome([Reply("purchase.no_too_late", {"order": order[0][:64]}, edit=True)])
    return Outcome([Reply("purchase.cancelled", edit=True)])
