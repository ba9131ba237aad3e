"""/coupons: the member's coupons with status and expiry, and a QR image of each
usable code for the till to scan."""

from __future__ import annotations

import io

import segno

from domain.rewards import coupons
from domain.rewards.tables import Coupon
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, reply
from handlers.engine.words import local

router = Router()
SHOWN_WITH_QR = 5


def qr_png(code: str) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(code, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def title(ctx: Ctx, coupon: Coupon) -> object:
    item = ctx.programme.reward(coupon.reward)
    return local(item.title) if item is not None else coupon.reward


def card(ctx: Ctx, coupon: Coupon) -> Reply:
    return Reply("coupons.card", {"title": title(ctx, coupon),
                                  "code": coupons.display(coupon.code),
                                  "until": ctx.local(coupon.expires_at).date()},
                 image=qr_png(coupon.code), qr=coupon.code)


@router.command("coupons")
async def list_coupons(ctx: Ctx) -> Outcome:
    mine = await coupons.of_member(ctx.uow, ctx.member.id)
    if not mine:
        return Outcome([reply("coupons.none")])
    lines = [Text("coupons.line", {"title": title(ctx, c), "status": _status(ctx, c),
                                   "until": ctx.local(c.used_at or c.expires_at).date()})
             for c in mine]
    replies = [reply("coupons.list", lines=lines)]
    usable = [c for c in mine if coupons.usable(c, ctx.now)][:SHOWN_WITH_QR]
    replies.extend(card(ctx, c) for c in usable)
    return Outcome(replies)


def _status(ctx: Ctx, coupon: Coupon) -> Text:
    if coupon.status == "used":
        return Text("coupons.status.used")
    if coupon.expires_at <= ctx.now:
        return Text("coupons.status.expired")
    return Text("coupons.status.issued")
