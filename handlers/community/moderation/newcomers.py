"""Newcomers: a mute or ban that outlives leaving, the captcha, and the welcome.

Someone who comes in is, in this order: held to a mute or ban recorded against them
(leaving and coming back ends neither); else, when the group asks for a captcha and
they are not one of its admins, memberbot's staff or a member of the skip tier or
above, muted and shown a small sum with four answers; else welcomed. The welcome of a
captcha's newcomer waits for the right answer. A wrong answer, or no answer in time
(`expire_due`, which the platform's worker calls every few seconds), takes them out.

The platform may refuse any action (the bot lost a right, the newcomer left at once):
that is logged and the arrival goes on as well as it can, so one refusal never leaves
the next newcomer unhandled.

A welcome is one message, whatever names fill it: /setwelcome refuses a text that the
longest names could stretch past one, and a filled-in welcome is cut to fit all the
same. `/captcha off` lets in whoever is still waiting on a captcha.

A platform that paces a group's messages (Telegram: 20 a minute) offers `soon` (see
`Paced`): then the newcomer is muted and their captcha recorded at once, and the sum
is posted when the group's turn comes, its message id recorded then. A join raid thus
never holds up the group's next updates, nor, through them, anybody else's.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from domain.community import captchas, group_settings
from domain.community import restrictions as kept
from domain.community.group_settings import CAPTCHA_MINUTES, Rules
from domain.community.tables import GroupCaptcha
from domain.config import Programme
from domain.members import members
from domain.staff import roles
from domain.storage.database import Database, UnitOfWork
from handlers.community.gates import find_tier
from handlers.community.moderation.dispatch import GroupCtx, GroupRouter, toast
from handlers.community.moderation.events import (
    JOINED,
    LEFT,
    SETTINGS,
    ChatActionError,
    GroupChat,
    GroupOutcome,
    Person,
)
from handlers.engine.types import Reply, Text, button, mentioned, reply
from handlers.engine.words import tier_called

log = logging.getLogger(__name__)
router = GroupRouter()

SWITCH = {"on": True, "off": False}
WELCOME_LENGTH = 4096  # characters GroupSettings.welcome_text holds
ONE_MESSAGE = 4096  # UTF-16 units in one message (Telegram's limit, which counts so)
# The longest each placeholder can bring in, as the platform bounds names (Telegram: a
# first and a last name of 64 characters each, a group's title of 128), for /setwelcome.
LONGEST = {"first": 64, "mention": 129, "chatname": 128, "count": 9}
ELLIPSIS = "…"
EXPIRY_PAGE = 100  # captchas settled per transaction by the expiry worker
PLACEHOLDERS = ("first", "mention", "chatname", "count")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@runtime_checkable
class Paced(Protocol):
    """A GroupChat whose messages wait for the platform's pace in a group. `soon` runs
    a job once the event at hand is handled and committed, in the chat's order, without
    holding up the chat's next updates."""

    def soon(self, job: Coroutine[Any, Any, None]) -> None: ...


@runtime_checkable
class Counted(Protocol):
    """A GroupChat that can tell how many members it has (for {count} where the event
    did not say: a welcome after a captcha, the /setwelcome preview)."""

    async def member_count(self) -> int: ...


# ------------------------------------------------------------------ arrival


@router.on(JOINED)
async def arrive(ctx: GroupCtx) -> GroupOutcome | None:
    who = ctx.event.person
    if who.is_bot:  # bots are added by admins: no captcha, no welcome
        return None
    if await _held(ctx, who):
        return None  # back under a mute or ban: no captcha to lift it, no welcome
    if ctx.rules.captcha_on and not await _skips(ctx, who):
        if await _challenge(ctx, who):
            return None  # the welcome waits for the right answer
    return await welcome(ctx, who)


