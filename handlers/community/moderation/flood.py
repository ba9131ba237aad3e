"""Antiflood: too many messages in a row by one person, and the group's action on them.

Every group message passes here, so the counting costs no database access: each chat
keeps, in this process's memory, who spoke last, how many messages in a row and since
when, and which albums of that run were counted (an album's photos arrive as one
message each but count once). The limit and the action come from `ctx.rules`, which
the dispatcher keeps cached. Only a flood, which is rare, opens a transaction: to see
whether the flooder moderates the chat, and to record what was done.

`/setflood N|off` and `/setfloodmode mute|kick|ban [duration]` set them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.community import durations, group_settings, restrictions
from domain.community.group_settings import MODES, Rules
from handlers.community.moderation.commands_targets import shown
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter
from handlers.community.moderation.events import MESSAGE, GroupOutcome, Person
from handlers.community.words import length as spoken_length
from handlers.engine.types import Reply, Text, reply

log = logging.getLogger(__name__)
router = GroupRouter()

WINDOW = timedelta(seconds=10)  # a run of messages longer than this starts over
LIMITS = range(3, 101)
OFF = frozenset({"off", "no", "0"})
ALBUMS_KEPT = 16  # album ids remembered per run: a run is short, this is plenty
ACTOR, REASON = "antiflood", "flood"  # in the audit log and the kept restriction


@dataclass
class Run:
    """One chat's latest run of messages by one person."""

    user_id: str
    started: datetime
    count: int = 1
    albums: set[str] = field(default_factory=set)


_runs: dict[tuple[str, str], Run] = {}


def forget(platform: str | None = None, chat_id: str | None = None) -> None:
    """Drop the counts of one chat (its limit changed), or of every chat."""
    if platform is None or chat_id is None:
        _runs.clear()
    else:
        _runs.pop((platform, chat_id), None)


def counted(platform: str, chat_id: str, user_id: str, album: str | None, now: datetime,
            limit: int) -> bool:
    """Count one message; True when it makes `limit` in a row within the window (the
    run then starts over, so one flood is acted on once)."""
    key = (platform, chat_id)
    run = _runs.get(key)
    if run is None or run.user_id != user_id or now - run.started > WINDOW:
        _runs[key] = Run(user_id, now, albums={album} if album else set())
        return limit <= 1
    if album is not None:
        if album in run.albums:
            return False
        if len(run.albums) < ALBUMS_KEPT:
            run.albums.add(album)
    run.count += 1
    if run.count < limit:
        return False
    del _runs[key]
    return True


@router.on(MESSAGE)
async def watch(ctx: GroupCtx) -> GroupOutcome | None:
    limit = ctx.rules.flood_limit
    if limit <= 0:
        return None
    event = ctx.event
    if not counted(event.platform, event.chat_id, event.person.user_id, event.album,
                   ctx.now, limit):
        return None
    if event.person.user_id in await ctx.chat.admins():
        return None
    if ctx.uow is not None:  # a command: the dispatcher's transaction is open
        return await _flooded(ctx)
    async with ctx.db.uow() as uow:
        ctx.uow = uow
        try:
            outcome = await _flooded(ctx)
            await uow.commit()
        finally:
            ctx.uow = None
    return outcome


async def _flooded(ctx: GroupCtx) -> GroupOutcome | None:
    """Act on a flood by someone who does not moderate the chat."""
    if await ctx.may_moderate():  # memberbot's staff, who are not the chat's admins
        return None
    event, who, uow = ctx.event, ctx.event.person, ctx.work()
    mode, length = flood_action(ctx.rules)
    until = restrictions.lasting(ctx.now, length).until
    if mode == "kick":
        await ctx.chat.kick(who.user_id)
        await restrictions.kicked(uow, event.platform, event.chat_id, who.user_id, REASON,
                                  ACTOR, ctx.now)
    else:
        if mode == "ban":
            await ctx.chat.ban(who.user_id, until)
        else:
            await ctx.chat.mute(who.user_id, until)
        # Kept, so leaving and coming back does not end it.
        await restrictions.impose(uow, event.platform, event.chat_id, who.user_id, mode,
                                  until, REASON, ACTOR, ctx.now)
    action = action_words(mode, length)
    outcome = GroupOutcome([reply("moderation.flood.acted", name=shown_name(who),
                                  action=action)])
    if ctx.rules.log_chat:
        outcome.elsewhere.append((ctx.rules.log_chat, reply(
            "moderation.flood.logged", chat=event.chat_title, name=shown_name(who),
            user=who.user_id, action=action), ctx.locale))
    log.info("flood", extra={"chat": event.chat_id, "user": who.user_id, "mode": mode})
    return outcome


