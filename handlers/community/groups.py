"""/groups: the chats a member's tier opens, with their join links, and what the locked
ones need. /tier offers it as a button when the programme has gated chats.

A chat kept by hand (gates.BY_HAND) is joined by scanning its picture: the member
who qualifies gets the picture, one reply each, and from then on counts as in that
chat, so staff are told to take them out if they stop qualifying."""

from __future__ import annotations

from domain.community import gates, seats
from domain.community.seats import opens
from domain.membership import passes
from domain.staff import roles
from domain.tiers import tiers
from handlers.community.words import needs
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, reply

router = Router()
SHOW = "groups:show"


@router.command("groups")
async def groups(ctx: Ctx) -> Outcome:
    found = await gates.on_platform(ctx.uow, ctx.inbound.platform)
    if not found:
        return Outcome([reply("community.groups_none")])
    ladder = ctx.programme.tiers
    progress = await tiers.progress(ctx.uow, ladder, ctx.member, ctx.now)
    # Staff are let in whatever their tier (domain.community.joining), so they get links.
    staff = bool(await roles.held(ctx.uow, ctx.member.id))
    lines, pictures = [], []
    for gate in found:
        allowed = staff or opens(ladder, gate, ctx.member.tier) or \
            await passes.holds_pass(ctx.uow, ctx.member.id, gate.chat_id)
        image = await gates.join_image(ctx.uow, gate) if allowed and \
            gate.kind == gates.BY_HAND else None
        if image is not None:
            await seats.shown(ctx.uow, gate, ctx.inbound.user_id, ctx.member.id, ctx.now)
            lines.append(Text("community.groups_scan_line", {"chat": gate.title}))
            pictures.append(Reply("community.groups_scan", {"chat": gate.title},
                                  image=image))
        elif allowed and gate.join_link:
            lines.append(Text("community.groups_open", {"chat": gate.title,
                                                        "link": gate.join_link}))
        else:
            lines.append(Text("community.groups_locked", {
                "chat": gate.title, **needs(ctx.programme, progress, gate.min_tier)}))
    return Outcome([reply("community.groups", lines=lines), *pictures])


@router.action(SHOW)
async def groups_button(ctx: Ctx) -> Outcome:
    return await groups(ctx)
