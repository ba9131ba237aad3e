"""Group moderation without Telegram: a FakeGroupChat that records every action asked
of it, and a Group that passes events to Moderation the way the platform's side does
and renders the outcome in the group's language.

    chat = FakeGroupChat(admin_ids={BOSS.user_id})
    group = Group(moderation_for(db, programme, clock), chat)
    said = await group.say(BOSS, "/warn spam", reply_to=ANN)
    assert said.text == "..." and chat.calls == [...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from sqlalchemy import select

from domain.community.tables import GroupRestriction, GroupWarn
from domain.staff.tables import AuditEntry
from handlers.community.moderation.dispatch import Moderation
from handlers.community.moderation.events import (
    BUTTON,
    JOINED,
    LEFT,
    MESSAGE,
    RIGHTS,
    ChatActionError,
    GroupEvent,
    GroupOutcome,
    Person,
)
from handlers.community.moderation.routers import build_group_router
from handlers.engine.render import render
from handlers.engine.types import Rendered, Reply

PLATFORM = "telegram"
TEA_ID, TEA_TITLE = "-1001000000100", "Tea Lovers"
LOG_ID = "-1001000000999"
BOT = Person("7000", "Memberbot", "memberbot", is_bot=True)
BOSS = Person("1001", "Bea Boss", "bea")  # the group's admin
ANN = Person("2001", "Ann Lee", "annlee")
BEN = Person("2002", "Ben Wu", "benwu")
_ids = count(500)


@dataclass
class FakeGroupChat:
    """The GroupChat port over one made-up chat.

    `admin_ids`: its admins (the bot among them, as it must be to moderate);
    `fresh_admins`: what the platform says when asked again (/admincache);
    `refuse`: action name -> ChatActionError reason, raised when that action is asked;
    `admin_rights`: an admin's own rights, where not all of them.
    `calls` keeps every action in order; `muted`, `banned` the state it leaves."""

    platform: str = PLATFORM
    chat_id: str = TEA_ID
    admin_ids: set[str] = field(default_factory=lambda: {BOSS.user_id, BOT.user_id})
    fresh_admins: set[str] | None = None
    refuse: dict[str, str] = field(default_factory=dict)
    # An admin's own rights, where not all of them (events.RIGHTS).
    admin_rights: dict[str, set[str]] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)
    muted: dict[str, datetime | None] = field(default_factory=dict)
    banned: dict[str, datetime | None] = field(default_factory=dict)
    posted: list[tuple[str, Rendered]] = field(default_factory=list)  # (message id, text)

    def _act(self, *call) -> None:
        self.calls.append(call)
        reason = self.refuse.get(call[0])
        if reason is not None:
            raise ChatActionError(reason, f"fake refusal of {call[0]}")

    async def admins(self) -> frozenset[str]:
        return frozenset(self.admin_ids)

    async def rights(self, user_id: str) -> frozenset[str]:
        if user_id not in self.admin_ids:
            return frozenset()
        return frozenset(self.admin_rights.get(user_id, RIGHTS))

    async def refresh_admins(self) -> frozenset[str]:
        self._act("refresh_admins")
        if self.fresh_admins is not None:
            self.admin_ids = set(self.fresh_admins)
        return frozenset(self.admin_ids)

    async def mute(self, user_id: str, until: datetime | None) -> None:
        self._act("mute", user_id, until)
        self.muted[user_id] = until

    async def unmute(self, user_id: str) -> None:
        self._act("unmute", user_id)
        self.muted.pop(user_id, None)

    async def ban(self, user_id: str, until: datetime | None) -> None:
        self._act("ban", user_id, until)
        self.banned[user_id] = until

    async def unban(self, user_id: str) -> None:
        self._act("unban", user_id)
        self.banned.pop(user_id, None)

    async def kick(self, user_id: str) -> None:
        self._act("kick", user_id)

    async def delete(self, message_id: str) -> None:
        self._act("delete", message_id)

    async def post(self, reply: Reply, locale: str) -> str:
        self._act("post", reply.key)
        message_id = str(next(_ids))
        self.posted.append((message_id, render(reply, locale)))
        return message_id

    @property
    def actions(self) -> list[tuple]:
        """The calls that change someone's standing (no posts, no admin lookups)."""
        return [c for c in self.calls if c[0] not in ("post", "refresh_admins")]


