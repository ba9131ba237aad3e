"""A member's forum topic in the staff chat on Telegram, kept across their
conversations.

Made at the first post about them (named with member number, tier and platforms,
opened with the member card); closed when a conversation closes (closeForumTopic);
reopened for their next conversation (reopenForumTopic) with a fresh member card,
and renamed (editForumTopic) when its name changed meanwhile, a new tier say. The
steps come from the staff chat's queue (staff_chat.OPEN_TOPIC, CLOSE_TOPIC) in
order with the posts. A topic staff deleted is forgotten when Telegram says so
(TopicGone) and made again, card first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.telegram.sender import SendResult
from bot.telegram.transport import Rejected
from domain.config import Programme
from domain.storage.database import Database
from domain.support import cards, staff_chat
from handlers.notices.notices import render_notice

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway

PLATFORM = "telegram"
# What Telegram says of a topic that was deleted: sending into it, or any topic call.
GONE = ("message thread not found", "topic_id_invalid", "topic_deleted")
UNCHANGED = "topic_not_modified"  # closing a closed topic, reopening an open one, ...


class TopicGone(Exception):
    """The member's topic was deleted in Telegram."""


def gone(description: str) -> bool:
    lowered = description.lower()
    return any(marker in lowered for marker in GONE)


def sent(result: SendResult) -> str:
    """A post's outcome for the relay; a topic found deleted raises TopicGone."""
    if result.status == "rejected" and gone(result.detail):
        raise TopicGone(result.detail)
    return "sent" if result.status == "sent" else "retry"


class Topics:
    def __init__(self, db: Database, programme: Programme) -> None:
        self.db = db
        self.programme = programme

    async def thread(self, gateway: Gateway, chat_id: str, member_id: int,
                     locale: str) -> int | None:
        """The member's topic, made (once) with the member card as its first message;
        None while another worker makes it."""
        now = datetime.now(UTC)
        async with self.db.uow() as uow:
            found = await staff_chat.topic(uow, PLATFORM, chat_id, member_id)
            if found is not None:
                return int(found)
            if not await staff_chat.claim_topic(uow, PLATFORM, chat_id, member_id, now):
                return None
            await uow.commit()
        title = await self._title(member_id, locale)
        thread = await gateway.transport.create_topic(chat_id, title)
        async with self.db.uow() as uow:
            await staff_chat.keep_topic(uow, PLATFORM, chat_id, member_id, thread, title, now)
            await uow.commit()
        with contextlib.suppress(TopicGone):  # a topic deleted at once: the post says so
            await self._card(gateway, chat_id, int(thread), member_id, locale)
        return int(thread)

    async def remade(self, gateway: Gateway, chat_id: str, member_id: int, thread: int,
                     locale: str) -> int | None:
        """A new topic in place of `thread`, which staff deleted."""
        async with self.db.uow() as uow:
            await staff_chat.forget_topic(uow, PLATFORM, chat_id, str(thread))
            await uow.commit()
        return await self.thread(gateway, chat_id, member_id, locale)

    async def step(self, gateway: Gateway, chat_id: str, member_id: int, step: str,
                   locale: str) -> str:
        """OPEN_TOPIC or CLOSE_TOPIC: "sent"; "later" while the topic is being made, or
        "retry" to close one being made (a maker that died is not waited for forever).
        A topic not made yet needs neither: the first post makes it, card first."""
        async with self.db.snapshot() as snap:
            kept = await staff_chat.topic_of(snap, PLATFORM, chat_id, member_id)
        if kept is None:
            return "sent"
        if kept.topic_id is None:
            return "retry" if step == staff_chat.CLOSE_TOPIC else "sent"
        thread = int(kept.topic_id)
        if step == staff_chat.CLOSE_TOPIC:
            if not await self._try(gateway.transport.close_topic(chat_id, thread)):
                await self._forget(chat_id, thread)  # nothing left to close
            return "sent"
        if not await self._try(gateway.transport.reopen_topic(chat_id, thread)):
            made = await self.remade(gateway, chat_id, member_id, thread, locale)
            return "sent" if made is not None else "later"
        title = await self._title(member_id, locale)
        if title != kept.title:
            await self._try(gateway.transport.rename_topic(chat_id, thread, title))
            async with self.db.uow() as uow:
                await staff_chat.rename_topic(uow, PLATFORM, chat_id, str(thread), title)
                await uow.commit()
        try:  # a card that did not go makes the step go again: reopening is harmless
            return await self._card(gateway, chat_id, thread, member_id, locale)
        except TopicGone:  # deleted since the reopening
            made = await self.remade(gateway, chat_id, member_id, thread, locale)
            return "sent" if made is not None else "later"

    @staticmethod
    async def _try(call: Awaitable[None]) -> bool:
        """A topic call; False when the topic is gone. Already so is success; any
        other failure raises, so the relay tries the step again later."""
        try:
            await call
        except Rejected as exc:
            if gone(exc.description):
                return False
            if UNCHANGED not in exc.description.lower():
                raise
        return True

    async def _forget(self, chat_id: str, thread: int) -> None:
        async with self.db.uow() as uow:
            await staff_chat.forget_topic(uow, PLATFORM, chat_id, str(thread))
            await uow.commit()

    async def _title(self, member_id: int, locale: str) -> str:
        async with self.db.snapshot() as snap:
            name = await cards.topic_name(snap, member_id)
        return render_notice("support.topic_name", name, locale, self.programme).text[:128]

    async def _card(self, gateway: Gateway, chat_id: str, thread: int, member_id: int,
                    locale: str) -> str:
        """The member card, first in a topic made or reopened for a conversation."""
        assert gateway.sender is not None
        async with self.db.snapshot() as snap:
            card = await cards.member_card(snap, member_id, datetime.now(UTC))
        shown = render_notice("support.card", card, locale, self.programme)
        return sent(await gateway.sender.send(chat_id, shown, group=True, thread_id=thread))
