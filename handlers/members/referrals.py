"""/invite: the member's personal referral link and what it has earned.

Telegram gets a deep link. Elsewhere the reply names the code and carries the
member's referral scene (`ref_CODE`): a platform that issues QR scene codes (WeChat)
shows the member's own QR code with the scene caption, and one that cannot (the
console, or WeChat when its API fails) shows the code as text. The handler never
asks a platform for anything; the adapter resolves the scene.
"""

from __future__ import annotations

from domain.members import referrals
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Scene, Text, reply

router = Router()


@router.command("invite")
async def invite(ctx: Ctx) -> Outcome:
    rules = ctx.programme.earning
    params = {"referrer": rules.referrer, "referee": rules.referee,
              "friends": await referrals.rewarded_count(ctx.uow, ctx.member.id),
              "code": ctx.member.referral_code}
    if ctx.start_link is not None:  # a link that opens the chat with the code in it
        url = ctx.start_link.format(payload=f"ref_{ctx.member.referral_code}")
        return Outcome([reply("invite.link", link=url, **params)])
    scene = Scene(f"ref_{ctx.member.referral_code}", Text("invite.scene", params))
    return Outcome([Reply("invite.code", params, scene=scene)])
