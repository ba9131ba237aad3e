"""/link: one person, several platforms. Issue a code on one, enter it on another."""

from __future__ import annotations

from domain.errors import LinkRefused
from domain.members import members
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import reply
from handlers.engine.words import number

router = Router()


@router.command("link")
async def link(ctx: Ctx) -> Outcome:
    if ctx.arg:
        return await use_code(ctx, ctx.arg)
    code = await members.issue_link_code(ctx.uow, ctx.member.id, ctx.now)
    minutes = int(members.LINK_CODE_TTL.total_seconds() // 60)
    return Outcome([reply("link.code", code=code.code, minutes=minutes)])


async def use_code(ctx: Ctx, code: str) -> Outcome:
    try:
        target = await members.link(ctx.uow, code, ctx.inbound.platform, ctx.inbound.user_id,
                                    ctx.now)
    except LinkRefused as refused:
        return Outcome([reply(f"link.{refused.code}")])
    ctx.member = target
    return Outcome([reply("link.done", number=number(target.id), points=target.points_balance)])
