"""Moderation's Telegram half: group updates as GroupEvents, a GroupChat over the
transport (with the admins of each chat cached), and the outbox that takes a group's
replies out at the pace Telegram allows there.

aiogram and python-telegram-bot name Telegram's fields alike (from_user, chat.id,
new_chat_members, reply_to_message, media_group_id, entities), so one mapping serves
both libraries' objects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.telegram.sender import Sender
from bot.telegram.transport import TelegramFailure, Transport, chat_ref
from domain.config import Programme
from domain.storage.database import Database
from handlers.community.moderation.dispatch import Moderation
from handlers.community.moderation.events import (
    BUTTON,
    DELETE,
    JOINED,
    LEFT,
    MESSAGE,
    RESTRICT,
    RIGHTS,
    SETTINGS,
    ChatActionError,
    GroupEvent,
    GroupOutcome,
    Person,
)
from handlers.community.moderation.routers import build_group_router
from handlers.engine.render import render
from handlers.engine.types import Reply

log = logging.getLogger(__name__)
PLATFORM = "telegram"
GROUP_KINDS = ("group", "supergroup")
ADMINS_TTL_S = 600.0  # promotions we saw are applied at once; the rest show within this
# What someone may say in a group besides text; anything else (a pin, a new title, a
# topic opened) is the chat's own notice, not a message anybody wrote.
CONTENT = ("photo", "video", "animation", "audio", "document", "sticker", "voice",
           "video_note", "contact", "location", "venue", "poll", "dice", "game", "story",
           "paid_media")
# Telegram's words for a refusal (lower case), and ChatActionError's reason for them.
REFUSALS = (("not enough rights", "rights"), ("chat_admin_required", "rights"),
            ("need administrator rights", "rights"), ("message can't be deleted", "rights"),
            ("user is an administrator", "admin"), ("can't remove chat owner", "admin"),
            ("user_admin_invalid", "admin"), ("user not found", "gone"),
            ("participant_id_invalid", "gone"), ("message to delete not found", "gone"))
OUTBOX_BACKLOG = 50  # replies one group may have waiting; more are dropped (20 a minute)
TOAST_LIMIT = 200  # characters answerCallbackQuery shows


def build_moderation(db: Database, programme: Programme, username: str | None) -> Moderation:
    """Every group router (warns, mutes, antiflood, newcomers ...) behind one runner."""
    return Moderation(db, programme, build_group_router(), username)


def refusal(failure: TelegramFailure) -> ChatActionError:
    """Telegram's refusal in the words the moderation handlers act on."""
    said = failure.description.lower()
    reason = next((reason for words, reason in REFUSALS if words in said), "failed")
    return ChatActionError(reason, failure.description)


def kind_of(chat: Any) -> str:
    return str(getattr(chat.type, "value", chat.type))


def person(user: Any) -> Person:
    return Person(str(user.id), user.full_name, user.username, bool(user.is_bot),
                  user.language_code)


def as_the_group(message: Any) -> bool:
    """Sent "as the group": by one of its anonymous admins, whom Telegram shows as the
    group itself (sender_chat, from GroupAnonymousBot). Only an admin can do that; a
    linked channel's posts carry the channel as sender_chat, not the group."""
    sender_chat = getattr(message, "sender_chat", None)
    return sender_chat is not None and sender_chat.id == message.chat.id


def the_group(chat: Any) -> Person:
    """An anonymous admin, as moderation sees them: the group itself, which
    TelegramGroupChat.admins counts among its admins."""
    return Person(str(chat.id), chat.title or "", getattr(chat, "username", None))


def author(message: Any) -> Person | None:
    """Who wrote `message`, if anybody moderation should hear: a person, or the group
    speaking through an anonymous admin; None for other bots and nobody."""
    if as_the_group(message):
        return the_group(message.chat)
    user = message.from_user
    return None if user is None or user.is_bot else person(user)


def said(message: Any) -> bool:
    """Whether someone wrote this (text, a caption, media), as opposed to a notice."""
    return bool(message.text or message.caption) or any(
        getattr(message, name, None) for name in CONTENT)


def message_events(message: Any, key: str, bot_id: int) -> list[GroupEvent]:
    """What a group message means for moderation: one JOINED per newcomer, LEFT for
    whoever went, MESSAGE for anything someone wrote (none for the chat's notices, for
    other bots' messages, or for the bot's own arrival and departure)."""
    chat = message.chat
    common = {"platform": PLATFORM, "chat_id": str(chat.id), "chat_title": chat.title or ""}
    if message.new_chat_members:
        return [GroupEvent(**common, kind=JOINED, person=person(user),
                           message_id=str(message.message_id), key=f"{key}:{user.id}")
                for user in message.new_chat_members if user.id != bot_id]
    if message.left_chat_member is not None:
        user = message.left_chat_member
        if user.id == bot_id:
            return []
        return [GroupEvent(**common, kind=LEFT, person=person(user),
                           message_id=str(message.message_id), key=key)]
    writer = author(message)
    if writer is None or not said(message):
        return []
    answered = replied(message)
    return [GroupEvent(
        **common, kind=MESSAGE, person=writer,
        text=message.text or message.caption or "", message_id=str(message.message_id),
        reply_to=answerer(answered) if answered is not None else None,
        reply_to_message_id=str(answered.message_id) if answered else None,
        mentioned=mentions(message), album=message.media_group_id, key=key)]


