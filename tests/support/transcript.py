"""Transcript helpers: say a line as a member, read what the console would print."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.console import ConsoleChat, format_reply
from domain.staff import roles
from handlers.engine.types import Inbound
from handlers.routers import build_engine


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Member:
    chat: ConsoleChat
    said: list[str] = field(default_factory=list)

    async def press(self, action: str) -> str:
        """Press a button by its action, as Telegram sends callback data (even forged)."""
        answer = await self.chat.engine.handle(Inbound(
            platform="console", user_id=self.chat.user, chat_id=self.chat.user, action=action,
            locale=self.chat.locale))
        return "\n\n".join(r.text for r in answer.rendered())

    async def tap(self, action: str) -> str:
        """Press a button by its action and read the answer as the console prints it:
        its text and its buttons, numbered as a member types them."""
        answer = await self.chat.engine.handle(Inbound(
            platform="console", user_id=self.chat.user, chat_id=self.chat.user, action=action,
            locale=self.chat.locale))
        return "\n\n".join(format_reply(r, self.chat.locale or "en") for r in answer.rendered())

    async def say(self, line: str) -> str:
        out = "\n\n".join(await self.chat.say(line))
        self.said.append(out)
        return out


def member(db, programme, clock: Clock, user: str = "alice", locale: str | None = "en") -> Member:
    return Member(ConsoleChat(build_engine(db, programme, clock=clock), user=user, locale=locale))


async def owner(db, programme, clock: Clock, user: str = "olga",
                locale: str | None = "en") -> Member:
    """The programme's owner chatting in the console: member 1 when they come first."""
    chat = member(db, programme, clock, user=user, locale=locale)
    await chat.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"console:{user}", clock.now)
        await uow.commit()
    return chat


async def second_member(db, programme, clock: Clock, role: str | None,
                        user: str = "sam") -> Member:
    """Member 2, joined after the owner (member 1), holding `role` from the owner (none:
    a plain member): the caller of a permission test."""
    chat = member(db, programme, clock, user=user)
    await chat.say("/start")
    if role is not None:
        async with db.uow() as uow:
            await roles.grant(uow, 1, role, 2, clock.now)
            await uow.commit()
    return chat