def shown_name(who: Person) -> str:
    return f"@{who.username}" if who.username else who.name


# ------------------------------------------------------------------ settings


def flood_action(rules: Rules) -> tuple[str, timedelta | None]:
    """What a flood gets: the action, and how long it lasts (None: no end)."""
    length = timedelta(seconds=rules.flood_for_s) if rules.flood_for_s else None
    return rules.flood_mode, length if rules.flood_mode != "kick" else None


def action_words(mode: str, length: timedelta | None) -> Text:
    if length is None:
        return Text(f"moderation.flood.action.{mode}")
    if length < restrictions.SHORTEST or length > restrictions.LONGEST:  # Telegram's bounds
        return Text(f"moderation.flood.action.{mode}_forever",
                    {"duration": spoken_length(length)})
    return Text(f"moderation.flood.action.{mode}_for", {"duration": spoken_length(length)})


def _usage() -> Reply:
    return reply("moderation.flood.usage", seconds=str(int(WINDOW.total_seconds())),
                 least=str(LIMITS[0]), most=str(LIMITS[-1]))


def _state(ctx: GroupCtx) -> Reply:
    rules = ctx.changed_rules or ctx.rules
    mode, length = flood_action(rules)
    if rules.flood_limit <= 0:
        return reply("moderation.flood.off", action=action_words(mode, length))
    return reply("moderation.flood.on", limit=str(rules.flood_limit),
                 seconds=str(int(WINDOW.total_seconds())), action=action_words(mode, length))


@router.command("setflood")
async def set_flood(ctx: GroupCtx) -> GroupOutcome:
    typed = ctx.arg.strip().lower()
    if not typed:
        return GroupOutcome([_state(ctx), _usage()])
    if typed in OFF:
        limit = 0
    elif typed.isdecimal() and len(typed) <= 6 and int(typed) in LIMITS:
        limit = int(typed)
    else:  # the usage, then what was wrong with what they wrote
        why = "moderation.flood.limit_range" if typed.isdecimal() else \
            "moderation.flood.limit_words"
        return GroupOutcome([_usage(), reply(why, typed=shown(typed, 16), least=str(LIMITS[0]),
                                             most=str(LIMITS[-1]))])
    event = ctx.event
    ctx.changed_rules = await group_settings.change(
        ctx.work(), event.platform, event.chat_id, ctx.actor, ctx.now, flood_limit=limit)
    forget(event.platform, event.chat_id)
    return GroupOutcome([_state(ctx)])


@router.command("setfloodmode")
async def set_flood_mode(ctx: GroupCtx) -> GroupOutcome:
    words = ctx.arg.lower().split()
    if not words:
        return GroupOutcome([_state(ctx), reply("moderation.flood.mode_usage")])
    mode = {"tmute": "mute", "tban": "ban"}.get(words[0], words[0])
    if mode not in MODES or len(words) > 2 or (mode == "kick" and len(words) == 2):
        return GroupOutcome([reply("moderation.flood.mode_usage")])
    length = None
    if len(words) == 2:
        length = durations.parse(words[1])
        if length is None:
            return GroupOutcome([reply("moderation.flood.bad_duration",
                                       typed=words[1][:32])])
    seconds = int(length.total_seconds()) if length and mode != "kick" else None
    event = ctx.event
    ctx.changed_rules = await group_settings.change(
        ctx.work(), event.platform, event.chat_id, ctx.actor, ctx.now, flood_mode=mode,
        flood_for_s=seconds or None)
    return GroupOutcome([_state(ctx)])