async def _held(ctx: GroupCtx, who: Person) -> bool:
    """Apply again a mute or ban recorded against them; True when one is in force."""
    event = ctx.event
    found = await kept.active(ctx.work(), event.platform, event.chat_id, who.user_id, ctx.now)
    if not found:
        return False
    for restriction in found:
        try:
            if restriction.kind == "ban":
                await ctx.chat.ban(who.user_id, restriction.until)
            else:
                await ctx.chat.mute(who.user_id, restriction.until)
        except ChatActionError as refused:
            _refused("restriction", event.chat_id, who.user_id, refused)
    return True


async def _skips(ctx: GroupCtx, who: Person) -> bool:
    """The chat's admins, memberbot's staff and members of the skip tier or above."""
    try:
        if who.user_id in await ctx.chat.admins():
            return True
    except ChatActionError as refused:
        _refused("admins", ctx.event.chat_id, who.user_id, refused)
    uow = ctx.work()
    member = await members.by_identity(uow, ctx.event.platform, who.user_id)
    if member is None or member.status == "erased":
        return False
    if await roles.can(uow, member.id, "moderate"):
        return True
    skip = ctx.rules.captcha_skip_tier
    ladder = ctx.programme.tiers
    return skip is not None and ladder.rank(skip) >= 0 and \
        max(ladder.rank(member.tier), 0) >= ladder.rank(skip)


async def _challenge(ctx: GroupCtx, who: Person) -> bool:
    """Mute them and ask the sum; False when the platform would not let us (then they
    are welcomed as if there were no captcha)."""
    event, uow = ctx.event, ctx.work()
    waiting = await captchas.pending(uow, event.platform, event.chat_id, who.user_id)
    try:
        await ctx.chat.mute(who.user_id, None)
    except ChatActionError as refused:
        _refused("captcha mute", event.chat_id, who.user_id, refused)
        return False
    if waiting is not None and waiting.expires_at > ctx.now:
        return True  # the same arrival again: the sum already asked stands
    minutes = ctx.rules.captcha_minutes
    task = captchas.new_sum()
    ask = reply("moderation.captcha.ask",
                tuple(button("moderation.captcha.option", f"captcha:{n}", answer=str(n))
                      for n in task.choices),
                mention=mention(who), chatname=event.chat_title, a=str(task.a),
                b=str(task.b), minutes=str(minutes))
    paced = ctx.chat if isinstance(ctx.chat, Paced) else None
    message_id = None
    if paced is None:  # posted now, its message id recorded with the captcha
        try:
            message_id = await ctx.chat.post(ask, ctx.locale)
        except ChatActionError as refused:
            _refused("captcha post", event.chat_id, who.user_id, refused)
            await _quietly(ctx.chat.unmute(who.user_id), "captcha unmute", event.chat_id,
                           who.user_id)
            return False
    if waiting is not None:  # its time ran out unanswered, before the worker came
        await captchas.close(uow, waiting.id, captchas.EXPIRED, ctx.now)
        if waiting.message_id:
            await _quietly(ctx.chat.delete(waiting.message_id), "captcha delete",
                           event.chat_id)
    opened = await captchas.open(uow, event.platform, event.chat_id, who.user_id,
                                 task.answer, message_id,
                                 ctx.now + timedelta(minutes=minutes), ctx.now)
    if paced is not None:
        paced.soon(_post_captcha(ctx.db, ctx.chat, _Asked(
            event.platform, event.chat_id, who.user_id, opened.answer, opened.expires_at,
            timedelta(minutes=minutes)), ask, ctx.locale, ctx.clock))
    return True


@dataclass(frozen=True)
class _Asked:
    """Which captcha a post belongs to: the row of a newcomer is reused on each visit,
    so its answer and expiry tell this visit's apart from a later one."""

    platform: str
    chat_id: str
    user_id: str
    answer: int
    expires_at: datetime
    time_to_answer: timedelta

    async def pending(self, uow: UnitOfWork) -> GroupCaptcha | None:
        row = await captchas.pending(uow, self.platform, self.chat_id, self.user_id)
        if row is None or row.answer != self.answer or row.expires_at != self.expires_at:
            return None
        return row


