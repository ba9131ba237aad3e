"""/invite: the member's personal referral link and what it has earned."""

from __future__ import annotations

from domain import referrals
from handlers.routing import Ctx, Outcome, Router
from handlers.types import reply

router = Router()


@router.command("invite")
async def invite(ctx: Ctx) -> Outcome:
    rules = ctx.programme.earning
    params = {"referrer": rules.referrer, "referee": rules.referee,
              "friends": await referrals.rewarded_count(ctx.uow, ctx.member.id),
              "code": ctx.member.referral_code}
    url = (referrals.link(ctx.bot_username, ctx.member.referral_code)
           if ctx.inbound.platform == "telegram" else None)
    if url is not None:
        return Outcome([reply("invite.link", link=url, **params)])
    return Outcome([reply("invite.code", **params)])