def answerer(answered: Any) -> Person | None:
    """Who wrote a message that another answers, bots included (a command may be
    aimed at one), or the group for an anonymous admin's."""
    if as_the_group(answered):
        return the_group(answered.chat)
    user = answered.from_user
    return person(user) if user is not None else None


def replied(message: Any) -> Any:
    """The message this one answers; in a forum topic every message "answers" the
    topic's opening notice, which is no answer to anybody."""
    answered = message.reply_to_message
    if answered is None or getattr(answered, "forum_topic_created", None):
        return None
    return answered


def mentions(message: Any) -> tuple[Person, ...]:
    """People named by a text mention (those without a username), in order."""
    entities = message.entities or message.caption_entities or ()
    return tuple(person(entity.user) for entity in entities
                 if str(getattr(entity.type, "value", entity.type)) == "text_mention"
                 and entity.user is not None)


def button_event(query: Any, key: str) -> GroupEvent:
    chat = query.message.chat
    return GroupEvent(PLATFORM, str(chat.id), getattr(chat, "title", None) or "", BUTTON,
                      person(query.from_user), message_id=str(query.message.message_id),
                      action=query.data, key=key)


def toast_text(outcome: GroupOutcome) -> str | None:
    """The outcome's word for whoever pressed the button alone, as answerCallbackQuery
    takes it (plain text, cut to Telegram's 200 characters); None: just stop the
    spinner. The gateway answers a moderation button with it once moderation has
    acted, instead of at once, and says nothing in the chat for it."""
    if outcome.toast is None:
        return None
    text = render(outcome.toast, outcome.locale or "en").text.strip()
    return text if len(text) <= TOAST_LIMIT else text[:TOAST_LIMIT - 1] + "…"


# Our names (handlers' events.RIGHTS) for the Telegram rights that grant them.
RIGHT_NAMES = {"can_restrict_members": RESTRICT, "can_delete_messages": DELETE,
               "can_change_info": SETTINGS}
Admins = dict[str, frozenset[str]]  # user id -> rights, in our names


class AdminCache:
    """The admins of each chat and their rights, asked of Telegram
    (getChatAdministrators) at most every ADMINS_TTL_S; a promotion or demotion the
    bot sees updates it at once. If Telegram cannot be asked, the last list known
    serves a while longer."""

    def __init__(self, transport: Transport, ttl: float = ADMINS_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = transport
        self.ttl = ttl
        self.clock = clock
        self._known: dict[str, tuple[float, Admins]] = {}
        self._asking: dict[str, asyncio.Future[Admins]] = {}

    async def get(self, chat_id: str) -> frozenset[str]:
        return frozenset(await self.admins(chat_id))

    async def rights(self, chat_id: str, user_id: str) -> frozenset[str]:
        return (await self.admins(chat_id)).get(user_id, frozenset())

    async def admins(self, chat_id: str) -> Admins:
        hit = self._known.get(chat_id)
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return hit[1]
        return await self._refreshed(chat_id)

    async def refresh(self, chat_id: str) -> frozenset[str]:
        """Ask Telegram now; callers asking meanwhile share the answer."""
        return frozenset(await self._refreshed(chat_id))

    async def _refreshed(self, chat_id: str) -> Admins:
        asking = self._asking.get(chat_id)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(chat_id))
            self._asking[chat_id] = asking
            asking.add_done_callback(lambda _: self._asking.pop(chat_id, None))
        return await asyncio.shield(asking)

    async def _ask(self, chat_id: str) -> Admins:
        try:
            found = await self.transport.chat_administrators(chat_id)
        except TelegramFailure as exc:
            hit = self._known.get(chat_id)
            if hit is None:
                raise refusal(exc) from exc
            log.warning("chat admins not refreshed; the last list serves",
                        extra={"chat": chat_id, "detail": exc.description})
            return hit[1]
        admins = {user: ours(rights) for user, rights in found.items()}
        self._known[chat_id] = (self.clock(), admins)
        return admins

    def changed(self, chat_id: str, user_id: str, rights: frozenset[str] | None) -> None:
        """Someone was promoted, demoted or given other rights (`rights` in Telegram's
        words; None: no longer an admin): a cached list follows at once."""
        hit = self._known.get(chat_id)
        if hit is not None:
            admins = dict(hit[1])
            if rights is None:
                admins.pop(user_id, None)
            else:
                admins[user_id] = ours(rights)
            self._known[chat_id] = (hit[0], admins)


def ours(rights: frozenset[str]) -> frozenset[str]:
    return frozenset(RIGHT_NAMES[r] for r in rights if r in RIGHT_NAMES)