async def _post_captcha(db: Database, chat: GroupChat, asked: _Asked, ask: Reply,
                        locale: str, clock: Callable[[], datetime]) -> None:
    """A recorded captcha's message, when the group's turn comes: the newcomer's time
    to answer runs from then, however long a join raid kept it waiting. Not posted at
    all if it was settled meanwhile (they left), taken away again if it was settled
    while going out. A platform that will not post it lets the newcomer in, as when
    it refuses at once."""
    async with db.uow() as uow:
        if await asked.pending(uow) is None:
            return
    try:
        message_id = await chat.post(ask, locale)
    except ChatActionError as refused:
        _refused("captcha post", asked.chat_id, asked.user_id, refused)
        await _let_in(db, chat, asked)
        return
    async with db.uow() as uow:
        row = await asked.pending(uow)
        if row is not None and await captchas.asked(uow, row.id, message_id,
                                                    clock() + asked.time_to_answer):
            await uow.commit()
            return
    await _take_away(chat, message_id)


async def _let_in(db: Database, chat: GroupChat, asked: _Asked) -> None:
    """No captcha could be asked: settled as passed, and unmuted unless a mute of an
    admin's (or a ban) holds them."""
    now = datetime.now(UTC)
    async with db.uow() as uow:
        row = await asked.pending(uow)
        if row is None or not await captchas.close(uow, row.id, captchas.PASSED, now):
            return
        held = await kept.active(uow, asked.platform, asked.chat_id, asked.user_id, now)
        await uow.commit()
    if not held:
        await _quietly(chat.unmute(asked.user_id), "captcha unmute", asked.chat_id,
                       asked.user_id)


@router.button("captcha")
async def answer(ctx: GroupCtx) -> GroupOutcome:
    """Only the newcomer's own press, under their own captcha, counts."""
    event, who = ctx.event, ctx.event.person
    typed = (event.action or "").partition(":")[2]
    if not typed.isdigit() or len(typed) > 3:
        return GroupOutcome()
    settled = await captchas.solve(ctx.work(), event.platform, event.chat_id, who.user_id,
                                   event.message_id, int(typed), ctx.now)
    if settled is None:
        return GroupOutcome()
    if settled.status == captchas.PASSED:
        if not await _held(ctx, who):  # muted meanwhile by an admin: that mute stays
            await ctx.chat.unmute(who.user_id)
        await _take_away(ctx.chat, settled.message_id)
        return await welcome(ctx, who) or GroupOutcome()
    await ctx.chat.kick(who.user_id)
    await _take_away(ctx.chat, settled.message_id)
    return GroupOutcome()


@router.on(LEFT)
async def depart(ctx: GroupCtx) -> GroupOutcome | None:
    """Gone before answering: their captcha goes too."""
    event = ctx.event
    uow = ctx.work()
    waiting = await captchas.pending(uow, event.platform, event.chat_id, event.person.user_id)
    if waiting is not None and await captchas.close(uow, waiting.id, captchas.LEFT, ctx.now):
        await _take_away(ctx.chat, waiting.message_id)
    return None


