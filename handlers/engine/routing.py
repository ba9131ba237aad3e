"""Routers: each feature module owns one and the engine composes them.

A step is an async function of the context that returns an Outcome. Commands start
flows, actions answer buttons, states receive what a member types mid-flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.config import Programme
from domain.members.tables import Member
from domain.storage.database import UnitOfWork
from handlers.engine.types import Inbound, Reply


@dataclass
class Ctx:
    inbound: Inbound
    uow: UnitOfWork
    programme: Programme
    member: Member
    now: datetime
    locale: str
    arg: str = ""  # what follows a command: "/link ABC" -> "ABC"
    action: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created: bool = False
    state: str | None = None  # where the conversation was waiting when this arrived
    # The adapter's link that opens a chat with the bot and sends `/start {payload}`.
    start_link: str | None = None
    offered: tuple[str, ...] = ()  # the buttons of the last reply that had any

    @property
    def text(self) -> str:
        return self.inbound.text.strip()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.member.timezone) if self.member.timezone else self.programme.zone

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


@dataclass
class Outcome:
    replies: list[Reply]
    state: str | None = None  # where the conversation waits next; None ends the flow
    data: dict[str, Any] = field(default_factory=dict)


Step = Callable[[Ctx], Awaitable[Outcome]]


@dataclass
class Router:
    commands: dict[str, Step] = field(default_factory=dict)
    actions: dict[str, Step] = field(default_factory=dict)
    states: dict[str, Step] = field(default_factory=dict)
    menu: list[str] = field(default_factory=list)  # commands listed in /help, in order

    def command(self, name: str, listed: bool = True) -> Callable[[Step], Step]:
        def register(step: Step) -> Step:
            self.commands[name] = step
            if listed:
                self.menu.append(name)
            return step
        return register

    def action(self, prefix: str) -> Callable[[Step], Step]:
        def register(step: Step) -> Step:
            self.actions[prefix] = step
            return step
        return register

    def state(self, name: str) -> Callable[[Step], Step]:
        def register(step: Step) -> Step:
            self.states[name] = step
            return step
        return register

    def include(self, other: Router) -> None:
        for kind in ("commands", "actions", "states"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            clash = mine.keys() & theirs.keys()
            if clash:
                raise ValueError(f"{kind} registered twice: {sorted(clash)}")
            mine.update(theirs)
        self.menu.extend(other.menu)

    def find_action(self, action: str) -> Step | None:
        """Longest registered prefix of `action` (split on ':')."""
        parts = action.split(":")
        for end in range(len(parts), 0, -1):
            step = self.actions.get(":".join(parts[:end]))
            if step is not None:
                return step
        return None