class Outbox:
    """Replies for groups, sent in order per chat without holding up the handling of
    that chat's next updates: the Sender keeps a group within 20 messages a minute, and
    a group that says more than that would otherwise stall its own updates (and,
    through the poller's back-pressure, everyone's)."""

    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._waiting: dict[str, int] = {}
        self._running: set[asyncio.Task[None]] = set()

    def put(self, chat_id: str, job: Coroutine[Any, Any, None]) -> None:
        waiting = self._waiting.get(chat_id, 0)
        if waiting >= OUTBOX_BACKLOG:
            job.close()
            log.warning("group reply dropped: too many waiting", extra={"chat": chat_id})
            return
        self._waiting[chat_id] = waiting + 1
        task = asyncio.create_task(self._run(chat_id, self._tails.get(chat_id), job))
        self._tails[chat_id] = task
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, chat_id: str, before: asyncio.Task[None] | None,
                   job: Coroutine[Any, Any, None]) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])
            await job
        except Exception:
            log.exception("sending a group reply failed", extra={"chat": chat_id})
        finally:
            job.close()  # cancelled before its turn came: it never ran, and never will
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]
            if self._tails.get(chat_id) is asyncio.current_task():
                del self._tails[chat_id]

    async def close(self, within: float = 5.0) -> None:
        """Let what is waiting go out for `within` seconds, then drop the rest."""
        tasks = set(self._running)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=within)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


class TelegramGroupChat:
    """GroupChat (handlers/community/moderation/events.py) for one Telegram group."""

    platform = PLATFORM

    def __init__(self, chat_id: str, transport: Transport, sender: Sender,
                 admins: AdminCache) -> None:
        self.chat_id = chat_id
        self.transport = transport
        self.sender = sender
        self._admins = admins
        self._later: list[Coroutine[Any, Any, None]] = []

    async def admins(self) -> frozenset[str]:
        """Telegram's list, and the group itself: a message sent as the group comes
        from one of its anonymous admins (see `the_group`). /admincache counts only
        Telegram's list (`refresh_admins`)."""
        return await self._admins.get(self.chat_id) | {self.chat_id}

    def soon(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` once the event at hand is handled and its changes committed,
        after the group's earlier replies, without holding up the group's next updates
        (the gateway hands `later()` to its Outbox): a captcha waits there for the
        group's 20 messages a minute while the next newcomers are muted at once."""
        self._later.append(job)

    def later(self) -> list[Coroutine[Any, Any, None]]:
        """The jobs `soon` was given, now for the gateway to run."""
        jobs, self._later = self._later, []
        return jobs

    async def refresh_admins(self) -> frozenset[str]:
        return await self._admins.refresh(self.chat_id)

    async def admin_people(self) -> list[Person]:
        """The chat's admins as Telegram names them (usernames included), bots left
        out, so a report can mention them: asked afresh, as reports are rare."""
        try:
            found = await self.transport.bot.get_chat_administrators(chat_ref(self.chat_id))
        except Exception as exc:  # noqa: BLE001 - either library's failure: name nobody
            raise ChatActionError("failed", str(exc)) from exc
        return [person(member.user) for member in found if not member.user.is_bot]

    async def rights(self, user_id: str) -> frozenset[str]:
        """An anonymous admin (the group itself) is shown no rights by Telegram: only an
        admin can speak as the group, so they count as holding them all."""
        if user_id == self.chat_id:
            return frozenset(RIGHTS)
        return await self._admins.rights(self.chat_id, user_id)

    async def member_count(self) -> int:
        """getChatMemberCount: {count} in a welcome the event gave no count for."""
        try:
            return await self.transport.member_count(self.chat_id)
        except TelegramFailure as exc:
            raise refusal(exc) from exc

    async def mute(self, user_id: str, until: datetime | None) -> None:
        await self._act(self.transport.restrict_member(self.chat_id, user_id, until))

    async def unmute(self, user_id: str) -> None:
        await self._act(self.transport.lift_restriction(self.chat_id, user_id))

    async def ban(self, user_id: str, until: datetime | None) -> None:
        await self._act(self.transport.ban_member(self.chat_id, user_id, until))

    async def unban(self, user_id: str) -> None:
        await self._act(self.transport.unban_member(self.chat_id, user_id))

    async def kick(self, user_id: str) -> None:
        await self._act(self.transport.remove_member(self.chat_id, user_id))

    async def delete(self, message_id: str) -> None:
        await self._act(self.transport.delete_message(self.chat_id, message_id))

    async def post(self, reply: Reply, locale: str) -> str:
        result = await self.sender.send(self.chat_id, render(reply, locale),
                                        group=self.chat_id.startswith("-"), interactive=True)
        if result.status != "sent" or result.message_id is None:
            raise ChatActionError("failed", result.detail)
        return result.message_id

    @staticmethod
    async def _act(call: Coroutine[Any, Any, None]) -> None:
        try:
            await call
        except TelegramFailure as exc:
            raise refusal(exc) from exc
