"""The support inbox's staff chat on Telegram: a forum supergroup where each member's
conversation has its own topic.

`SupportDesk.group_message` takes the group messages that are the inbox's: /setsupport
(let through to the engine in a forum only), and what staff write in a member's topic,
which goes to the engine as `/reply N TEXT` (or `/close N`) for that member's open
conversation (a photo with it as the Inbound's picture, support_photos.py), so the
same step, permission check and audit answer it as in private.
Anyone else writing there is told only staff may answer; nothing reaches the member.

`SupportDesk.relay` posts what the domain queued for the staff chat
(domain.support.staff_chat): a member's first post makes their topic (named with
member number, tier and platform) and opens it with the member card. A post naming
a support message with a photo shows the photo (support_photos.post).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.telegram import support_photos
from bot.telegram.groups import kind_of
from bot.telegram.transport import TelegramFailure
from domain.community import group_settings
from domain.config import Programme
from domain.members import members
from domain.staff import roles
from domain.storage.database import Database
from domain.support import cards, pictures, staff_chat
from domain.support import conversations as support
from handlers.engine.types import Inbound
from handlers.notices.notices import render_notice

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

log = logging.getLogger(__name__)
PLATFORM = "telegram"
SETUP = "setsupport"
EVERY_S = 2.0
CHATS_TTL_S = 30.0  # a staff chat set through another worker is known within this


class SupportDesk:
    def __init__(self, db: Database, programme: Programme) -> None:
        self.db = db
        self.programme = programme
        self._chats: tuple[float, frozenset[str]] | None = None

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
            if kind_of(chat) == "supergroup" and not getattr(chat, "is_forum", False):
                await gateway.say(key, chat_id, "support.not_forum", user.language_code,
                                  group=True, thread_id=thread)
                return True
            if not await self._may(str(user.id), "support_chat"):
                # Refused before the engine, which would make a member of a stranger.
                await gateway.say(key, chat_id, "support.chat_denied", user.language_code,
                                  group=True, thread_id=thread)
                return True
            await gateway.inbound(self._inbound(message, key, message.text or ""),
                                  thread_id=thread)
            self._chats = None
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
        await gateway.inbound(self._inbound(message, key, text), thread_id=thread)
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
        assert gateway.sender is not None
        locale = await self._locale(chat_id)
        thread = None
        if member_id is not None:
            thread = await self._topic(gateway, chat_id, member_id, locale)
            if thread is None:
                return "later"  # another worker is making the topic
        message = render_notice(key, params, locale, self.programme)
        if pictures.PARAM in params:
            async with self.db.snapshot() as snap:
                picture = await pictures.find(snap, int(params[pictures.PARAM]))
            return await support_photos.post(gateway, self.programme, chat_id, thread,
                                             message, picture, locale)
        result = await gateway.sender.send(chat_id, message, group=True, thread_id=thread)
        return "sent" if result.status == "sent" else "retry"

    async def _topic(self, gateway: Gateway, chat_id: str, member_id: int,
                     locale: str) -> int | None:
        """The member's topic, made (once) with the member card as its first message."""
        assert gateway.sender is not None
        now = datetime.now(UTC)
        async with self.db.uow() as uow:
            found = await staff_chat.topic(uow, PLATFORM, chat_id, member_id)
            if found is not None:
                return int(found)
            if not await staff_chat.claim_topic(uow, PLATFORM, chat_id, member_id, now):
                return None
            name = await cards.topic_name(uow, member_id)
            card = await cards.member_card(uow, member_id, now)
            await uow.commit()
        title = render_notice("support.topic_name", name, locale, self.programme).text
        thread = await gateway.transport.create_topic(chat_id, title)
        async with self.db.uow() as uow:
            await staff_chat.keep_topic(uow, PLATFORM, chat_id, member_id, thread, now)
            await uow.commit()
        await gateway.sender.send(chat_id, render_notice("support.card", card, locale,
                                                         self.programme),
                                  group=True, thread_id=int(thread))
        return int(thread)

    async def _locale(self, chat_id: str) -> str:
        async with self.db.snapshot() as snap:
            chosen = (await group_settings.read(snap, PLATFORM, chat_id)).language
        return chosen or self.programme.default_locale
