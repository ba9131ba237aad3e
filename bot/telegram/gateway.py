"""What aiogram and python-telegram-bot share once an update is mapped to an Inbound:
the inbox pipeline, answering buttons, sending replies, blocks and unblocks.

Keys are "<bot id>:<update id>": update ids are per bot, so a new token on the same
database never collides with an old one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bot.ordering import ChatQueue
from bot.pipeline import Pipeline
from bot.telegram.sender import Sender
from bot.telegram.transport import Rejected, TelegramFailure, Transport
from domain.members import members
from domain.storage.database import Database
from handlers.community import joining
from handlers.community.gates import GROUP_COMMANDS
from handlers.engine.engine import Answer
from handlers.engine.render import render
from handlers.engine.rooms import ROOM_KINDS
from handlers.engine.types import Inbound, Reply

log = logging.getLogger(__name__)
PLATFORM = "telegram"


def start_link(username: str | None) -> str | None:
    """The deep link that opens a chat with the bot and sends `/start {payload}`."""
    return f"https://t.me/{username}?start={{payload}}" if username else None
EXPIRED = "error.button_expired"


class Gateway:
    def __init__(self, db: Database, pipeline: Pipeline, transport: Transport,
                 sender: Sender | None,
                 bot_id: int, default_locale: str) -> None:
        self.db = db
        self.pipeline = pipeline
        self.transport = transport
        self.sender = sender
        self.bot_id = bot_id
        self.default_locale = default_locale

    def key(self, update_id: int) -> str:
        return f"{self.bot_id}:{update_id}"

    # Both libraries name Telegram's fields alike (from_user, chat.id, contact.user_id,
    # language_code, full_name, is_topic_message), so one mapping serves aiogram and PTB
    # objects.

    async def private_message(self, message: Any, update_id: int) -> None:
        user, contact = message.from_user, message.contact
        await self.inbound(Inbound(
            platform=PLATFORM, user_id=str(user.id), chat_id=str(message.chat.id),
            text=message.text or message.caption or "", message_id=str(message.message_id),
            locale=user.language_code, display_name=user.full_name,
            phone=contact.phone_number if contact and contact.user_id == user.id else None,
            shares_contact=True, key=self.key(update_id)), thread_id=topic(message))

    async def group_message(self, message: Any, update_id: int, username: str) -> None:
        """Points and profiles are private: a command to us in a group is pointed to the
        private chat, except the few that act on the group itself (/gate), which the
        engine answers in the group; chatter and other bots' commands are left alone."""
        text = message.text or ""
        head = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        name, _, addressee = head[1:].partition("@")
        if not head or (addressee and addressee.lower() != username):
            await self.ignore(self.key(update_id))
        elif name.lower() in GROUP_COMMANDS:
            user, chat = message.from_user, message.chat
            await self.inbound(Inbound(
                platform=PLATFORM, user_id=str(user.id), chat_id=str(chat.id), text=text,
                message_id=str(message.message_id), locale=user.language_code,
                display_name=user.full_name, key=self.key(update_id),
                chat_kind=str(getattr(chat.type, "value", chat.type)),
                chat_title=chat.title), thread_id=topic(message))
        else:
            await self.say(self.key(update_id), str(message.chat.id), "telegram.private_only",
                           message.from_user.language_code, group=True,
                           thread_id=topic(message))

    async def join_request(self, request: Any, update_id: int) -> None:
        """Someone asked to join a chat through a join-request link: approve or decline
        as the gate says, and tell them why in private (user_chat_id reaches them even if
        they never started the bot). Once per update, like any answer; a chat without a
        gate is left to its admins."""
        engine = self.pipeline.engine
        chat_id, user = str(request.chat.id), request.from_user

        async def act() -> None:
            answer = await joining.join_request(
                self.db, engine.programme, PLATFORM, chat_id, str(user.id),
                user.language_code, engine.start_link, datetime.now(UTC))
            if answer.approve is None:
                return
            decide = self.transport.approve_join if answer.approve else \
                self.transport.decline_join
            try:
                await decide(chat_id, str(user.id))
            except Rejected as exc:  # answered already (by an admin, or an earlier try)
                log.info("join request already answered", extra={
                    "chat": chat_id, "user": user.id, "detail": exc.description})
            if answer.message is not None:
                await self.sender.send(str(request.user_chat_id), answer.message,
                                       interactive=True)

        await self.pipeline.once(self.key(update_id), act)

    async def chat_member(self, change: Any, update_id: int) -> None:
        """Someone's status in a group or channel changed: the gate's seats follow it.
        Our own removals report a departure too, perhaps before the Remover records
        them; removals.removed counts a seat that left as removed all the same."""
        member = change.new_chat_member
        status = str(getattr(member.status, "value", member.status))
        if status == "restricted" and not member.is_member:
            status = "left"
        kind = str(getattr(change.chat.type, "value", change.chat.type))
        if kind in ROOM_KINDS and member.user.id != self.bot_id:
            await joining.seen(self.db, self.pipeline.engine.programme, PLATFORM,
                               str(change.chat.id), str(member.user.id), status,
                               datetime.now(UTC))
        await self.pipeline.finish(self.key(update_id))

    async def button(self, query: Any, update_id: int) -> None:
        message = query.message
        if message is None or message.chat.type != "private" or not query.data:
            await self.ignore(self.key(update_id), callback_id=query.id)
            return
        user = query.from_user
        await self.inbound(Inbound(
            platform=PLATFORM, user_id=str(user.id), chat_id=str(message.chat.id),
            action=query.data, message_id=str(message.message_id), locale=user.language_code,
            display_name=user.full_name, shares_contact=True, key=self.key(update_id)),
            callback_id=query.id, thread_id=topic(message))

    async def membership(self, change: Any, update_id: int) -> None:
        """A private chat's member status: "kicked" means the member blocked us."""
        await self.reachability(self.key(update_id), str(change.from_user.id),
                                reachable=change.new_chat_member.status not in ("kicked", "left"))

    async def inbound(self, inbound: Inbound, callback_id: str | None = None,
                      thread_id: int | None = None) -> Answer:
        """Handle `inbound` and send its answer to the chat, in topic `thread_id` if the
        member wrote in one. The topic stays here: conversations need not know of it,
        and a replay maps the same update to the same topic again."""
        async def deliver(answer: Answer) -> None:
            messages = answer.rendered()
            if callback_id is not None:
                # Always stop the spinner; an expired button says so in the toast alone.
                toast = messages[0].text if len(messages) == 1 and messages[0].key == EXPIRED \
                    else None
                await self._answer_callback(callback_id, toast)
                if toast is not None:
                    return
            for message in messages:
                await self.sender.send(inbound.chat_id, message, interactive=True,
                                       group=inbound.chat_kind != "private",
                                       edit_message_id=inbound.message_id if message.edit
                                       else None, thread_id=thread_id)

        return await self.pipeline.handle(inbound, deliver)

    async def say(self, key: str, chat_id: str, reply_key: str, locale: str | None,
                  group: bool = False, thread_id: int | None = None) -> None:
        """A fixed answer that needs no member (a command typed in a group)."""
        async def send() -> None:
            message = render(Reply(reply_key), locale or self.default_locale)
            await self.sender.send(chat_id, message, group=group, interactive=True,
                                   thread_id=thread_id)

        await self.pipeline.once(key, send)

    async def reachability(self, key: str, user_id: str, reachable: bool) -> None:
        async with self.db.uow() as uow:
            await members.set_reachable(uow, PLATFORM, user_id, reachable, datetime.now(UTC))
            await uow.commit()
        await self.pipeline.finish(key)

    async def ignore(self, key: str, callback_id: str | None = None) -> None:
        if callback_id is not None:
            await self._answer_callback(callback_id, None)
        await self.pipeline.finish(key)

    async def unreachable(self, chat_id: str) -> None:
        """The sender met a 403: the member blocked us or deleted their account."""
        async with self.db.uow() as uow:
            await members.set_reachable(uow, PLATFORM, chat_id, False, datetime.now(UTC))
            await uow.commit()

    async def _answer_callback(self, callback_id: str, text: str | None) -> None:
        try:
            await self.transport.answer_callback(callback_id, text)
        except TelegramFailure as exc:  # too old to answer: the member has moved on
            log.info("callback not answered", extra={"detail": str(exc)})


