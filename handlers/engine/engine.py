"""The conversation engine: inbounds in, replies out, one transaction per batch.

Order of precedence: a /command always wins (and leaves any flow); a button goes to
the waiting flow when it belongs to it, else to whoever registered it; free text
goes to the waiting flow, else opens the home card when it is a greeting, else runs
the command a word names ("积分", "points"), else gets help. A typed number answers the
last offered buttons, which is how platforms without buttons (WeChat, the console)
press them, "yes"/"是" or "no"/"否" a confirmation's and "skip"/"跳过" a Skip button
(handlers.engine.answers). The last set stays answerable until another replaces it.
While a confirmation (a set with a Yes or No button) is showing, text that answers
nothing gets one sentence on how to answer it, in every flow alike, and it stays
answerable. "cancel", "取消", "算了" that press nothing are /cancel, at any step.

A button that has expired (an older message's, or one its step no longer takes)
changes nothing: the conversation keeps its state, its data and its offered buttons,
so the next valid answer works as if the old button had not been pressed.

An inbound with a delivery key is handled at most once: the key is claimed in the
same transaction as the effects, and a repeat gets the recorded answer back.
A shared contact arrives as the pseudo-button CONTACT_SHARED.

Inbounds that arrive together are handled together (domain.storage.group_commit): their
claims, members and conversation states are read with one query each, each is
handled in turn, and one commit covers them all. Two of one member wait for the
next batch, so each sees the other's effects. If a batch fails, its inbounds are
handled again one by one, so one bad message only ever fails itself.

A staff member's message may need a long read (Ctx.read: a count over a million
members). Inside the batch that read would hold every message waiting for the next
one, and on SQLite the write lock too. So a staff message runs in a savepoint; when
its step asks for a read, the message is rolled back, the read runs outside any
batch, and the message comes back with its figure (READ_PASSES times at most, then
it reads in place). A member's button whose step waits on the platform (a payment's
renewal cancelled, Router.action's `reads_first`) runs the same way.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property

from domain.config import Programme
from domain.conversations import conversations, inbox
from domain.conversations.conversations import State
from domain.members import members, tags
from domain.members.profile import NAME_MAX
from domain.members.tables import Member
from domain.rewards import catalogue
from domain.staff import roles
from domain.storage.database import Database, UnitOfWork, again_on_conflict
from domain.storage.group_commit import LATER, GroupCommit
from handlers.engine import answers, i18n
from handlers.engine.payments import Payments
from handlers.engine.render import dump, load, render
from handlers.engine.rooms import Rooms
from handlers.engine.routing import Arrival, Arrived, Ctx, Outcome, ReadFirst, Router
from handlers.engine.types import Inbound, Rendered, Reply, Text, reply

log = logging.getLogger(__name__)
MAX_TEXT = 4096
MAX_ACTION = 64
RETRIES = 3
READ_PASSES = 3
BATCH = 64
CONTACT_SHARED = "contact:shared"
KINDS = "~kinds"  # in a conversation's data: which offered buttons are Yes, No and Skip
EXPIRED = "error.button_expired"
SLASHES = ("/", "\uff0f")  # a Chinese keyboard's full-width slash too


@dataclass(frozen=True)
class Answer:
    locale: str
    replies: list[Reply]
    # Set when the delivery was handled before: what was said then, word for word.
    recorded: tuple[Rendered, ...] | None = None
    # Handled now and recorded with its delivery, whose lease to send it this caller holds.
    leased: bool = False

    @property
    def replayed(self) -> bool:
        return self.recorded is not None

    @cached_property
    def _messages(self) -> tuple[Rendered, ...]:
        if self.recorded is not None:
            return self.recorded
        return tuple(render(r, self.locale) for r in self.replies)

    def rendered(self) -> list[Rendered]:
        return list(self._messages)

    def dump(self) -> dict:
        return {"locale": self.locale, "messages": [dump(m) for m in self._messages]}

    @classmethod
    def load(cls, data: dict) -> Answer:
        return cls(data["locale"], [], tuple(load(m) for m in data["messages"]))


@dataclass(frozen=True)
class _Job:
    inbound: Inbound
    now: datetime
    reads: Mapping[str, object] = field(default_factory=dict)  # done before (Ctx.read)
    read_first: bool = True


class Engine:
    def __init__(self, db: Database, programme: Programme, router: Router,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 username: str | None = None, batch: int = BATCH,
                 start_link: str | None = None, rooms: Rooms | None = None,
                 public_url: str | None = None, payments: Payments | None = None) -> None:
        self.db = db
        self.payments = payments
        self.public_url = public_url
        self.rooms = rooms
        self.username = username.lower() if username else None  # "/cmd@username" in groups
        self.programme = programme
        self.start_link = start_link
        self.router = router
        self.clock = clock
        self._help_replies: dict[frozenset[str], Reply] = {}
        # SQLite has one writer at a time anyway; PostgreSQL may run a few batches at once.
        self._batches: GroupCommit[_Job, Answer | ReadFirst] = GroupCommit(
            self._run_batch, limit=batch, parallel=1 if db.dialect == "sqlite" else 4)

    async def handle(self, inbound: Inbound, now: datetime | None = None) -> Answer:
        now = now or self.clock()
        # PostgreSQL refuses NUL in text; no member means to send one.
        inbound = replace(inbound, text=inbound.text.replace("\x00", ""))
        refusal = await self._refuse(inbound)
        if refusal is not None:
            return refusal
        if not self._for_us(inbound.text):
            return Answer(self._locale(None, inbound.locale), [])
        job = _Job(inbound, now)
        for passes in range(1, READ_PASSES + 1):
            result = await self._batches.submit(job)
            if not isinstance(result, ReadFirst):
                return result
            try:
                async with self.db.snapshot() as snapshot:
                    figure = await result.read(snapshot)
            except Exception:
                log.exception("a read before a message failed",
                              extra={"platform": inbound.platform, "user_id": inbound.user_id})
                return Answer(self._locale(None, inbound.locale), [reply("error.internal")])
            job = replace(job, reads={**job.reads, result.key: figure},
                          read_first=passes < READ_PASSES)
        answer = await self._batches.submit(job)  # reads in place: never ReadFirst
        assert isinstance(answer, Answer)
        return answer

    async def _run_batch(self, jobs: list[_Job]) -> list[Answer | ReadFirst | object]:
        # A failed batch comes back one job at a time (GroupCommit), and a job alone is
        # always answered: with an apology when it fails.
        if len(jobs) == 1:
            return [await self._alone(jobs[0])]
        return await self._together(jobs)

    async def _alone(self, job: _Job) -> Answer | ReadFirst:
        inbound = job.inbound
        try:
            # Two deliveries racing (a double tap, a first message sent twice, a second
            # worker): the loser runs again and now sees what the winner wrote.
            (answer,) = await again_on_conflict(lambda: self._together([job]), RETRIES)
            return answer  # type: ignore[return-value]
        except Exception:
            # The transaction rolled back, so nothing changed; say so instead of going quiet.
            log.exception("inbound failed", extra={"platform": inbound.platform,
                                                   "user_id": inbound.user_id})
            return Answer(self._locale(None, inbound.locale), [reply("error.internal")])

    async def _together(self, jobs: list[_Job]) -> list[Answer | ReadFirst | object]:
        async with self.db.uow() as uow:
            claimed = await self._claim(uow, jobs)
            acting = [j.inbound for j in jobs
                      if j.inbound.key is None or claimed[(j.inbound.platform, j.inbound.key)]
                      is None]
            if acting:  # operators may have edited the rewards: one small query says
                await catalogue.refresh(uow, self.programme)
            known = await self._members(uow, acting)
            staff = await roles.among(uow, [m.id for m in known.values()])
            states = await conversations.load(uow, [(i.platform, i.user_id) for i in acting])
            results: list[Answer | ReadFirst | object] = []
            answered: dict[tuple[str, str], dict] = {}
            records: dict[str, list] = {}
            busy: set[object] = set()
            for job in jobs:
                inbound = job.inbound
                key = (inbound.platform, inbound.key) if inbound.key is not None else None
                before = claimed.get(key) if key else None
                if key and (before is not None or key in answered):
                    results.append(Answer.load(before if before is not None else answered[key]))
                    continue
                user = (inbound.platform, inbound.user_id)
                member = known.get(user)
                if user in busy or (member is not None and member.id in busy):
                    results.append(LATER)
                    continue
                if member is not None and (member.id in staff
                                           or self._reads_first(inbound, states[user])):
                    member_id = member.id  # rolled back, the member is expired: read now
                    acted = await self._act_staff(uow, job, member, states[user],
                                                  staff=member.id in staff)
                    if isinstance(acted, ReadFirst):
                        busy.update((user, member_id))  # its next message waits its turn
                        results.append(acted)
                        continue
                    answer, member = acted
                else:
                    answer, member = await self._act(uow, job, member, states[user])
                busy.update((user, member.id) if member is not None else (user,))
                if key is not None:
                    answer = replace(answer, leased=True)
                    answered[key] = answer.dump()
                    records.setdefault(inbound.platform, []).append(
                        (inbound.key, answered[key], job.now))
                results.append(answer)
                if uow.session.new or uow.session.dirty or uow.session.deleted:
                    await uow.flush()  # the next inbound's queries see this one's changes
            for platform, items in records.items():
                await inbox.record(uow, platform, items)
            await conversations.save(uow, [s for s in states.values() if s.changed], jobs[-1].now)
            await uow.commit()
        return results

    async def _claim(self, uow: UnitOfWork,
                     jobs: list[_Job]) -> dict[tuple[str, str], dict | None]:
        keys: dict[str, list[str]] = {}
        for job in jobs:
            if job.inbound.key is not None:
                keys.setdefault(job.inbound.platform, []).append(job.inbound.key)
        claimed: dict[tuple[str, str], dict | None] = {}
        for platform, wanted in keys.items():
            found = await inbox.claim(uow, platform, wanted, jobs[0].now)
            claimed.update(((platform, k), v) for k, v in found.items())
        return claimed

    async def _members(self, uow: UnitOfWork,
                       inbounds: list[Inbound]) -> dict[tuple[str, str], Member]:
        ids: dict[str, list[str]] = {}
        for inbound in inbounds:
            ids.setdefault(inbound.platform, []).append(inbound.user_id)
        known: dict[tuple[str, str], Member] = {}
        for platform, wanted in ids.items():
            found = await members.by_identities(uow, platform, wanted)
            known.update(((platform, k), m) for k, m in found.items())
        return known

    def _for_us(self, text: str) -> bool:
        """'/points@OtherBot' in a group is somebody else's command: leave it alone."""
        head = text.strip().split(" ", 1)[0]
        if not head.startswith(SLASHES) or "@" not in head or self.username is None:
            return True
        return head.split("@", 1)[1].lower() == self.username

    async def _refuse(self, inbound: Inbound) -> Answer | None:
        """Bad input is answered before anything is opened or written, in the language
        the member chose when there is one (one read, on this rare path only)."""
        if len(inbound.text) > MAX_TEXT:
            said = reply("error.too_long", max=MAX_TEXT)
        elif inbound.action is not None and (len(inbound.action) > MAX_ACTION
                                             or not inbound.action.isprintable()):
            # Our buttons carry printable ASCII; anything else was made up by a client.
            said = reply(EXPIRED)
        else:
            return None
        return Answer(self._locale(await self._chosen(inbound), inbound.locale), [said])

    async def _chosen(self, inbound: Inbound) -> str | None:
        """The language the member behind this account chose (/language), if any."""
        try:
            async with self.db.snapshot() as snapshot:
                found = await members.by_identities(snapshot, inbound.platform,
                                                    [inbound.user_id])
                member = found.get(inbound.user_id)
                return member.locale if member is not None else None
        except Exception:  # the refusal goes out all the same, in the platform's language
            log.exception("a member's language could not be read",
                          extra={"platform": inbound.platform, "user_id": inbound.user_id})
            return None

    def _reads_first(self, inbound: Inbound, conv: State) -> bool:
        """Whether a member's message goes to a step that waits on the platform: a
        button's, or the one its conversation waits in (Router.reads_first)."""
        steps = self.router.reads_first
        if not steps:
            return False
        if inbound.action is not None and self.router.find_action(inbound.action) in steps:
            return True
        return conv.state is not None and self.router.states.get(conv.state) in steps

    async def _act_staff(self, uow: UnitOfWork, job: _Job, known: Member,
                         conv: State, staff: bool = True
                         ) -> tuple[Answer, Member | None] | ReadFirst:
        """A staff message (or a member's that reads first), in a savepoint: a step that
        asks for a long read first (Ctx.read) leaves nothing of this pass behind."""
        try:
            async with uow.savepoint():
                return await self._act(uow, job, known, conv, ahead=job.read_first,
                                       staff=staff)
        except ReadFirst as wanted:
            return wanted

    async def _act(self, uow: UnitOfWork, job: _Job, known: Member | None,
                   conv: State, ahead: bool = False,
                   staff: bool = False) -> tuple[Answer, Member | None]:
        """`ahead`: a long read is asked of the engine (ReadFirst), not read here.
        `staff`: the member holds a role (their /help lists what it allows)."""
        inbound, now = job.inbound, job.now
        command, arg = _command(inbound.text)
        arrived = await self._arrive(uow, job, command, arg) if known is None else None
        if arrived is not None:
            if arrived.member is None:  # nothing done and nobody made: say why, and only that
                return Answer(arrived.locale or self._locale(None, inbound.locale),
                              arrived.replies), None
            known = arrived.member  # the account joined a member: no new one is made
        registration = await members.register(
            uow, self.programme, inbound.platform, inbound.user_id, now,
            referral_code=_payload(arg, "ref_") if command == "start" else None, known=known,
            looked_up=True)
        member = registration.member
        # A state saved before an upgrade that removed its flow waits for nothing now.
        waiting = conv.state if conv.state in self.router.states else None
        if registration.created and inbound.display_name:
            member.display_name = inbound.display_name[:NAME_MAX]
        await members.touch(uow, member, now, hint=i18n.negotiate(inbound.locale))
        data = dict(conv.data or {})
        kinds: dict[str, int] = data.pop(KINDS, None) or {}  # the offered Yes/No, by kind
        offered = list(conv.options or [])
        ctx = Ctx(inbound=inbound, uow=uow, programme=self.programme, member=member, now=now,
                  locale=self._locale(member.locale, inbound.locale), arg=arg,
                  data=data, created=registration.created, state=waiting,
                  start_link=self.start_link, public_url=self.public_url,
                  offered=tuple(offered),
                  reads=dict(job.reads), read_first=ahead, rooms=self.rooms,
                  payments=self.payments)
        ctx.action = ((CONTACT_SHARED if inbound.phone else None) or inbound.action
                      or answers.pressed(inbound.text, offered, kinds))
        if command is not None and command not in self._known():
            command = self._named(command) or command  # "/签到": the command it names
        if command is None and ctx.action is None:
            command = self._typed(inbound.text, waiting, kinds, registration.created)
            ctx.arg = ""
        if registration.created and command == "menu":
            command = "start"  # a newcomer's home card is the welcome itself
        welcome = None
        if arrived is not None:
            outcome = Outcome(list(arrived.replies))
        else:
            # The card as it was when they arrived, before the command changes anything.
            welcome = await self._welcome(ctx) if registration.created and command != "start" \
                else None
            outcome = await self._route(ctx, waiting, command, offered, kinds, staff)
            if welcome is None and ctx.action is not None and _expired(outcome):
                # An old button changes nothing: the flow, its data and the buttons on
                # offer stay as they were, and the next valid answer works.
                return Answer(outcome.locale or self._locale(member.locale, inbound.locale),
                              outcome.replies), member
        if welcome is not None:
            if any(r.buttons for r in outcome.replies):
                # Numbers may answer one set of buttons only: the command's own.
                welcome = replace(welcome, buttons=())
            outcome.replies.insert(0, welcome)
        state = self.router.waiting(outcome)  # a state without a step is a bug: refused
        options, kinds = self._offer(outcome, offered, kinds, moved=state != waiting,
                                     other=command is not None or ctx.action is not None,
                                     cancelled=command == "cancel")
        data = outcome.data if state else {}
        if kinds:
            data = {**data, KINDS: kinds}
        # Most messages leave no flow open and offer no new buttons: no row write then.
        # A command typed in a group leaves the private conversation where it was.
        if inbound.chat_kind == "private":
            conv.move(state, data, options)
        # A flow may have changed the language; answer in the new one.
        return Answer(outcome.locale or self._locale(member.locale, inbound.locale),
                      outcome.replies), member

    async def _arrive(self, uow: UnitOfWork, job: _Job, command: str | None,
                      arg: str) -> Arrived | None:
        """A newcomer's first command that acts before any member is made (Router.arrival)."""
        step = self.router.arrivals.get(command) if command is not None else None
        if step is None:
            return None
        return await step(Arrival(job.inbound, uow, self.programme, job.now, arg))

    @staticmethod
    def _offer(outcome: Outcome, offered: list[str], kinds: dict[str, int], moved: bool,
               other: bool, cancelled: bool = False) -> tuple[list[str], dict[str, int]]:
        """The buttons a typed number or yes/no answers next, and which are Yes and No.

        A new set replaces the last; without one the last stays answerable, except when
        the conversation moved into a flow step that waits for typed text (a digit is an
        amount or a phone there) or out of the flow that offered them, after /cancel,
        and when a message was edited into one without buttons (the message that held
        them is gone). A confirmation (a set with Yes/No) is answered next or not at
        all: a command or a button (its own, or another) `other`, leaves it behind,
        since its figures were as of then; text it cannot place ("hmm", a wrong number)
        leaves it standing."""
        shown = next((r for r in reversed(outcome.replies) if r.buttons), None)
        if shown is not None:
            return shown.actions, answers.kinds(shown)
        if (moved or cancelled or (answers.confirming(kinds) and other)
                or any(r.edit for r in outcome.replies)):
            return [], {}
        return offered, kinds

    def _home(self) -> str:
        """What a greeting opens: the home card when there is one, else /start."""
        return "menu" if "menu" in self.router.commands else "start"

    def _known(self) -> Set[str]:
        return self.router.commands.keys() | {"help", "cancel"}

    def _named(self, word: str) -> str | None:
        """The command a word names ("积分" -> points), when this engine has it."""
        command = answers.keyword(word)
        if command == "menu":
            command = self._home()
        return command if command in self._known() else None

    def _typed(self, text: str, waiting: str | None, kinds: dict[str, int],
               created: bool) -> str | None:
        """The command typed words that press no button stand for, if any: a cancel
        word leaves any flow at any step; while nothing waits, a greeting opens the
        home card and a command's name runs it; a newcomer's "1" or "yes" (an answer to
        a card they have not seen yet) gets the welcome card alone."""
        if answers.cancelling(text):
            return "cancel"
        if waiting is not None or answers.confirming(kinds):
            return None
        if answers.greeting(text):
            return self._home()
        named = self._named(text)
        if named is not None:
            return named
        if created and (answers.number(text) is not None or answers.yes_no(text) is not None):
            return "start"
        return None

    async def _route(self, ctx: Ctx, state: str | None, command: str | None,
                     offered: list[str], kinds: dict[str, int], staff: bool) -> Outcome:
        router = self.router
        if command == "cancel":
            # A flow that waits, or a confirmation on screen: both are left unanswered.
            own = router.cancels.get(state) if state else None
            if own is not None and not answers.confirming(kinds):
                return await own(ctx)  # the flow's own words for leaving it
            return Outcome([reply("cancel.done" if state or answers.confirming(kinds)
                                  else "cancel.nothing")])
        if command == "help":
            return Outcome([await self._help_for(ctx, staff)])
        if command is not None:
            step = router.commands.get(command)
            if step is None:
                # Echoed without its control characters (a terminal would act on them).
                return Outcome([reply("error.unknown_command",
                                      command=f"/{tags.shown(command)}"),
                                await self._help_for(ctx, staff)])
            return await step(ctx)
        if ctx.action is None and answers.confirming(kinds):
            # Text a confirmation cannot place ("maybe", "12,5", a wrong number), in any
            # flow: how to answer it. A flow that waits keeps waiting, as it was.
            return Outcome([answers.again(offered)], state=state, data=ctx.data)
        waiting = router.states.get(state) if state else None
        if ctx.action is not None:
            # The waiting step gets only the buttons it offered; an older button of the
            # same feature (an earlier summary's "edit phone") starts its own action.
            if waiting is not None and ctx.action in offered:
                return await waiting(ctx)
            step = router.find_action(ctx.action)
            if step is None:
                return Outcome([reply(EXPIRED)])
            return await step(ctx)
        if waiting is not None:
            return await waiting(ctx)
        if not ctx.text:
            return Outcome([reply("error.text_only")])
        chosen = answers.number(ctx.text)
        if offered and chosen is not None:  # a number past the buttons
            return Outcome([reply("buttons.choose_one") if len(offered) == 1
                            else reply("buttons.choose", last=len(offered))])
        if not offered and (chosen is not None or answers.yes_no(ctx.text) is not None):
            # An answer to buttons no longer offered (after /cancel, say): nothing to pick.
            return Outcome([reply("buttons.none", menu=f"/{self._home()}")])
        return Outcome([reply("error.not_understood"), await self._help_for(ctx, staff)])

    async def _welcome(self, ctx: Ctx) -> Reply:
        greeting = await self.router.commands["start"](replace(ctx, arg=""))
        return greeting.replies[0]

    async def _help_for(self, ctx: Ctx, staff: bool) -> Reply:
        """The asker's own /help: with the sections of the roles they hold."""
        held = await roles.held(ctx.uow, ctx.member.id) if staff else set()
        return self._help(held)

    def _help(self, held: Set[str] = frozenset()) -> Reply:
        """The members' commands, then those of each role held and the roles below it.
        Built once per set of roles (the router is fixed at start-up)."""
        key = frozenset(held)
        if key not in self._help_replies:
            self._help_replies[key] = help_menu(self.router, key)
        return self._help_replies[key]

    def _locale(self, chosen: str | None, hint: str | None) -> str:
        return i18n.negotiate(chosen, hint) or self.programme.default_locale


