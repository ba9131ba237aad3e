"""Routers: each feature module owns one and the engine composes them.

A step is an async function of the context that returns an Outcome. Commands start
flows, actions answer buttons, states receive what a member types mid-flow. A state
belongs to a declared Flow, so a misspelt one fails when the router is built instead
of leaving a member "not understood".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from domain.config import Programme
from domain.members.tables import Member
from domain.staff.roles import ROLES
from domain.storage.database import UnitOfWork
from handlers.engine.payments import Payments
from handlers.engine.rooms import Rooms
from handlers.engine.types import Inbound, Reply

T = TypeVar("T")
Read = Callable[[UnitOfWork], Awaitable[Any]]


class ReadFirst(Exception):  # noqa: N818 - a request to the engine, not a failure
    """A staff message's step wants a long read before it can go on (Ctx.read)."""

    def __init__(self, key: str, read: Read) -> None:
        super().__init__(key)
        self.key = key
        self.read = read


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
    # Where the web app is reached from outside (MEMBERBOT_PUBLIC_URL), for links to it.
    public_url: str | None = None
    offered: tuple[str, ...] = ()  # the buttons of the last reply that had any
    # Long reads done before this pass (Ctx.read), and whether one not done yet is
    # asked of the engine (ReadFirst) rather than read here.
    reads: dict[str, Any] = field(default_factory=dict)
    read_first: bool = False
    rooms: Rooms | None = None  # the platform's group chats, where it has any
    payments: Payments | None = None  # the platform's payments, where it takes them

    @property
    def in_group(self) -> bool:
        return self.inbound.chat_kind != "private"

    async def read(self, key: str, read: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """A long read (a count over every member or over a campaign's deliveries), or
        other long work that needs no lock (charts drawn in the drawing process).

        It goes through a snapshot: no write lock, committed data only. Inside the
        batch it would still hold every message that waits for the batch, so in a
        staff member's message the engine rolls the message back, reads while other
        messages go on, and runs the step again, which then finds the figure here by
        `key`. The key names everything the figure depends on."""
        if key in self.reads:
            return cast(T, self.reads[key])
        if self.read_first:
            raise ReadFirst(key, read)
        async with self.uow.snapshot() as snapshot:
            return await read(snapshot)

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
    # The language to answer in when it is not the member's: a reply said to a group is
    # in the group's own language.
    locale: str | None = None


Step = Callable[[Ctx], Awaitable[Outcome]]


class UnknownState(LookupError):
    """A step returned a state no step waits in: a bug, refused rather than saved."""


@dataclass(frozen=True)
class Flow:
    """A multi-step flow's waiting states in one table, its diagram beside it.

    As in python-telegram-bot's conversationbot (one table of states, its .mmd beside
    it). The module names each state once as a constant, lists them here, and both
    registers and returns those constants. In the diagram a waiting state is a node of
    class `state` whose label starts with its name: `member["purchase.member: ..."]:::state`.
    tests/handlers/test_flows.py holds the diagram and this table to the same set.
    """

    diagram: Path
    states: tuple[str, ...]

    @classmethod
    def beside(cls, module: str, diagram: str, *states: str) -> Flow:
        """`Flow.beside(__file__, "purchase.mmd", MEMBER, AMOUNT)`."""
        if len(set(states)) != len(states):
            raise ValueError(f"a state is listed twice in {diagram}: {states}")
        return cls(Path(module).with_name(diagram), states)


@dataclass
class Arrival:
    """A first message from an account we have no member for yet, before one is made."""

    inbound: Inbound
    uow: UnitOfWork
    programme: Programme
    now: datetime
    arg: str


@dataclass
class Arrived:
    """What an arrival step did: the member the account belongs to now (None: still
    nobody, and nobody is made), and what to say."""

    member: Member | None
    replies: list[Reply]
    locale: str | None = None  # as Outcome.locale


# Returns None when the message is for the usual path (a member is made, then routed).
ArrivalStep = Callable[[Arrival], Awaitable[Arrived | None]]


@dataclass
class Router:
    commands: dict[str, Step] = field(default_factory=dict)
    actions: dict[str, Step] = field(default_factory=dict)
    states: dict[str, Step] = field(default_factory=dict)
    menu: list[str] = field(default_factory=list)  # members' commands in /help, in order
    flows: list[Flow] = field(default_factory=list)
    # Staff commands and the least role that may use them (domain.staff.roles.ROLES), in
    # the order registered: /help lists them to those who hold the role. Informative
    # only: each step still checks the permission itself.
    roles: dict[str, str] = field(default_factory=dict)
    # Lines of /help for staff that name no command of their own: a staff verb of a
    # members' command (`/survey send`), as (catalog key, what is typed, least role).
    staff_lines: list[tuple[str, str, str]] = field(default_factory=list)
    # Commands that may act for an account before it becomes a member (a newcomer's
    # `/link CODE` joins an existing member instead of making a new one).
    arrivals: dict[str, ArrivalStep] = field(default_factory=dict)
    # A waiting state's own answer to /cancel (or "stop" typed), where "Cancelled"
    # would not say what happened; the flow is left all the same.
    cancels: dict[str, Step] = field(default_factory=dict)
    # Members' button steps that wait on the platform (Ctx.read), which the engine runs
    # outside the batch as it does staff messages.
    reads_first: set[Step] = field(default_factory=set)

    def command(self, name: str, listed: bool = True,
                role: str | None = None) -> Callable[[Step], Step]:
        """`role`: a staff command, listed in /help for that role and those above it."""
        if role is not None and role not in ROLES:
            raise ValueError(f"command /{name}: unknown role {role!r}")

        def register(step: Step) -> Step:
            self.commands[name] = step
            if role is not None:
                self.roles[name] = role
            elif listed:
                self.menu.append(name)
            return step
        return register

    def staff_line(self, key: str, typed: str, role: str) -> None:
        """List `typed` (`/survey send`) in /help for `role` and those above it, worded
        by the catalog's `key` ("{command} CODE — ..."). Informative only, as `roles`."""
        if role not in ROLES:
            raise ValueError(f"{typed}: unknown role {role!r}")
        self.staff_lines.append((key, typed, role))

    def arrival(self, command: str) -> Callable[[ArrivalStep], ArrivalStep]:
        def register(step: ArrivalStep) -> ArrivalStep:
            self.arrivals[command] = step
            return step
        return register

    def action(self, prefix: str, reads_first: bool = False) -> Callable[[Step], Step]:
        """`reads_first`: the step waits on the platform or a long read (Ctx.read), which
        then runs outside the batch, as for staff, so other members are not held."""
        def register(step: Step) -> Step:
            self.actions[prefix] = step
            if reads_first:
                self.reads_first.add(step)
            return step
        return register

    def state(self, name: str, reads_first: bool = False) -> Callable[[Step], Step]:
        """`reads_first`: as for `action`, the step of an answer given in this state."""
        if not any(name in flow.states for flow in self.flows):
            raise ValueError(f"state {name!r} is in none of this router's flows")

        def register(step: Step) -> Step:
            self.states[name] = step
            if reads_first:
                self.reads_first.add(step)
            return step
        return register

    def on_cancel(self, name: str) -> Callable[[Step], Step]:
        if not any(name in flow.states for flow in self.flows):
            raise ValueError(f"state {name!r} is in none of this router's flows")

        def register(step: Step) -> Step:
            self.cancels[name] = step
            return step
        return register

    def check(self) -> None:
        """Every declared state has its step; found when the router is included."""
        missing = {s for flow in self.flows for s in flow.states} - self.states.keys()
        if missing:
            raise ValueError(f"states declared without a step: {sorted(missing)}")

    def include(self, other: Router) -> None:
        other.check()
        for kind in ("commands", "actions", "states", "arrivals", "cancels"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            clash = mine.keys() & theirs.keys()
            if clash:
                raise ValueError(f"{kind} registered twice: {sorted(clash)}")
            mine.update(theirs)
        self.menu.extend(other.menu)
        self.reads_first |= other.reads_first
        self.roles.update(other.roles)
        self.staff_lines.extend(other.staff_lines)
        self.flows.extend(other.flows)

    def waiting(self, outcome: Outcome) -> str | None:
        """The state `outcome` leaves the conversation in, once known to have a step."""
        if outcome.state is not None and outcome.state not in self.states:
            raise UnknownState(f"no step waits in state {outcome.state!r}")
        return outcome.state

    def find_action(self, action: str) -> Step | None:
        """Longest registered prefix of `action` (split on ':')."""
        parts = action.split(":")
        for end in range(len(parts), 0, -1):
            step = self.actions.get(":".join(parts[:end]))
            if step is not None:
                return step
        return None