async def expire_due(db: Database, programme: Programme, platform: str,
                     chats: Callable[[str], GroupChat], now: datetime) -> int:
    """Take out every newcomer whose captcha ran out, and the captcha with them: how
    many. Each is settled (in the database) before it is acted on, so a newcomer who
    answers at that moment is never both let in and taken out; a refusal by the
    platform is logged and the rest go on. A captcha lost before it was posted (the
    process stopped while it waited for the group's turn) asked nothing: its newcomer
    is let in, unless an admin's mute or a ban holds them."""
    done = 0
    while True:
        async with db.uow() as uow:
            due = await captchas.expired(uow, platform, now, EXPIRY_PAGE)
            mine: list[tuple[captchas.Due, str | None]] = []
            for d in due:
                asked = d.message_id is not None
                if await captchas.close(uow, d.captcha_id,
                                        captchas.EXPIRED if asked else captchas.PASSED, now):
                    held = not asked and bool(await kept.active(
                        uow, platform, d.chat_id, d.user_id, now))
                    mine.append((d, "kick" if asked else None if held else "let in"))
            await uow.commit()
        for captcha, act in mine:
            try:
                chat = chats(captcha.chat_id)
                if act == "kick":
                    await _quietly(chat.kick(captcha.user_id), "captcha expiry",
                                   chat.chat_id, captcha.user_id)
                    await _take_away(chat, captcha.message_id)
                elif act == "let in":
                    log.warning("captcha lost before it was posted: newcomer let in",
                                extra={"chat": captcha.chat_id})
                    await _quietly(chat.unmute(captcha.user_id), "captcha unmute",
                                   chat.chat_id, captcha.user_id)
            except Exception:  # one chat's trouble must not keep the others waiting
                log.exception("captcha expiry failed", extra={"chat": captcha.chat_id})
            done += 1
        if len(due) < EXPIRY_PAGE:
            return done


# ------------------------------------------------------------------ welcome


async def welcome(ctx: GroupCtx, who: Person) -> GroupOutcome | None:
    rules = ctx.changed_rules or ctx.rules
    if not rules.welcome_on:
        return None
    return GroupOutcome([welcome_reply(rules, who, ctx.event.chat_title, ctx.event.chat_id,
                                       await _members(ctx, rules))])


async def _members(ctx: GroupCtx, rules: Rules) -> int | None:
    """The chat's member count for {count}: as the event said, else asked of the
    platform, and only when the welcome shows it."""
    if ctx.event.members is not None or "{count}" not in (rules.welcome_text or ""):
        return ctx.event.members
    if not isinstance(ctx.chat, Counted):
        return None
    try:
        return await ctx.chat.member_count()
    except ChatActionError as refused:
        _refused("member count", ctx.event.chat_id, "", refused)
        return None


def welcome_reply(rules: Rules, who: Person, chat_title: str, chat_id: str,
                  count: int | None) -> Reply:
    """The group's welcome for `who`, with a rules button when the group has rules."""
    buttons = [(button("moderation.welcome.rules_button", f"rules:{chat_id}"),)] \
        if rules.rules_text else []
    values = {"first": first_name(who), "mention": mention(who), "chatname": chat_title,
              "count": f"{count:,}" if count is not None else "?"}
    if rules.welcome_text is None:
        return reply("moderation.welcome.default", *buttons, first=values["first"],
                     chatname=chat_title)
    return reply("moderation.welcome.custom", *buttons,
                 text=clipped(fill(rules.welcome_text, values), ONE_MESSAGE))


def fill(template: str, values: dict[str, str]) -> str:
    """An admin's welcome with its placeholders filled. Anything else in braces stays as
    typed, and what a placeholder brings in (a name with braces) is not read again."""
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], template)


def units(text: str) -> int:
    """Length as a message limit counts it: UTF-16 units (an emoji may be two)."""
    return len(text.encode("utf-16-le")) // 2


def clipped(text: str, most: int) -> str:
    """`text` cut to `most` units, "…" last, so it is one message and never split."""
    if units(text) <= most:
        return text
    room, used, end = most - units(ELLIPSIS), 0, 0
    while used + units(text[end]) <= room:  # stops inside: the text is longer than room
        used += units(text[end])
        end += 1
    return text[:end].rstrip() + ELLIPSIS


def longest_fill(template: str) -> int:
    """Units of `template` filled in with the longest names the platform allows."""
    return units(fill(template, {name: "x" * most for name, most in LONGEST.items()}))


def first_name(who: Person) -> str:
    parts = who.name.split()
    return parts[0] if parts else who.name


