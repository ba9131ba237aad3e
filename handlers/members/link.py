"""/link: one person, several platforms. Issue a code on one, enter it on another.

A newcomer's first message may be the code (`/link CODE`, or `/start link_CODE` from a
link or a WeChat scene): their account joins that member at once, with no member of
its own made first, and a refused code makes nobody either. Drawn in link.mmd.
"""

from __future__ import annotations

from domain.errors import LinkRefused
from domain.members import members
from domain.members.tables import Member
from handlers.engine.routing import Arrival, Arrived, Ctx, Outcome, Router
from handlers.engine.types import Reply, reply
from handlers.engine.words import number

router = Router()
START_PREFIX = "link_"  # `/start link_CODE`


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
    return Outcome([_linked(target)])


@router.arrival("link")
async def link_on_arrival(arrival: Arrival) -> Arrived | None:
    return await _join(arrival, arrival.arg) if arrival.arg else None


@router.arrival("start")
async def start_on_arrival(arrival: Arrival) -> Arrived | None:
    if not arrival.arg.startswith(START_PREFIX):
        return None
    return await _join(arrival, arrival.arg[len(START_PREFIX):])


async def _join(arrival: Arrival, code: str) -> Arrived:
    inbound = arrival.inbound
    try:
        target = await members.link(arrival.uow, code, inbound.platform, inbound.user_id,
                                    arrival.now)
    except LinkRefused as refused:
        return Arrived(None, [reply(f"link.{refused.code}")])
    return Arrived(target, [_linked(target)])


def _linked(target: Member) -> Reply:
    return reply("link.done", number=number(target.id), points=target.points_balance)