def help_menu(router: Router, held: Set[str] = frozenset()) -> Reply:
    """/help: the members' commands, then a group per staff role, lowest first, of the
    commands that role is the least to use (the owner sees every group)."""
    lines: list[Text | str] = [_line(name) for name in [*router.menu, "help", "cancel"]]
    ranks = [roles.ROLES.index(r) for r in held if r in roles.ROLES]
    for role in reversed(roles.ROLES):  # moderator, staff, operator, admin, owner
        names = [_line(name) for name, least in router.roles.items() if least == role]
        names += [Text(key, {"command": typed}) for key, typed, least in router.staff_lines
                  if least == role]
        if names and ranks and min(ranks) <= roles.ROLES.index(role):
            lines += ["", Text(f"help.role.{role}"), *names]
    return reply("help.menu", commands=lines)


def _line(name: str) -> Text:
    return Text(f"command.{name}", {"command": f"/{name}"})


def _expired(outcome: Outcome) -> bool:
    """Whether all a step said is that the button has expired."""
    return bool(outcome.replies) and all(r.key == EXPIRED for r in outcome.replies)


def _command(text: str) -> tuple[str | None, str]:
    """"/points", and as typed on phones: "／points" (full-width), "/ points"."""
    stripped = text.strip()
    if not stripped.startswith(SLASHES):
        return None, ""
    parts = stripped[1:].split(maxsplit=1)
    if not parts:
        return None, ""
    head = unicodedata.normalize("NFKC", parts[0])
    name = head.split("@", 1)[0].lower()  # "/points@memberbot" in groups
    return name, parts[1].strip() if len(parts) > 1 else ""


def _payload(arg: str, prefix: str) -> str | None:
    return arg[len(prefix):] if arg.startswith(prefix) else None
