"""/warn, /warns, /unwarn, /resetwarns and the "remove warn" button under each warn.

At the group's limit the warn mode's action follows (mute or ban until lifted, or a
kick) and the count starts again. The button is for the group's admins holding "Ban
users": anyone else pressing it changes nothing and is told so privately (a toast), so
the group does not hear every stray press.
"""

from __future__ import annotations

from domain.community import people
from domain.community import warns as book
from domain.community.group_settings import Rules
from domain.community.restrictions import BAN, MUTE
from handlers.community.moderation.commands import remove, restrict
from handlers.community.moderation.commands_targets import (
    because,
    cleaned,
    edited,
    find_target,
    log,
    more,
    name_of,
    punishable,
)
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter, toast
from handlers.community.moderation.events import RESTRICT, GroupChat, GroupOutcome, Person
from handlers.engine.types import Reply, Text, button, reply

router = GroupRouter()
UNWARN = "unwarn"


async def give(ctx: GroupCtx, chat: GroupChat, rules: Rules, person: Person, reason: str,
               outcome: GroupOutcome, chat_title: str | None = None) -> Reply:
    """A warn, and at the limit the mode's action: the group's answer."""
    warned = await book.warn(ctx.work(), ctx.event.platform, chat.chat_id, person.user_id,
                             reason or None, rules.warn_limit, ctx.actor, ctx.now)
    log(ctx, outcome, "warn", person,
        Text("moderation.log_count", {"count": warned.count, "limit": warned.limit}),
        because(reason), rules=rules, chat_title=chat_title)
    if not warned.reached:
        return reply("moderation.warned",
                     [button("moderation.unwarn_button", f"{UNWARN}:{warned.warn_id}")],
                     name=name_of(person), count=warned.count, limit=warned.limit,
                     more=more(because(reason)))
    if rules.warn_mode in (MUTE, BAN):
        done = await restrict(ctx, chat, person, rules.warn_mode, None, reason, outcome,
                              chat_title)
    else:
        done = await remove(ctx, chat, person, reason, outcome, chat_title)
    return reply("moderation.warn_limit", name=name_of(person), count=warned.limit,
                 action=Text(done.key, done.params))


@router.command("warn")
async def warn(ctx: GroupCtx) -> GroupOutcome:
    found = await punishable(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    outcome = GroupOutcome()
    outcome.replies.append(await give(ctx, ctx.chat, ctx.rules, found.person,
                                      cleaned(found.rest), outcome))
    return outcome


@router.command("warns", moderators=False)
async def listing(ctx: GroupCtx) -> GroupOutcome:
    """Anyone may see a person's warns (their own when they name nobody): they were
    given in front of the group."""
    if ctx.arg or ctx.event.reply_to is not None or ctx.event.mentioned:
        found = await find_target(ctx)
        if isinstance(found, Reply):
            return GroupOutcome([found])
        person = found.person
    else:
        person = ctx.event.person
    given = await book.listing(ctx.work(), ctx.event.platform, ctx.event.chat_id,
                               person.user_id)
    if not given:
        return GroupOutcome([reply("moderation.warns_none", name=name_of(person))])
    lines = [Text("moderation.warns_line", {
        "n": str(n), "reason": w.reason or Text("moderation.no_reason")})
        for n, w in enumerate(given, 1)]
    return GroupOutcome([reply("moderation.warns", name=name_of(person), count=len(given),
                               limit=ctx.rules.warn_limit, lines=lines)])


@router.command("unwarn")
async def unwarn(ctx: GroupCtx) -> GroupOutcome:
    found = await find_target(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    person = found.person
    left = await book.take_back(ctx.work(), ctx.event.platform, ctx.event.chat_id,
                                person.user_id, ctx.actor, ctx.now)
    if left is None:
        return GroupOutcome([reply("moderation.warns_none", name=name_of(person))])
    outcome = GroupOutcome([reply("moderation.unwarned", name=name_of(person), count=left,
                                  limit=ctx.rules.warn_limit)])
    log(ctx, outcome, "unwarn", person)
    return outcome


@router.command("resetwarns")
async def resetwarns(ctx: GroupCtx) -> GroupOutcome:
    found = await find_target(ctx)
    if isinstance(found, Reply):
        return GroupOutcome([found])
    person = found.person
    cleared = await book.reset(ctx.work(), ctx.event.platform, ctx.event.chat_id,
                               person.user_id, ctx.actor, ctx.now)
    if not cleared:
        return GroupOutcome([reply("moderation.warns_none", name=name_of(person))])
    outcome = GroupOutcome([reply("moderation.warns_reset", name=name_of(person),
                                  count=cleared)])
    log(ctx, outcome, "resetwarns", person)
    return outcome


@router.button(UNWARN)
async def unwarn_button(ctx: GroupCtx) -> GroupOutcome:
    """`unwarn:<warn id>` under a warn message."""
    _, _, ref = (ctx.event.action or "").partition(":")
    if not ref.isdigit() or len(ref) > 18:
        return GroupOutcome()  # not ours: forged or mangled data
    refused = await ctx.button_refusal(RESTRICT)
    if refused is not None:
        return refused
    uow, platform, chat_id = ctx.work(), ctx.event.platform, ctx.event.chat_id
    owner = await book.owner_of(uow, platform, chat_id, int(ref))
    if owner is None:  # a second press: the message already says who removed it
        return toast("moderation.unwarn_gone")
    await book.take_back(uow, platform, chat_id, owner, ctx.actor, ctx.now, int(ref))
    seen = await people.by_id(uow, platform, owner)
    person = Person(owner, seen.name if seen else owner)
    outcome = GroupOutcome([edited(reply("moderation.unwarn_pressed", name=name_of(person),
                                         admin=name_of(ctx.event.person)))])
    log(ctx, outcome, "unwarn", person)
    return outcome