def mention(who: Person) -> str:
    """@username where they have one; else their name, marked to notify them where the
    platform can (Telegram links it to the user)."""
    return f"@{who.username}" if who.username else mentioned(who.user_id, who.name)


RULES_AGAIN = timedelta(seconds=60)  # the Rules button shows them at most this often
_rules_shown: OrderedDict[str, datetime] = OrderedDict()  # chat -> when, this worker
_RULES_CHATS = 10_000  # chats remembered


def forget() -> None:
    """No rules shown yet, in this worker (for tests, as flood.forget)."""
    _rules_shown.clear()


@router.button("rules")
async def rules_button(ctx: GroupCtx) -> GroupOutcome:
    """The rules, in the group; pressed again within a minute (anyone may press it, and
    each showing costs one of the group's 20 messages a minute), a private answer
    pointing at those just shown."""
    event = ctx.event
    chat = (event.action or "").partition(":")[2]
    if chat != event.chat_id or not ctx.rules.rules_text:
        return GroupOutcome()
    last = _rules_shown.get(chat)
    if last is not None and ctx.now - last < RULES_AGAIN:
        return toast("moderation.rules_just_shown")
    _rules_shown[chat] = ctx.now
    _rules_shown.move_to_end(chat)
    while len(_rules_shown) > _RULES_CHATS:
        _rules_shown.popitem(last=False)
    return GroupOutcome([reply("moderation.welcome.rules", chatname=event.chat_title,
                               rules=ctx.rules.rules_text)])


# ------------------------------------------------------------------ commands


async def _change(ctx: GroupCtx, **changes: object) -> Rules:
    event = ctx.event
    ctx.changed_rules = await group_settings.change(
        ctx.work(), event.platform, event.chat_id, ctx.actor, ctx.now, **changes)
    return ctx.changed_rules


def _welcome_state(rules: Rules) -> Reply:
    # The template under a line of ours: cut so the two stay one message.
    shown: Text | str = clipped(rules.welcome_text, ONE_MESSAGE - 200) \
        if rules.welcome_text is not None else Text("moderation.welcome.default_named")
    return reply("moderation.welcome.state_on" if rules.welcome_on
                 else "moderation.welcome.state_off", text=shown)


@router.command("setwelcome", right=SETTINGS)
async def set_welcome(ctx: GroupCtx) -> GroupOutcome:
    text = ctx.arg.strip()
    if not text:
        return GroupOutcome([reply("moderation.welcome.usage",
                                   placeholders=" ".join(f"{{{p}}}" for p in PLACEHOLDERS))])
    if len(text) > WELCOME_LENGTH:
        return GroupOutcome([reply("moderation.welcome.too_long", most=str(WELCOME_LENGTH))])
    longest = longest_fill(text)
    if longest > ONE_MESSAGE:
        return GroupOutcome([reply("moderation.welcome.too_long_filled", longest=str(longest),
                                   most=str(ONE_MESSAGE))])
    rules = await _change(ctx, welcome_text=text, welcome_on=True)
    preview = welcome_reply(rules, ctx.event.person, ctx.event.chat_title, ctx.event.chat_id,
                            await _members(ctx, rules))
    return GroupOutcome([reply("moderation.welcome.saved"), preview])


@router.command("resetwelcome", right=SETTINGS)
async def reset_welcome(ctx: GroupCtx) -> GroupOutcome:
    rules = await _change(ctx, welcome_text=None)
    return GroupOutcome([reply("moderation.welcome.reset"), _welcome_state(rules)])


@router.command("welcome", right=SETTINGS)
async def switch_welcome(ctx: GroupCtx) -> GroupOutcome:
    typed = ctx.arg.strip().lower()
    if typed not in SWITCH:
        return GroupOutcome([_welcome_state(ctx.rules), reply("moderation.welcome.switch_usage")])
    return GroupOutcome([_welcome_state(await _change(ctx, welcome_on=SWITCH[typed]))])


