"""/terms and /paysupport: the programme's terms of membership, and where to turn with a
payment question, both from the programme file ([membership]) in the member's language.
Telegram asks both of every bot that takes payments; they are the same everywhere."""

from __future__ import annotations

from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import reply
from handlers.engine.words import local

router = Router()


@router.command("terms")
async def terms(ctx: Ctx) -> Outcome:
    return Outcome([reply("membership.terms", programme=local(ctx.programme.name),
                          terms=local(ctx.programme.membership.terms))])


@router.command("paysupport")
async def paysupport(ctx: Ctx) -> Outcome:
    return Outcome([reply("membership.paysupport",
                          words=local(ctx.programme.membership.payment_support))])
