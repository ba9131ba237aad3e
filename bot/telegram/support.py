"""The support inbox's staff chat on Telegram: a forum supergroup where each member's
conversation has its own topic.

`SupportDesk.group_message` takes the group messages that are the inbox's: /setsupport
(let through to the engine in a forum where the bot may manage topics; `/setsupport
off` anywhere), and what staff write in a member's topic, which goes to the engine as
`/reply N TEXT` (or `/close N`) for that member's open conversation (a photo with it
as the Inbound's picture, support_photos.py), so the same step, permission check and
audit answer it as in private. A reply that went is acknowledged with a reaction on
the staff member's message (the text only if the reaction fails); anything else the
step says (a refusal, a closed WeChat window) is said in the topic, to be read.
Anyone else writing there is told only staff may answer; nothing reaches the member.

`SupportDesk.relay` posts what the domain queued for the staff chat
(domain.support.staff_chat) in the member's topic, which support_topics.py makes,
closes, reopens and renames. A post naming a support message with a photo shows the
photo (support_photos.post).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.telegram import support_photos
from bot.telegram.groups import GROUP_KINDS, kind_of
from bot.telegram.support_topics import TopicGone, Topics, sent
from bot.telegram.transport import TelegramFailure
from domain.community import group_settings
from domain.config import Programme
from domain.members import members
from domain.staff import roles
from domain.storage.database import Database
from domain.support import conversations as support
from domain.support import pictures, staff_chat
from handlers.engine.engine import Answer
from handlers.engine.types import Inbound
from handlers.notices.notices import render_notice
from handlers.support.tickets import OFF

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

log = logging.getLogger(__name__)
PLATFORM = "telegram"
SETUP = "setsupport"
EVERY_S = 2.0
CHATS_TTL_S = 30.0  # a staff chat set through another worker is known within this
MANAGE_TOPICS = "can_manage_topics"
ACK = "👍"  # a reply that went: one of the reactions Telegram lets bots use
ACKNOWLEDGED = "support.replied"  # what the reaction stands for


class SupportDesk:
    def __init__(self, db: Database, programme: Programme) -> None:
        self.db = db
        self.programme = programme
        self._chats: tuple[float, frozenset[str]] | None = None
        self.topics = Topics(db, programme)

    async def staff_chats(self) -> frozenset[str]:
        """The staff chats' ids, read at most every CHATS_TTL_S: group chatter in any
        forum topic asks, and costs no query most of the time."""
        now = time.monotonic()
        if self._chats is None or now - self._chats[0] > CHATS_TTL_S:
            async with self.db.snapshot() as snap:
                found = frozenset(c.chat_id for c in await staff_chat.chats(snap)
                                  if c.platform == PLATFORM)
            self._chats = (now, found)
        return self._chats[1]

    # ------------------------------------------------------------------ staff writing

    async def group_message(self, gateway: Gateway, message: Any, update_id: int,
                            name: str | None) -> bool:
        """True when `message` was the inbox's and is handled (or refused) here."""
        from bot.telegram.gateway import topic

        chat, user = message.chat, message.from_user
        chat_id, thread = str(chat.id), topic(message)
        key = gateway.key(update_id)
        if user is None or user.is_bot:
            return False
        if name == SETUP:
            await self._setup(gateway, message, key, thread)
            return True
        if thread is None or chat_id not in await self.staff_chats():
            return False
        async with self.db.snapshot() as snap:
            member_id = await staff_chat.member_of_topic(snap, PLATFORM, chat_id, str(thread))
            if member_id is None:
                return False  # a topic of staff's own: not a member's conversation
            writer = await members.by_identity(snap, PLATFORM, str(user.id))
            allowed = writer is not None and await roles.can(snap, writer.id, "support")
            found = await support.current(snap, member_id)
            conv = found.id if found is not None else None
        if name is not None and name != "close":
            return False  # another command: answered as anywhere in a group
        if not allowed:
            await gateway.say(key, chat_id, "support.staff_only", user.language_code,
                              group=True, thread_id=thread)
            return True
        if conv is None:
            await gateway.say(key, chat_id, "support.topic_closed", user.language_code,
                              group=True, thread_id=thread)
            return True
        said = (message.text or message.caption or "").strip()
        if name == "close":
            text = f"/close {conv}"
        elif not said and support_photos.picture_of(message) is None:
            await gateway.say(key, chat_id, "support.refused.text_or_photo",
                              user.language_code, group=True, thread_id=thread)
            return True
        else:
            text = f"/reply {conv} {said}"
        await self._answer(gateway, self._inbound(message, key, text), thread)
        return True

    async def _setup(self, gateway: Gateway, message: Any, key: str,
                     thread: int | None) -> None:
        """/setsupport: refused here when the group could not work as the staff chat
        (no topics, or the bot may not manage them), before the engine makes it one;
        `/setsupport off` goes through from anywhere."""
        chat, user = message.chat, message.from_user
        chat_id = str(chat.id)
        off = (message.text or "").partition(" ")[2].strip().lower() in OFF
        refusal = None
        if not off and kind_of(chat) in GROUP_KINDS and not getattr(chat, "is_forum", False):
            refusal = "support.not_forum"
        elif not await self._may(str(user.id), "support_chat"):
            # Refused before the engine, which would make a member of a stranger.
            refusal = "support.chat_denied"
        elif not off and kind_of(chat) in GROUP_KINDS:
            try:
                rights = await gateway.transport.bot_rights(chat_id)
            except TelegramFailure as exc:
                log.warning("bot rights unknown", extra={"chat": chat_id,
                                                         "detail": exc.description})
                refusal = "support.chat_unchecked"
            else:
                refusal = None if MANAGE_TOPICS in rights else "support.chat_bot_rights"
        if refusal is not None:
            await gateway.say(key, chat_id, refusal, user.language_code, group=True,
                              thread_id=thread)
            return
        await gateway.inbound(self._inbound(message, key, message.text or ""),
                              thread_id=thread)
        self._chats = None

    async def _answer(self, gateway: Gateway, inbound: Inbound, thread: int | None) -> None:
        """The engine's answer to what staff wrote in a topic: a reply that went is a
        reaction on their message, not one more message in the topic."""

        async def deliver(answer: Answer) -> None:
            assert gateway.sender is not None
            for rendered in answer.rendered():
                if rendered.key == ACKNOWLEDGED and await self._react(gateway, inbound):
                    continue
                await gateway.sender.send(inbound.chat_id, rendered, group=True,
                                          interactive=True, thread_id=thread)

        await gateway.pipeline.handle(inbound, deliver)

    @staticmethod
    async def _react(gateway: Gateway, inbound: Inbound) -> bool:
        """👍 on the staff member's message; False when Telegram would not have it
        (reactions turned off in the group, say)."""
        try:
            await gateway.transport.react(inbound.chat_id, str(inbound.message_id), ACK)
        except TelegramFailure as exc:
            log.info("reply not acknowledged by a reaction",
                     extra={"chat": inbound.chat_id, "detail": exc.description})
            return False
        return True

    async def _may(self, user_id: str, permission: str) -> bool:
        async with self.db.snapshot() as snap:
            writer = await members.by_identity(snap, PLATFORM, user_id)
            return writer is not None and await roles.can(snap, writer.id, permission)

    @staticmethod
    def _inbound(message: Any, key: str, text: str) -> Inbound:
        chat, user = message.chat, message.from_user
        return Inbound(platform=PLATFORM, user_id=str(user.id), chat_id=str(chat.id),
                       text=text, message_id=str(message.message_id),
                       locale=user.language_code, display_name=user.full_name, key=key,
                       chat_kind=kind_of(chat), chat_title=chat.title,
                       picture=support_photos.picture_of(message))

    # ------------------------------------------------------------------ posting

    async def relay(self, gateway: Gateway, stop: asyncio.Event) -> None:
        """Post what waits for the staff chat, until `stop`."""
        while not stop.is_set():
            try:
                while await self.run_once(gateway) > 0:
                    pass
            except Exception:
                log.exception("support relay pass failed")
            try:
                await asyncio.wait_for(stop.wait(), EVERY_S)
            except TimeoutError:
                pass

    async def run_once(self, gateway: Gateway) -> int:
        now = datetime.now(UTC)
        async with self.db.uow() as uow:
            due = [(p.id, p.chat_id, p.member_id, p.key, p.params)
                   for p in await staff_chat.claim(uow, PLATFORM, now)]
            await uow.commit()
        for post_id, chat_id, member_id, key, params in due:
            outcome = "retry"
            try:
                outcome = await self._post(gateway, chat_id, member_id, key, params)
            except TelegramFailure as exc:
                log.warning("support post failed", extra={"chat": chat_id,
                                                          "detail": exc.description})
            async with self.db.uow() as uow:
                await staff_chat.finish(uow, post_id, outcome, datetime.now(UTC))
                await uow.commit()
        return len(due)

    async def _post(self, gateway: Gateway, chat_id: str, member_id: int | None, key: str,
                    params: dict[str, Any]) -> str:
        locale = await self._locale(chat_id)
        if member_id is None:
            return await self._say(gateway, chat_id, None, key, params, locale)
        if key in staff_chat.TOPIC_STEPS:
            return await self.topics.step(gateway, chat_id, member_id, key, locale)
        thread = await self.topics.thread(gateway, chat_id, member_id, locale)
        if thread is None:
            return "later"  # another worker is making the topic
        try:
            return await self._say(gateway, chat_id, thread, key, params, locale)
        except TopicGone:  # staff deleted the topic: a new one, then the post again
            thread = await self.topics.remade(gateway, chat_id, member_id, thread, locale)
            if thread is None:
                return "later"
            return await self._say(gateway, chat_id, thread, key, params, locale)

    async def _say(self, gateway: Gateway, chat_id: str, thread: int | None, key: str,
                   params: dict[str, Any], locale: str) -> str:
        assert gateway.sender is not None
        message = render_notice(key, params, locale, self.programme)
        if pictures.PARAM in params:
            async with self.db.snapshot() as snap:
                picture = await pictures.find(snap, int(params[pictures.PARAM]))
            return await support_photos.post(gateway, self.programme, chat_id, thread,
                                             message, picture, locale)
        return sent(await gateway.sender.send(chat_id, message, group=True,
                                              thread_id=thread))

    async def _locale(self, chat_id: str) -> str:
        async with self.db.snapshot() as snap:
            chosen = (await group_settings.read(snap, PLATFORM, chat_id)).language
        return chosen or self.programme.default_locale
