"""Gated chats through the engine, as Telegram would drive them, without Telegram.

FakeRooms stands in for the platform's chats (the Rooms protocol): it knows a few
chats, records every question asked of it, and can lack rights, not know a chat, or
fail (RoomError). People talk to the engine on the "telegram" platform, in private or
in a group, the way the gateway passes them on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update

from domain.community.tables import Gate, Seat
from domain.conversations.tables import Conversation
from domain.members.tables import Identity, Member
from domain.points import ledger
from domain.staff import roles
from handlers.engine.engine import Engine
from handlers.engine.rooms import Room, RoomError
from handlers.engine.types import Inbound, Rendered
from handlers.routers import build_engine

PLATFORM = "telegram"
TEA = Room("-1001000000001", "supergroup", "Tea Lovers")
GOLD_LOUNGE = Room("-1001000000002", "supergroup", "Gold Lounge")
NEWS = Room("-1001000000003", "channel", "Tea House News")
SOMEONE = Room("4242", "private", "Somebody")  # a person's chat: nothing to gate
OWNER, SAM, ALICE = "1001", "1002", "1003"  # Telegram user ids


@dataclass
class FakeRooms:
    """The Rooms protocol over a few made-up chats.

    `missing`: rights the bot lacks everywhere; `silent`: every call fails as Telegram
    does when it does not answer; `usernames`: a public channel's @name -> its chat."""

    chats: dict[str, Room] = field(default_factory=lambda: {
        r.chat_id: r for r in (TEA, GOLD_LOUNGE, NEWS, SOMEONE)})
    usernames: dict[str, str] = field(default_factory=lambda: {"@teahousenews": NEWS.chat_id})
    missing: list[str] = field(default_factory=list)
    silent: bool = False
    platform: str = PLATFORM
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def _answer(self) -> None:
        if self.silent:
            raise RoomError("Too Many Requests: retry after 30")

    async def look_up(self, chat_id: str) -> Room | None:
        self.calls.append(("look_up", chat_id))
        self._answer()
        return self.chats.get(self.usernames.get(chat_id.lower(), chat_id))

    async def missing_rights(self, room: Room, needed: tuple[str, ...]) -> list[str]:
        self.calls.append(("missing_rights", room.chat_id))
        self._answer()
        return [right for right in needed if right in self.missing]

    async def join_link(self, room: Room, name: str) -> str:
        self.calls.append(("join_link", room.chat_id, name))
        self._answer()
        assert len(name) <= 32, "Telegram refuses a longer name"
        return f"https://t.me/+{room.title.split()[0].lower()}{len(self.links)}"

    @property
    def links(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == "join_link"]


@dataclass
class Person:
    """Someone on Telegram: says things in private, or in a group chat."""

    engine: Engine
    user: str
    locale: str | None = "en"

    async def answer(self, text: str = "", chat: Room | None = None,
                     action: str | None = None) -> list[Rendered]:
        where = chat or Room(self.user, "private", "")
        answer = await self.engine.handle(Inbound(
            platform=PLATFORM, user_id=self.user, chat_id=where.chat_id, text=text,
            action=action, locale=self.locale, chat_kind=where.kind,
            chat_title=where.title if chat else None))
        return answer.rendered()

    async def say(self, text: str, chat: Room | None = None) -> str:
        return "\n\n".join(r.text for r in await self.answer(text, chat))

    async def press(self, action: str) -> str:
        return "\n\n".join(r.text for r in await self.answer(action=action))


def engine_for(db, programme, clock, rooms: FakeRooms | None, **options) -> Engine:
    return build_engine(db, programme, clock=clock, rooms=rooms, **options)


async def owner(db, programme, engine: Engine, clock, locale: str = "en") -> Person:
    """The owner, member 1."""
    boss = Person(engine, OWNER, locale)
    await boss.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"{PLATFORM}:{OWNER}", clock.now)
        await uow.commit()
    return boss


async def someone(db, engine: Engine, clock, user: str, role: str | None = None,
                  locale: str = "en") -> Person:
    """A member who has started the bot, holding `role` if given (by the owner,
    member 1, who must exist)."""
    person = Person(engine, user, locale)
    await person.say("/start")
    if role is not None:
        mid = await member_id(db, user)
        async with db.uow() as uow:
            await roles.grant(uow, 1, role, mid, clock.now)
            await uow.commit()
    return person


async def member_id(db, user: str) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Identity.member_id).where(
            Identity.platform == PLATFORM, Identity.external_id == user))


async def standing(db, user: str, tier: str, qualifying: int, now: datetime) -> int:
    """Give the member `tier`, and `qualifying` points earned now."""
    mid = await member_id(db, user)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == mid).values(tier=tier))
        if qualifying:
            await ledger.post(uow, ledger.Post(
                member_id=mid, delta=qualifying, kind="adjust", reason="adjusted",
                key=f"q:{user}:{qualifying}", qualifying=qualifying), now)
        await uow.commit()
    return mid


async def all_gates(db) -> list[dict]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(Gate).order_by(Gate.id))
        return [{"chat": g.chat_id, "kind": g.kind, "title": g.title, "tier": g.min_tier,
                 "grace_s": g.grace_s, "on_lapse": g.on_lapse, "dry_run": g.dry_run,
                 "link": g.join_link} for g in rows]


async def seat_status(db, chat: Room, user: str) -> str | None:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Seat.status).join(Gate).where(
            Gate.chat_id == chat.chat_id, Seat.user_id == user))


async def count(db, model) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def waiting(db, user: str) -> str | None:
    """Where the person's private conversation waits."""
    async with db.uow() as uow:
        conv = await uow.session.get(Conversation, (PLATFORM, user))
        return conv.state if conv else None
