"""Gated Telegram chats, the platform's half: what /gate asks of a chat (TelegramRooms),
taking out whoever no longer qualifies (Remover), and asking Telegram who is still in
each chat (Reconciler), for the `chat_member` updates missed while the bot was down;
and, for moderation, taking out newcomers whose captcha ran out (CaptchaExpiry).

The domain decides who is due for removal (domain.community.removals); only this
process can act on it, so a worker here polls for due removals every few seconds. With
no grace a removal follows a lapse within seconds; a tier change lapses a seat at once
(seats.recheck), so this poll is all that stands between the two.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aiolimiter import AsyncLimiter

from bot.telegram.transport import (
    FloodWait,
    Rejected,
    TelegramFailure,
    TransientFailure,
    Transport,
    Unreachable,
)
from domain.community import removals, seats
from domain.config import Programme
from domain.storage.database import Database
from handlers.community.joining import ADMINS, GONE, seen
from handlers.community.moderation import newcomers
from handlers.community.moderation.events import GroupChat
from handlers.engine.rooms import ROOM_KINDS, Room, RoomError

log = logging.getLogger(__name__)
PLATFORM = "telegram"
RETRY_FIRST_S = 60.0  # a failed reconciling pass is tried again this soon, then later


class TelegramRooms:
    """The Rooms protocol (handlers.engine.rooms) over a transport."""

    platform = PLATFORM

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def look_up(self, chat_id: str) -> Room | None:
        try:
            number, kind, title = await self.transport.get_chat(chat_id)
        except (Rejected, Unreachable):  # "chat not found", "bot is not a member"
            return None
        except TelegramFailure as exc:
            raise RoomError(exc.description) from exc
        # A private chat is no room: nobody joins it, so there is nothing to gate.
        return Room(number, kind, title) if kind in ROOM_KINDS else None

    async def missing_rights(self, room: Room, needed: tuple[str, ...]) -> list[str]:
        try:
            held = await self.transport.bot_rights(room.chat_id)
        except TelegramFailure as exc:
            raise RoomError(exc.description) from exc
        return [right for right in needed if right not in held]

    async def join_link(self, room: Room, name: str) -> str:
        try:
            return await self.transport.create_join_link(room.chat_id, name)
        except TelegramFailure as exc:
            raise RoomError(exc.description) from exc

    async def revoke_link(self, chat_id: str, link: str) -> None:
        """revokeChatInviteLink: a gate taken off leaves no link of ours that asks for an
        approval nobody gives. Both libraries name the call as the Bot API does."""
        try:
            await self.transport.revoke_join_link(chat_id, link)
        except TelegramFailure as exc:
            raise RoomError(exc.description) from exc


def why_refused(description: str) -> str:
    """A refused removal in the domain's words (removals.WHY), from Telegram's."""
    said = description.lower()
    if "not enough rights" in said or "not an administrator" in said \
            or "need administrator rights" in said or "bot is not a member" in said:
        return "rights"
    if "administrator" in said or "chat owner" in said:
        return "admin"
    return "other"


class Remover:
    """Takes out, one at a time, whoever is due (removals.due): first a look at their
    status, since someone who left needs no removal and a chat admin is never removed
    (both are then told to the seat instead), then banChatMember and unbanChatMember.

    A 429 ends the pass at once, before anyone else is touched, and the worker sleeps
    it out; a refusal (400, 403) postpones that one removal with a growing delay and the
    pass goes on, read for why (the bot lacks "Ban users", the person is an admin) so
    /gates and the operators' notice can say so; a network failure ends the pass, to be
    tried at the next. The hourly sweep of every seat (seats.sweep) is the scheduler's
    "community" job, not this worker's: it needs no platform, and on PostgreSQL only the
    leading scheduler runs it."""

    def __init__(self, db: Database, programme: Programme, transport: Transport, *,
                 every: float = 2.0, batch: int = 50,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.programme = programme
        self.transport = transport
        self.every = every
        self.batch = batch
        self.clock = clock
        self._refusals: dict[int, int] = {}  # seat id -> refusals this process has seen

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            wait = self.every
            try:
                wait = max(await self.once(), self.every)
            except Exception:
                log.exception("removal pass failed")
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass

    async def once(self) -> float:
        """One pass over what is due; the seconds to wait before the next (a flood wait)."""
        async with self.db.uow() as uow:
            due = await removals.due(uow, PLATFORM, self.clock(), self.batch)
        for removal in due:
            try:
                await self._remove(removal)
            except FloodWait as exc:
                log.warning("removals paused by flood control",
                            extra={"retry_after": exc.retry_after, "left": len(due)})
                return exc.retry_after
            except TransientFailure as exc:
                log.warning("removals paused: Telegram unreachable",
                            extra={"detail": exc.description})
                return 0.0
            except (Rejected, Unreachable) as exc:
                await self._postpone(removal, exc.description)
        return 0.0

    async def _remove(self, removal: removals.Removal) -> None:
        status = await self.transport.member_status(removal.chat_id, removal.user_id)
        if status in ADMINS or status in GONE:
            # An admin is kept (the seat learns it and qualifies); someone gone is
            # recorded as gone. Either way there is nobody to take out.
            await seen(self.db, self.programme, PLATFORM, removal.chat_id, removal.user_id,
                       status, self.clock())
            log.info("removal not needed", extra={"chat": removal.chat_id,
                                                  "user": removal.user_id, "status": status})
            return
        await self.transport.remove_member(removal.chat_id, removal.user_id)
        async with self.db.uow() as uow:
            done = await removals.removed(uow, removal, self.clock())
            await uow.commit()
        self._refusals.pop(removal.seat_id, None)
        log.info("removed from a gated chat", extra={
            "chat": removal.chat_id, "user": removal.user_id, "recorded": done})

    async def _postpone(self, removal: removals.Removal, reason: str) -> None:
        refusals = self._refusals.get(removal.seat_id, 0) + 1
        self._refusals[removal.seat_id] = refusals
        delay = timedelta(minutes=min(2 ** (refusals - 1), 240))
        now = self.clock()
        async with self.db.uow() as uow:
            await removals.postpone(uow, removal, now + delay, reason, now,
                                    why=why_refused(reason))
            await uow.commit()
        log.warning("removal refused; postponed", extra={
            "chat": removal.chat_id, "user": removal.user_id, "detail": reason,
            "retry_in_s": int(delay.total_seconds())})


class Reconciler:
    """Asks Telegram (getChatMember) about every present seat, at start and then every
    `every`, at most `rate` questions a second, and tells the seat what it hears when
    it differs: someone gone, or an admin made or unmade. Telegram sends no
    `chat_member` update twice, so what happened while no process listened is only
    learnt this way.

    A 429 waits out its `retry_after` and goes on; a network failure ends the pass (the
    next one starts over); a refusal about one account skips it."""

    def __init__(self, db: Database, programme: Programme, transport: Transport, *,
                 rate: float = 5.0, every: timedelta = timedelta(hours=6), page: int = 200,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.programme = programme
        self.transport = transport
        self.limiter = AsyncLimiter(rate, 1.0)
        self.every = every
        self.page = page
        self.clock = clock
        self._lost: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        retry = RETRY_FIRST_S
        while not stop.is_set():
            wait = self.every.total_seconds()
            try:
                changed = await self.once(stop)
                log.info("gated chats reconciled", extra={"changed": changed})
                retry = RETRY_FIRST_S
            except Exception as exc:  # noqa: BLE001 - the next pass starts over
                if isinstance(exc, TransientFailure):
                    log.warning("reconciling gated chats paused: Telegram unreachable",
                                extra={"detail": exc.description})
                else:
                    log.exception("reconciling gated chats failed")
                # Soon, not in six hours: a blip at start must not delay the catch-up.
                wait, retry = min(retry, wait), min(retry * 2, wait)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                pass

    async def once(self, stop: asyncio.Event | None = None) -> int:
        """One pass over every present seat; how many seats it corrected."""
        after, changed = 0, 0
        self._lost = set()  # chats this pass found it can no longer ask about
        while stop is None or not stop.is_set():
            async with self.db.uow() as uow:
                page = await seats.present_on(uow, PLATFORM, after, self.page)
            if not page:
                break
            after = page[-1].seat_id
            for seat in page:
                status = None if seat.chat_id in self._lost else await self._status(seat)
                if status is None:
                    continue
                admin = status in ADMINS
                if status in GONE or admin != seat.chat_admin:
                    await seen(self.db, self.programme, PLATFORM, seat.chat_id, seat.user_id,
                               status, self.clock())
                    changed += 1
        return changed

    async def _status(self, seat: seats.Present) -> str | None:
        while True:
            async with self.limiter:
                try:
                    return await self.transport.member_status(seat.chat_id, seat.user_id)
                except FloodWait as exc:
                    await asyncio.sleep(exc.retry_after)
                except (Rejected, Unreachable) as exc:
                    # The bot was taken out of the chat, or the chat is gone: none of its
                    # seats can be asked about, so the pass moves on to the next chat.
                    if isinstance(exc, Unreachable) or "chat not found" in exc.description.lower():
                        self._lost.add(seat.chat_id)
                    log.info("a seat could not be checked", extra={
                        "chat": seat.chat_id, "user": seat.user_id, "detail": exc.description})
                    return None


class CaptchaExpiry:
    """Newcomers who let their captcha run out are taken out (newcomers.expire_due);
    pending captchas live in the database, so those due while no process ran are
    acted on at the first pass after a start."""

    def __init__(self, db: Database, programme: Programme, chats: Callable[[str], GroupChat],
                 *, every: float = 3.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.programme = programme
        self.chats = chats
        self.every = every
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.once()
            except Exception:
                log.exception("captcha expiry pass failed")
            try:
                await asyncio.wait_for(stop.wait(), self.every)
            except TimeoutError:
                pass

    async def once(self) -> int:
        done = await newcomers.expire_due(self.db, self.programme, PLATFORM, self.chats,
                                          self.clock())
        if done:
            log.info("expired captchas acted on", extra={"count": done})
        return done


def start_workers(db: Database, programme: Programme, transport: Transport,
                  stop: asyncio.Event, chats: Callable[[str], GroupChat] | None = None
                  ) -> list[asyncio.Task[None]]:
    """The gated chats' workers of a connected bot, on either library, until `stop`;
    with `chats` (a group as moderation acts on it), the captcha expiry too."""
    tasks = [asyncio.create_task(Remover(db, programme, transport).run(stop),
                                 name="telegram removals"),
             asyncio.create_task(Reconciler(db, programme, transport).run(stop),
                                 name="telegram seat reconciling")]
    if chats is not None:
        tasks.append(asyncio.create_task(CaptchaExpiry(db, programme, chats).run(stop),
                                         name="telegram captcha expiry"))
    return tasks
