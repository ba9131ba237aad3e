"""/mute, /unmute, /ban, /unban and /kick, by the group's admins and memberbot's staff.

The platform acts first: when it refuses (the bot lacks the right, the person is an
admin) the dispatcher answers why and nothing is recorded. A mute or ban is recorded
so that newcomers.py puts it back when the person leaves and rejoins.
"""

from __future__ import annotations

from datetime import timedelta

from domain.community import restrictions
from domain.community.restrictions import BAN, MUTE
from handlers.community.moderation.commands_targets import (
    because,
    find_target,
    length_and_reason,
    log,
    more,
    name_of,
    punishable,
)
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import GroupChat, GroupOutcome, Person
from handlers.community.words import length as spoken_length
from handlers.engine.types import Reply, Text, reply

router = GroupRouter()
DONE = {MUTE: "moderation.muted", BAN: "moderation.banned"}
UNDONE = {MUTE: "moderation.unmuted", BAN: "moderation.unbanned"}


async def restrict(ctx: GroupCtx, chat: GroupChat, person: Person, kind: str,
                   length: timedelta | None, reason: str, outcome: GroupOutcome,
                   chat_title: str | None = None) -> Reply:
    """Mute or ban on the platform, record it, tell the log chat: the group's answer."""
    span = restrictions.lasting(ctx.now, length)
    if kind == MUTE:
        await chat.mute(person.user_id, span.until)
    else:
        await chat.ban(person.user_id, span.until)
    await restrictions.impose(ctx.work(), ctx.event.platform, chat.chat_id, person.user_id,
                              kind, span.until, reason or None, ctx.actor, ctx.now)
    lasts = (Text("moderation.for", {"length": spoken_length(length)})
             if span.until is not None and length is not None
             else Text(f"moderation.for_ever.{kind}"))
    forced = Text("moderation.forever_note") if span.forced else None
    spelt = (spoken_length(length) if span.until is not None and length is not None
             else Text("moderation.permanent"))
    log(ctx, outcome, kind, person, Text("moderation.log_length", {"length": spelt}),
        because(reason), chat_title=chat_title)
    return reply(DONE[kind], name=name_of(person), length=lasts,
                 more=more(forced, because(reason)))


async def _restricting(ctx: GroupCtx, kind: str) -> GroupOutcome:
    found = await punishable(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    said = length_and_reason(found.rest)
    if isinstance(said, Reply):
        return GroupOutcome([said])
    length, reason = said
    outcome = GroupOutcome()
    outcome.replies.append(await restrict(ctx, ctx.chat, found.person, kind, length, reason,
                                          outcome))
    return outcome


@router.command("mute")
async def mute(ctx: GroupCtx) -> GroupOutcome:
    return await _restricting(ctx, MUTE)


@router.command("ban")
async def ban(ctx: GroupCtx) -> GroupOutcome:
    return await _restricting(ctx, BAN)


async def _lifting(ctx: GroupCtx, kind: str) -> GroupOutcome:
    found = await find_target(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    person = found.person
    if not person.user_id:  # the bot itself, by its @username
        return GroupOutcome([reply("moderation.target_self")])
    if kind == MUTE:
        await ctx.chat.unmute(person.user_id)
    else:
        await ctx.chat.unban(person.user_id)
    await restrictions.lift(ctx.work(), ctx.event.platform, ctx.event.chat_id,
                            person.user_id, kind, ctx.actor, ctx.now)
    outcome = GroupOutcome([reply(UNDONE[kind], name=name_of(person))])
    log(ctx, outcome, f"un{kind}", person)
    return outcome


@router.command("unmute")
async def unmute(ctx: GroupCtx) -> GroupOutcome:
    return await _lifting(ctx, MUTE)


@router.command("unban")
async def unban(ctx: GroupCtx) -> GroupOutcome:
    return await _lifting(ctx, BAN)


async def remove(ctx: GroupCtx, chat: GroupChat, person: Person, reason: str,
                 outcome: GroupOutcome, chat_title: str | None = None) -> Reply:
    """Out of the group, free to come back."""
    await chat.kick(person.user_id)
    await restrictions.kicked(ctx.work(), ctx.event.platform, chat.chat_id, person.user_id,
                              reason or None, ctx.actor, ctx.now)
    log(ctx, outcome, "kick", person, because(reason), chat_title=chat_title)
    return reply("moderation.kicked", name=name_of(person), more=more(because(reason)))


@router.command("kick")
async def kick(ctx: GroupCtx) -> GroupOutcome:
    found = await punishable(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    said = length_and_reason(found.rest)
    if isinstance(said, Reply):
        return GroupOutcome([said])
    length, reason = said
    if length is not None:  # a kick lasts no time: a length means /ban was meant
        return GroupOutcome([reply("moderation.kick_no_length")])
    outcome = GroupOutcome()
    outcome.replies.append(await remove(ctx, ctx.chat, found.person, reason, outcome))
    return outcome
