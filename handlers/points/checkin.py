"""/checkin (签到): daily points with streak bonuses."""

from __future__ import annotations

from domain.errors import AlreadyCheckedIn
from domain.points import checkin
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, reply
from handlers.engine.words import tier_called

router = Router()


@router.command("checkin")
async def check_in(ctx: Ctx) -> Outcome:
    before = ctx.member.tier
    try:
        done = await checkin.check_in(ctx.uow, ctx.programme, ctx.member, ctx.now)
    except AlreadyCheckedIn as already:
        return Outcome([reply("checkin.already", count=already.params["streak"])])
    replies: list[Reply] = [reply("checkin.done", points=done.base + done.bonus,
                                  count=done.streak, balance=done.balance)]
    if done.bonus:
        replies.append(reply("checkin.bonus", bonus=done.bonus, count=done.streak))
    if done.tier_changed:
        ladder = ctx.programme.tiers
        up = ladder.rank(done.tier_changed) > ladder.rank(before)
        replies.append(reply("tier.upgraded" if up else "tier.downgraded",
                             tier=tier_called(ladder, done.tier_changed)))
    return Outcome(replies)