def _captcha_state(ctx: GroupCtx, rules: Rules) -> Reply:
    skip = Text("moderation.captcha.skip_none")
    if rules.captcha_skip_tier is not None:
        skip = Text("moderation.captcha.skip_tier",
                    {"tier": tier_called(ctx.programme.tiers, rules.captcha_skip_tier)})
    return reply("moderation.captcha.state_on" if rules.captcha_on
                 else "moderation.captcha.state_off",
                 minutes=str(rules.captcha_minutes), skip=skip)


@router.command("captcha")
async def switch_captcha(ctx: GroupCtx) -> GroupOutcome:
    words = ctx.arg.lower().split()
    usage = reply("moderation.captcha.usage", shortest=str(CAPTCHA_MINUTES[0]),
                  longest=str(CAPTCHA_MINUTES[-1]))
    if not words:
        return GroupOutcome([_captcha_state(ctx, ctx.rules), usage])
    if words[0] not in SWITCH or len(words) > 2:
        return GroupOutcome([usage])
    changes: dict[str, object] = {"captcha_on": SWITCH[words[0]]}
    if len(words) == 2:
        typed = words[1].removesuffix("m")
        if not typed.isdigit() or int(typed) not in CAPTCHA_MINUTES:
            return GroupOutcome([usage])
        changes["captcha_minutes"] = int(typed)
    said = [_captcha_state(ctx, await _change(ctx, **changes))]
    if not changes["captcha_on"]:
        released = await _release(ctx)
        if released:
            said.append(reply("moderation.captcha.released", count=released))
    return GroupOutcome(said)


async def _release(ctx: GroupCtx) -> int:
    """Captcha off: whoever still waits on one is let in now, not taken out when its
    time runs out: their captcha settled, taken away, and unmuted unless an admin's
    mute or a ban holds them. How many."""
    event, uow = ctx.event, ctx.work()
    released = await captchas.release(uow, event.platform, event.chat_id, ctx.now)
    for waiting in released:
        if not await kept.active(uow, event.platform, event.chat_id, waiting.user_id,
                                 ctx.now):
            await _quietly(ctx.chat.unmute(waiting.user_id), "captcha unmute",
                           event.chat_id, waiting.user_id)
        await _take_away(ctx.chat, waiting.message_id)
    return len(released)


@router.command("captchaskip")
async def captcha_skip(ctx: GroupCtx) -> GroupOutcome:
    typed = ctx.arg.strip()
    ladder = ctx.programme.tiers
    usage = reply("moderation.captcha.skip_usage",
                  tiers=", ".join(t.code for t in ladder.levels))
    if not typed:
        return GroupOutcome([_captcha_state(ctx, ctx.rules), usage])
    if typed.lower() == "off":
        return GroupOutcome([_captcha_state(ctx, await _change(ctx, captcha_skip_tier=None))])
    tier = find_tier(ladder, typed)
    if tier is None:
        return GroupOutcome([usage])
    return GroupOutcome([_captcha_state(ctx, await _change(ctx, captcha_skip_tier=tier.code))])


# ------------------------------------------------------------------ platform


async def _take_away(chat: GroupChat, message_id: str | None) -> None:
    if message_id:
        await _quietly(chat.delete(message_id), "captcha delete", chat.chat_id)


async def _quietly(action: Awaitable[None], what: str, chat_id: str,
                   user_id: str = "") -> None:
    """An action whose refusal is only logged: a message gone already, someone who left
    before they could be taken out."""
    try:
        await action
    except ChatActionError as refused:
        _refused(what, chat_id, user_id, refused)


def _refused(what: str, chat_id: str, user_id: str, refused: ChatActionError) -> None:
    log.info("group action refused", extra={"what": what, "chat": chat_id, "user": user_id,
                                            "reason": refused.reason,
                                            "detail": refused.detail})
