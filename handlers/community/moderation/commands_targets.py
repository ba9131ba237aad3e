"""Whom a moderation command names, what else it says, and what goes to the log chat.

An admin names someone as group bots taught them: by replying to their message, by a
text mention, by @username (known once they were seen in a group: commands_people.py)
or by their numeric id; then, for /mute and /ban, a length such as 2h; then a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta

from domain.community import durations, people
from domain.community.group_settings import Rules
from handlers.community.moderation.dispatch import GroupCtx
from handlers.community.moderation.events import GroupChat, GroupOutcome, Person
from handlers.engine.types import Reply, Text, reply

USER_ID = re.compile(r"[1-9][0-9]{0,19}")
USERNAME = re.compile(r"@[A-Za-z0-9_]{1,64}")
# "-5m" is a mistyped length too; any script's digit ("٣d") starts one.
LOOKS_LIKE_LENGTH = re.compile(r"[-+]?\d\S*")
NAME = 64  # characters of a name shown
REASON = 200  # characters of a reason kept and shown
QUOTED = 32  # characters of a mistyped word quoted back
KEPT = {"\u200d"}  # invisible, but it holds emoji together: kept in reasons


@dataclass(frozen=True)
class Target:
    person: Person
    rest: str  # what follows the name: a length, a reason


def shown(typed: str, size: int = QUOTED) -> str:
    """Someone's words to quote back: control and invisible characters as �, cut."""
    cut = typed[:size]
    return "".join(c if c.isprintable() else "\ufffd" for c in cut) + (
        "…" if len(typed) > size else "")


def name_of(person: Person) -> str:
    """How a person is called in replies: their name, one line, not too long."""
    plain = " ".join("".join(c if c.isprintable() else " " for c in person.name).split())
    plain = plain or (f"@{person.username}" if person.username else person.user_id)
    return plain[:NAME] + ("…" if len(plain) > NAME else "")


def cleaned(text: str, size: int = REASON, lines: bool = False) -> str:
    """Free text typed by an admin, to keep: no control or invisible characters (new
    lines kept when `lines`), spaces squeezed, cut to `size` with an ellipsis."""
    def keep(c: str) -> str:
        return c if c.isprintable() or c in KEPT or (lines and c == "\n") else " "
    text = "".join(keep(c) for c in text)
    if lines:
        text = "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
    else:
        text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"


async def find_target(ctx: GroupCtx) -> Target | Reply:
    """The person the command names, or our words on why nobody is named."""
    event, arg = ctx.event, ctx.arg
    head, rest = (arg.split(maxsplit=1) + ["", ""])[:2]
    for mentioned in event.mentioned:  # a text mention: the name is in the text
        if mentioned.name and arg.startswith(mentioned.name):
            return Target(mentioned, arg[len(mentioned.name):].strip())
    if USERNAME.fullmatch(head):
        wanted = head[1:].lower()
        if ctx.me and wanted == ctx.me:
            return Target(Person("", head[1:], head[1:], is_bot=True), rest)
        seen = await people.by_username(ctx.work(), event.platform, wanted)
        if seen is None:
            return reply("moderation.unknown_user", who=shown(head))
        return Target(Person(seen.user_id, seen.name, seen.username), rest)
    if USER_ID.fullmatch(head) and event.reply_to is None:
        seen = await people.by_id(ctx.work(), event.platform, head)
        return Target(Person(head, seen.name if seen else head,
                             seen.username if seen else None), rest)
    if event.reply_to is not None:
        return Target(event.reply_to, arg)
    if event.mentioned:  # named somewhere in the text, not first
        return Target(event.mentioned[0], arg)
    return reply("moderation.who", command=f"/{ctx.command}")


def is_me(ctx: GroupCtx, person: Person) -> bool:
    return person.is_bot and bool(ctx.me) and (person.username or "").lower() == ctx.me


async def may_act(ctx: GroupCtx, chat: GroupChat, person: Person,
                  right: str | None = None) -> bool:
    """Whether `person` moderates `chat`: one of its admins (holding `right`, when one
    is named), or memberbot's staff."""
    return await ctx.refusal(right, "", person, chat) is None


async def untouchable(ctx: GroupCtx, person: Person,
                      chat: GroupChat | None = None) -> Reply | None:
    """Our refusal when the person may not be warned, muted, banned or kicked: the bot
    itself, and whoever moderates the group."""
    if is_me(ctx, person):
        return reply("moderation.target_self")
    if person.user_id and await may_act(ctx, chat or ctx.chat, person):
        return reply("moderation.target_admin", name=name_of(person))
    return None


async def punishable(ctx: GroupCtx) -> Target | Reply:
    """The command's target when they may be warned, muted, banned or kicked; else the
    reply that says who is missing or why not."""
    found = await find_target(ctx)
    if isinstance(found, Reply):
        return found
    return await untouchable(ctx, found.person) or found


def length_and_reason(rest: str) -> tuple[timedelta | None, str] | Reply:
    """A leading length (`2h`, `0` for none), then the reason; a first word that starts
    with a digit but is no length is refused, not taken for the reason."""
    head, tail = (rest.split(maxsplit=1) + ["", ""])[:2]
    # Read as typed on any keyboard: "３０m" and an invisibly marked "7d" are lengths.
    if not head or not LOOKS_LIKE_LENGTH.fullmatch(durations.plain(head)):
        return None, cleaned(rest)
    length = durations.parse(head)
    if length is None:
        return reply("moderation.bad_length", typed=shown(head))
    return length, cleaned(tail)


def more(*lines: Text | None) -> Text | str:
    """Extra lines under a reply's first one (a note, a reason), or nothing."""
    kept = [line for line in lines if line is not None]
    return Text("moderation.more", {"lines": kept}) if kept else ""


def because(reason: str) -> Text | None:
    return Text("moderation.reason", {"reason": reason}) if reason else None


def edited(answer: Reply) -> Reply:
    """In place of the message whose button was pressed (its buttons go with it)."""
    return replace(answer, edit=True)


def log(ctx: GroupCtx, outcome: GroupOutcome, action: str, person: Person | None = None,
        *details: Text | None, rules: Rules | None = None, chat_title: str | None = None) -> None:
    """Tell the group's log chat, if it has one, what an admin just did."""
    settings = rules or ctx.changed_rules or ctx.rules
    if not settings.log_chat or settings.log_chat == ctx.event.chat_id:
        return
    title = chat_title if chat_title is not None else ctx.event.chat_title
    entry = reply("moderation.log", action=Text(f"moderation.log_action.{action}"),
                  chat=shown(title or ctx.event.chat_id, NAME),
                  admin=name_of(ctx.event.person), admin_id=ctx.event.person.user_id,
                  about=Text("moderation.log_about", {"name": name_of(person),
                                                      "id": person.user_id})
                  if person is not None else "",
                  more=more(*details))
    outcome.elsewhere.append((settings.log_chat, entry,
                              settings.language or ctx.programme.default_locale))
