"""/start: zero-friction sign-up (0元入会) and the greeting."""

from __future__ import annotations

from domain.members import members
from domain.points import ledger
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import button, reply
from handlers.engine.words import local, number, tier_name
from handlers.members import link

router = Router()


@router.command("start")
async def start(ctx: Ctx) -> Outcome:
    if ctx.arg.startswith("link_"):
        return await link.use_code(ctx, ctx.arg[len("link_"):])
    member = ctx.member
    tier = ctx.programme.tiers.by_code(member.tier) or ctx.programme.tiers.levels[0]
    rows = []
    if not members.profile_complete(member):
        rows = [(button("start.complete_profile", "profile:walk"),
                 button("start.later", "start:later"))]
    key = "start.welcome" if ctx.created else "start.welcome_back"
    points = await ledger.settle(ctx.uow, member, ctx.now)
    return Outcome([reply(key, *rows, programme=local(ctx.programme.name),
                          number=number(member.id), tier=tier_name(tier), points=points)])


@router.action("start:later")
async def later(ctx: Ctx) -> Outcome:
    return Outcome([reply("start.later_ok")])