def topic(message: Any) -> int | None:
    """The forum topic a message was written in, which replies must name to land there.
    Only topic messages count: outside forums `message_thread_id` names a reply thread,
    which sendMessage does not take, and General's messages carry no id at all. A button
    under a message too old to read (InaccessibleMessage) has no topic to offer."""
    if getattr(message, "is_topic_message", None):
        return getattr(message, "message_thread_id", None)
    return None


async def poll(gateway: Gateway, queue: ChatQueue, stop: asyncio.Event,
               fetch: Callable[[int | None], Awaitable[list[Any]]],
               describe: Callable[[Any], tuple[int, dict[str, Any], str]],
               handle: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
    """Long polling through either library. `describe` gives an update's id, its JSON
    and its chat; each batch is recorded before the next fetch confirms it."""
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        try:
            updates = await fetch(offset)
        except Exception:  # noqa: BLE001 - polling must outlive any one bad answer
            log.warning("getUpdates failed; retrying", exc_info=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
            continue
        backoff = 1.0
        if not updates:
            continue
        described = [describe(u) for u in updates]
        await gateway.pipeline.receive([(gateway.key(uid), data) for uid, data, _ in described])
        offset = described[-1][0] + 1
        for update, (_, _, chat) in zip(updates, described, strict=True):
            await queue.put(chat, handle(update))