@dataclass
class Said:
    """An outcome as people see it: the group's replies, and what went elsewhere."""

    outcome: GroupOutcome
    replies: list[Rendered]
    elsewhere: list[tuple[str, Rendered]]

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.replies]

    @property
    def buttons(self) -> list[tuple[str, str]]:
        return [b for r in self.replies for row in r.buttons for b in row]

    def logged(self, chat_id: str = LOG_ID) -> list[str]:
        return [r.text for where, r in self.elsewhere if where == chat_id]


@dataclass
class Group:
    """People acting in one group, through Moderation, as the platform hands it on."""

    moderation: Moderation
    chat: FakeGroupChat
    title: str = TEA_TITLE
    members: int | None = None

    async def _handle(self, kind: str, person: Person, **fields) -> Said:
        event = GroupEvent(platform=self.chat.platform, chat_id=self.chat.chat_id,
                           chat_title=self.title, kind=kind, person=person,
                           members=self.members, **fields)
        outcome = await self.moderation.handle(event, self.chat)
        return Said(outcome, [render(r, outcome.locale) for r in outcome.replies],
                    [(where, render(r, locale)) for where, r, locale in outcome.elsewhere])

    async def say(self, person: Person, text: str, reply_to: Person | None = None,
                  reply_to_message_id: str | None = None,
                  mentioned: tuple[Person, ...] = (), album: str | None = None,
                  message_id: str | None = None) -> Said:
        if reply_to is not None and reply_to_message_id is None:
            reply_to_message_id = str(next(_ids))
        return await self._handle(MESSAGE, person, text=text,
                                  message_id=message_id or str(next(_ids)),
                                  reply_to=reply_to, reply_to_message_id=reply_to_message_id,
                                  mentioned=mentioned, album=album)

    async def press(self, person: Person, action: str, message_id: str | None = None) -> Said:
        return await self._handle(BUTTON, person, action=action,
                                  message_id=message_id or str(next(_ids)))

    async def join(self, person: Person) -> Said:
        return await self._handle(JOINED, person)

    async def leave(self, person: Person) -> Said:
        return await self._handle(LEFT, person)


def action_of(said: Said, prefix: str) -> str:
    """The data of the first button whose data starts with `prefix`."""
    return next(action for _, action in said.buttons if action.startswith(prefix))


def moderation_for(db, programme, clock, chats: dict[str, FakeGroupChat] | None = None,
                   ) -> Moderation:
    """Moderation as the platform's side builds it; `chats` reach other chats (the
    log chat) by id."""
    return Moderation(db, programme, build_group_router(), BOT.username, clock=clock,
                      chats=chats.__getitem__ if chats is not None else None)


async def group_in(group: Group, locale: str) -> None:
    """The group speaks `locale` ("en", "zh"), as its admin sets it."""
    said = await group.say(BOSS, f"/grouplang {locale}")
    assert said.keys == ["moderation.grouplang_set"], said.text
    group.chat.calls.clear()


async def warns_of(db, person: Person, chat_id: str = TEA_ID) -> list[str | None]:
    """Their warns' reasons, oldest first."""
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(GroupWarn.reason).where(
            GroupWarn.chat_id == chat_id, GroupWarn.user_id == person.user_id)
            .order_by(GroupWarn.id)))


async def restricted(db, person: Person, chat_id: str = TEA_ID
                     ) -> dict[str, datetime | None]:
    """Their recorded mutes and bans: kind -> until."""
    async with db.uow() as uow:
        rows = await uow.session.execute(select(GroupRestriction.kind, GroupRestriction.until)
                                         .where(GroupRestriction.chat_id == chat_id,
                                                GroupRestriction.user_id == person.user_id))
        return dict(rows.all())


async def audited(db, prefix: str = "group.") -> list[tuple[str, str, str]]:
    """(actor, action, target) of the audit log's moderation entries, in order."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
            .where(AuditEntry.action.like(f"{prefix}%")).order_by(AuditEntry.id))
        return [tuple(row) for row in rows]
