"""The moderation handlers' router and runner: a group event in, a GroupOutcome out.

Unlike the members' engine this is keyed by chat, not by member: whoever writes in a
group need not be a member, and nothing here makes one. Most group messages are
plain chatter; they go through the listeners (antiflood) with the group's settings
from a short-lived cache and never open a transaction, so chatter costs no database
write. Commands, buttons, arrivals and departures run in one unit of work each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.community import group_settings
from domain.community.group_settings import Rules
from domain.config import Programme
from domain.members import members
from domain.staff import roles
from domain.storage.database import Database, UnitOfWork
from handlers.community.moderation.events import (
    BUTTON,
    MESSAGE,
    RESTRICT,
    ChatActionError,
    GroupChat,
    GroupEvent,
    GroupOutcome,
    Person,
)
from handlers.engine import i18n
from handlers.engine.types import Reply, Text, reply

log = logging.getLogger(__name__)
RULES_TTL_S = 30.0  # another worker's change to a group's settings shows within this
COMMAND_LENGTH = 32


@dataclass
class GroupCtx:
    event: GroupEvent
    chat: GroupChat
    db: Database
    programme: Programme
    rules: Rules
    now: datetime
    uow: UnitOfWork | None = None  # None for plain chatter: listeners open one if needed
    command: str | None = None
    arg: str = ""
    # Set by a step that changed the settings: the cache then takes the new ones.
    changed_rules: Rules | None = None
    data: dict[str, Any] = field(default_factory=dict)
    me: str | None = None  # the bot's own username, lower case: it never targets itself
    # Another chat of the platform to act on (a report's buttons pressed in the log chat
    # act on the group): None where the platform's side gave no way to reach one.
    chats: Callable[[str], GroupChat] | None = None
    # What time it is later on, for work that outlives this event (a paced captcha post).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def chat_of(self, chat_id: str) -> GroupChat | None:
        if chat_id == self.event.chat_id:
            return self.chat
        return self.chats(chat_id) if self.chats is not None else None

    @property
    def locale(self) -> str:
        """The group's language: its own setting, else the programme's default."""
        return self.rules.language or self.programme.default_locale

    @property
    def actor(self) -> str:
        """The audit log's name for whoever acts: their platform account."""
        return f"{self.event.platform}:{self.event.person.user_id}"[:64]

    def work(self) -> UnitOfWork:
        assert self.uow is not None, "a step that needs the database runs in a unit of work"
        return self.uow

    async def may_moderate(self, person: Person | None = None,
                           right: str | None = None) -> bool:
        """The chat's own admins (holding `right` of their own, when one is named), and
        memberbot's staff of any role (moderator and up)."""
        return await self.refusal(right, "", person) is None

    async def refusal(self, right: str | None, command: str, person: Person | None = None,
                      chat: GroupChat | None = None) -> Reply | None:
        """None when `person` (the sender) may have the bot act in `chat` (this one) with
        `right`; else why not. An admin lacking that right of their own is told which
        (the bot would otherwise act beyond what the chat's owner let them do); anyone
        else, that it is for the chat's admins."""
        who, where = person or self.event.person, chat or self.chat
        admin = who.user_id in await where.admins()
        if admin and (right is None or right in await where.rights(who.user_id)):
            return None
        uow = self.work()
        member = await members.by_identity(uow, self.event.platform, who.user_id)
        if member is not None and await roles.can(uow, member.id, "moderate"):
            return None
        if admin:
            return reply("moderation.lacks_right", command=command,
                         right=Text(f"moderation.right.{right}"))
        return reply("moderation.not_admin", command=command)

    async def button_refusal(self, right: str | None, person: Person | None = None,
                             chat: GroupChat | None = None) -> GroupOutcome | None:
        """`refusal` for a moderation button: a toast for whoever pressed it, naming
        the right an admin lacks, so the group hears nothing of a stray press."""
        refused = await self.refusal(right, "", person, chat)
        if refused is None:
            return None
        if refused.key == "moderation.lacks_right":
            return toast("moderation.button_lacks_right", right=refused.params["right"])
        return toast("moderation.admins_only_button")


def toast(key: str, **params: Any) -> GroupOutcome:
    """An answer for whoever pressed a button alone (GroupOutcome.toast): the chat
    hears nothing. Also for a button meant for someone else ("button_not_for_you")."""
    return GroupOutcome(toast=reply(key, **params))


Step = Callable[[GroupCtx], Awaitable[GroupOutcome]]
# A listener returns None to let the event go on, or an outcome that ends it.
Listener = Callable[[GroupCtx], Awaitable[GroupOutcome | None]]


@dataclass
class GroupRouter:
    # name -> (step, only moderators, the admin right it needs: events.RIGHTS, or None)
    commands: dict[str, tuple[Step, bool, str | None]] = field(default_factory=dict)
    listeners: dict[str, list[Listener]] = field(default_factory=dict)
    buttons: dict[str, Step] = field(default_factory=dict)

    def command(self, name: str, moderators: bool = True,
                right: str | None = RESTRICT) -> Callable[[Step], Step]:
        """`moderators`: only the chat's admins (holding `right` of their own) and
        memberbot's staff may use it; anyone else is refused politely and nothing
        changes."""
        def register(step: Step) -> Step:
            self.commands[name] = (step, moderators, right if moderators else None)
            return step
        return register

    def on(self, kind: str) -> Callable[[Listener], Listener]:
        """Run for every event of `kind` (MESSAGE, JOINED, LEFT), in registration order,
        before any command."""
        def register(listener: Listener) -> Listener:
            self.listeners.setdefault(kind, []).append(listener)
            return listener
        return register

    def button(self, prefix: str) -> Callable[[Step], Step]:
        """Buttons whose data starts with `prefix:`; each step checks who pressed."""
        def register(step: Step) -> Step:
            self.buttons[prefix] = step
            return step
        return register

    def include(self, other: GroupRouter) -> None:
        for kind in ("commands", "buttons"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            clash = mine.keys() & theirs.keys()
            if clash:
                raise ValueError(f"group {kind} registered twice: {sorted(clash)}")
            mine.update(theirs)
        for kind, listeners in other.listeners.items():
            self.listeners.setdefault(kind, []).extend(listeners)


class Moderation:
    def __init__(self, db: Database, programme: Programme, router: GroupRouter,
                 username: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 chats: Callable[[str], GroupChat] | None = None) -> None:
        self.db = db
        self.chats = chats
        self.programme = programme
        self.router = router
        self.username = username.lower() if username else None
        self.clock = clock
        self._rules: dict[tuple[str, str], tuple[float, Rules]] = {}

    def commands(self) -> frozenset[str]:
        return frozenset(self.router.commands)

    async def handle(self, event: GroupEvent, chat: GroupChat) -> GroupOutcome:
        now = self.clock()
        command, arg = self._command(event) if event.kind == MESSAGE else (None, "")
        quiet = event.kind == MESSAGE and command is None
        try:
            if quiet:  # chatter: no transaction unless a listener opens one
                ctx = GroupCtx(event, chat, self.db, self.programme,
                               await self._cached_rules(event), now,
                               me=self.username, chats=self.chats, clock=self.clock)
                outcome = await self._listen(ctx) or GroupOutcome()
            else:
                async with self.db.uow() as uow:
                    rules = await group_settings.read(uow, event.platform, event.chat_id)
                    ctx = GroupCtx(event, chat, self.db, self.programme, rules, now, uow,
                                   command, arg, me=self.username, chats=self.chats,
                                   clock=self.clock)
                    outcome = await self._run(ctx)
                    await uow.commit()
                self._remember(event, ctx.changed_rules or rules)
        except ChatActionError as refused:  # nothing recorded: the transaction rolled back
            log.info("group action refused", extra={
                "chat": event.chat_id, "reason": refused.reason, "detail": refused.detail})
            # Chatter gets no answer: nobody asked for anything.
            outcome = GroupOutcome() if quiet else GroupOutcome(
                [reply(f"moderation.refused.{refused.reason}")])
        if not outcome.locale:
            rules = self._rules.get((event.platform, event.chat_id), (0.0, Rules()))[1]
            outcome.locale = rules.language or self.programme.default_locale
        return outcome

    async def _run(self, ctx: GroupCtx) -> GroupOutcome:
        stopped = await self._listen(ctx)
        if stopped is not None:
            return stopped
        event = ctx.event
        if event.kind == BUTTON:
            prefix = (event.action or "").split(":", 1)[0]
            step = self.router.buttons.get(prefix)
            return await step(ctx) if step is not None else GroupOutcome()
        if ctx.command is None:
            return GroupOutcome()
        found = self.router.commands.get(ctx.command)
        if found is None:
            return GroupOutcome()  # another bot's, or not ours: said nothing
        step, moderators, right = found
        refused = await ctx.refusal(right, f"/{ctx.command}") if moderators else None
        outcome = GroupOutcome([refused]) if refused is not None else await step(ctx)
        if ctx.rules.clean_commands or (ctx.changed_rules and ctx.changed_rules.clean_commands):
            outcome.delete_command = True
        return outcome

    async def _listen(self, ctx: GroupCtx) -> GroupOutcome | None:
        for listener in self.router.listeners.get(ctx.event.kind, ()):
            outcome = await listener(ctx)
            if outcome is not None:
                return outcome
        return None

    def _command(self, event: GroupEvent) -> tuple[str | None, str]:
        text = event.text.strip()
        if not text.startswith("/"):
            return None, ""
        head, arg = (text.split(maxsplit=1) + [""])[:2]  # "/setrules" then a new line
        name, _, addressee = head[1:].partition("@")
        if addressee and addressee.lower() != self.username:
            return None, ""
        name = name.lower()
        if not name or len(name) > COMMAND_LENGTH or not name.isascii():
            return None, ""
        return name, arg.strip()

    async def _cached_rules(self, event: GroupEvent) -> Rules:
        key = (event.platform, event.chat_id)
        hit = self._rules.get(key)
        if hit is not None and time.monotonic() - hit[0] < RULES_TTL_S:
            return hit[1]
        async with self.db.snapshot() as snap:
            rules = await group_settings.read(snap, event.platform, event.chat_id)
        self._remember(event, rules)
        return rules

    def _remember(self, event: GroupEvent, rules: Rules) -> None:
        self._rules[(event.platform, event.chat_id)] = (time.monotonic(), rules)


def locale_of(rules: Rules, programme: Programme, hint: str | None = None) -> str:
    """A group's language for wording that has no group yet (a private note)."""
    return rules.language or i18n.negotiate(hint) or programme.default_locale
