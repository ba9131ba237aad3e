"""What aiogram and python-telegram-bot share once an update is mapped to an Inbound:
the inbox pipeline, answering buttons, sending replies, blocks and unblocks; and, for
groups, what goes to the members' engine (/gate) and what to moderation (the rest),
every update through the inbox once all the same.

Keys are "<bot id>:<update id>": update ids are per bot, so a new token on the same
database never collides with an old one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.ordering import ChatQueue
from bot.pipeline import Pipeline
from bot.telegram import support_photos
from bot.telegram.groups import (
    GROUP_KINDS,
    AdminCache,
    Outbox,
    TelegramGroupChat,
    as_the_group,
    button_event,
    kind_of,
    message_events,
    toast_text,
)
from bot.telegram.payments import payment_of, with_invoice
from bot.telegram.sender import Sender
from bot.telegram.support import SupportDesk
from bot.telegram.transport import (
    Rejected,
    TelegramFailure,
    Transport,
    admin_rights,
    asks_contact,
    closes_keyboard,
)
from domain.community import group_settings
from domain.members import members
from domain.storage.database import Database
from handlers.community import joining
from handlers.community.gates import GROUP_COMMANDS
from handlers.community.moderation.dispatch import Moderation
from handlers.community.moderation.events import (
    BUTTON,
    JOINED,
    MESSAGE,
    GroupEvent,
    GroupOutcome,
)
from handlers.engine import i18n
from handlers.engine.engine import Answer
from handlers.engine.render import render
from handlers.engine.rooms import ROOM_KINDS
from handlers.engine.types import Inbound, Rendered, Reply
from handlers.membership import premium

log = logging.getLogger(__name__)
PLATFORM = "telegram"
CHATTER_MARKS_S = 0.1  # chatter handled within this is marked so in one commit


def start_link(username: str | None) -> str | None:
    """The deep link that opens a chat with the bot and sends `/start {payload}`."""
    return f"https://t.me/{username}?start={{payload}}" if username else None
EXPIRED = "error.button_expired"
FOREIGN_CONTACT = "telegram.contact_not_yours"
ANONYMOUS_GATE = "community.gate_anonymous"
KEYBOARD_CLOSED = "telegram.keyboard_closed"
STAFF_CHANGED = frozenset({"roles.granted", "roles.revoked"})  # a "/" menu to redo


class Gateway:
    """`moderation` answers what happens in groups (None: only /gate is answered there);
    its replies leave through `outbox`, at the pace Telegram allows a group."""

    def __init__(self, db: Database, pipeline: Pipeline, transport: Transport,
                 sender: Sender | None,
                 bot_id: int, default_locale: str,
                 moderation: Moderation | None = None) -> None:
        self.db = db
        self.pipeline = pipeline
        self.transport = transport
        self.sender = sender
        self.bot_id = bot_id
        self.default_locale = default_locale
        self.moderation = moderation
        self.support = SupportDesk(db, pipeline.engine.programme)  # the staff chat's topics
        self.admins = AdminCache(transport)
        self.outbox = Outbox()
        # Called when an answer granted or revoked a role (the staff "/" menus follow).
        self.staff_changed: Callable[[], None] | None = None
        # Private chats whose last answer showed the "share my number" keyboard.
        self._asked_contact: set[str] = set()
        self._marks: list[str] = []  # chatter handled, not yet marked so in the inbox
        self._marking: asyncio.Task[None] | None = None
        if moderation is not None and moderation.chats is None:
            moderation.chats = self.chat  # a report's buttons in the log chat act on the group

    def chat(self, chat_id: str) -> TelegramGroupChat:
        """The group as moderation acts on it (also the captcha expiry's way in)."""
        assert self.sender is not None
        return TelegramGroupChat(chat_id, self.transport, self.sender, self.admins)

    async def _handle_group(self, event: GroupEvent, chat: TelegramGroupChat) -> GroupOutcome:
        """Moderation's answer to `event`; what it left to do soon (a captcha to post)
        joins the group's outbox now that the event's changes are committed."""
        assert self.moderation is not None
        outcome = await self.moderation.handle(event, chat)
        for job in chat.later():
            self.outbox.put(chat.chat_id, job)
        return outcome

    def key(self, update_id: int) -> str:
        return f"{self.bot_id}:{update_id}"

    # Both libraries name Telegram's fields alike (from_user, chat.id, contact.user_id,
    # language_code, full_name, is_topic_message), so one mapping serves aiogram and PTB
    # objects.

    async def private_message(self, message: Any, update_id: int) -> None:
        user, contact = message.from_user, message.contact
        if contact is not None and contact.user_id != user.id:
            await self._foreign_contact(message, update_id)
            return
        paid = payment_of(message)  # a payment made: the conversation records it
        await self.inbound(Inbound(
            platform=PLATFORM, user_id=str(user.id), chat_id=str(message.chat.id),
            text=message.text or message.caption or "", message_id=str(message.message_id),
            locale=user.language_code, display_name=user.full_name,
            phone=contact.phone_number if contact and contact.user_id == user.id else None,
            shares_contact=True, buttons=True, key=self.key(update_id),
            picture=support_photos.picture_of(message), invoices=True,
            action=premium.PAID if paid is not None else None, payment=paid),
            thread_id=topic(message))

    async def _foreign_contact(self, message: Any, update_id: int) -> None:
        """Someone else's contact (or one without a Telegram account) proves nothing
        about the sender's number: ask for their own, in their language. A phone step
        under way stays where it was, its keyboard too."""
        user = message.from_user
        async with self.db.uow() as uow:
            member = await members.by_identity(uow, PLATFORM, str(user.id))
            chosen = member.locale if member is not None else None
        await self.say(self.key(update_id), str(message.chat.id), FOREIGN_CONTACT,
                       i18n.negotiate(chosen, user.language_code))

    async def group_message(self, message: Any, update_id: int, username: str) -> None:
        """Anything in a group. A command that acts on the group itself (/gate) goes to
        the engine, which answers in the group; a member's command (/points) is pointed
        to the private chat, unless moderation has one of that name (/rules); the rest,
        chatter, arrivals and departures included, is moderation's."""
        key, user = self.key(update_id), message.from_user
        name = command(message.text or message.caption or "", username)
        if await self.support.group_message(self, message, update_id, name):
            return
        if name in GROUP_COMMANDS and as_the_group(message):
            # An anonymous admin: staff roles belong to people, and Telegram hides which.
            await self.say(key, str(message.chat.id), ANONYMOUS_GATE,
                           await self._group_locale(str(message.chat.id)), group=True,
                           thread_id=topic(message))
            return
        if name is not None and user is not None and not user.is_bot:
            if name in GROUP_COMMANDS:
                chat = message.chat
                await self.inbound(Inbound(
                    platform=PLATFORM, user_id=str(user.id), chat_id=str(chat.id),
                    text=message.text or "", message_id=str(message.message_id),
                    locale=user.language_code, display_name=user.full_name, key=key,
                    chat_kind=kind_of(chat), chat_title=chat.title), thread_id=topic(message))
                return
            moderated = self.moderation is not None and name in self.moderation.commands()
            if not moderated and name in self.pipeline.engine.router.commands:
                # Said in the group, so in the group's language (the programme's if none).
                await self.say(key, str(message.chat.id), "telegram.private_only",
                               await self._group_locale(str(message.chat.id)), group=True,
                               thread_id=topic(message))
                return
        events = message_events(message, key, self.bot_id)
        if self.moderation is None or not events:
            await self.ignore(key)
        elif events[0].kind == MESSAGE and name is None:
            await self._chatter(events[0], key, topic(message))
        else:
            await self._moderate(events, key, topic(message))

    async def group_button(self, query: Any, update_id: int) -> None:
        """A button under a message in a group (or a moderation button in a log chat):
        moderation acts on it, once, and the press is answered then, with its toast
        (a refusal, "already done") for the presser alone; always answered, once."""
        key = self.key(update_id)
        if self.moderation is None or not query.data:
            await self._answer_callback(query.id, None)
            await self.pipeline.finish(key)
            return
        answered = False

        async def answer(text: str | None) -> None:
            nonlocal answered
            if not answered:
                answered = True
                await self._answer_callback(query.id, text)

        try:
            await self._moderate([button_event(query, key)], key, topic(query.message),
                                 answer)
        finally:  # a redelivery, or a failure: the spinner stops all the same
            await answer(None)

    def _moderates(self, action: str | None) -> bool:
        """A moderation button outside a group: a report's, in a private log chat."""
        if self.moderation is None or not action:
            return False
        prefix = action.split(":", 1)[0]
        return (prefix in self.moderation.router.buttons
                and self.pipeline.engine.router.find_action(action) is None)

    async def _chatter(self, event: GroupEvent, key: str, thread_id: int | None) -> None:
        """Plain chatter: no lease and no transaction unless moderation acts (a flood);
        a failure is logged, not retried, as nobody waits for an answer to chatter."""
        assert self.moderation is not None
        try:
            outcome = await self._handle_group(event, self.chat(event.chat_id))
        except Exception:
            log.exception("moderating a group message failed", extra={"chat": event.chat_id})
            outcome = GroupOutcome()
        if said_nothing(outcome):
            self._finish_later(key)
        else:
            await self.pipeline.once(key, lambda: self._send(event, outcome, thread_id))

    def _finish_later(self, key: str) -> None:
        """Mark chatter handled without waiting for the mark's commit: the group's next
        message goes on meanwhile, and the marks of CHATTER_MARKS_S share one commit.
        Until it commits, a restart would only see the message again, which changes
        nothing."""
        self._marks.append(key)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark())

    async def _mark(self) -> None:
        while self._marks:
            await asyncio.sleep(CHATTER_MARKS_S)
            keys, self._marks = self._marks, []
            results = await asyncio.gather(*(self.pipeline.finish(k) for k in keys),
                                           return_exceptions=True)
            failed = next((r for r in results if isinstance(r, Exception)), None)
            if failed is not None:
                log.warning("marking group messages handled failed; recovery will see them",
                            exc_info=failed)

    async def close(self) -> None:
        """At shutdown: the outbox's last replies, and the marks still to commit."""
        await self.outbox.close()
        if self._marking is not None:
            await self._marking

    async def _moderate(self, events: list[GroupEvent], key: str,
                        thread_id: int | None,
                        answer: Callable[[str | None], Awaitable[None]] | None = None,
                        ) -> None:
        """Commands, buttons, arrivals and departures, under the delivery's lease: a
        redelivery meanwhile does nothing, and one cut short is handled again later."""
        assert self.moderation is not None
        chat = self.chat(events[0].chat_id)

        async def act() -> None:
            counted = events
            if events[0].kind == JOINED:
                count = await self._member_count(chat.chat_id)
                counted = [replace(event, members=count) for event in events]
            for event in counted:
                outcome = await self._handle_group(event, chat)
                if answer is not None:
                    await answer(toast_text(outcome))
                await self._send(event, outcome, thread_id)

        await self.pipeline.once(key, act)

    async def _send(self, event: GroupEvent, outcome: GroupOutcome,
                    thread_id: int | None) -> None:
        """The outcome's replies (in the group's language, in the event's topic), its
        words for other chats, and the command's deletion, through the outbox: in order,
        at Telegram's pace, without holding up the group's next updates."""
        if outcome.delete_command and event.message_id is not None:
            self.outbox.put(event.chat_id, self._delete(event.chat_id, event.message_id))
        # A reply to a button may take the place of the message the button is under.
        under = event.message_id if event.kind == BUTTON else None
        for reply in outcome.replies:
            message = render(reply, outcome.locale)
            self.outbox.put(event.chat_id, self._say(
                event.chat_id, message, thread_id, under if message.edit else None))
        for chat_id, reply, locale in outcome.elsewhere:
            self.outbox.put(chat_id, self._say(chat_id, render(reply, locale), None))

    async def _say(self, chat_id: str, message: Rendered, thread_id: int | None,
                   edit_message_id: str | None = None) -> None:
        assert self.sender is not None
        await self.sender.send(chat_id, message, group=chat_id.startswith("-"),
                               interactive=True, thread_id=thread_id,
                               edit_message_id=edit_message_id)

    async def _delete(self, chat_id: str, message_id: str) -> None:
        try:
            await self.transport.delete_message(chat_id, message_id)
        except TelegramFailure as exc:  # gone already, or the bot may not delete
            log.info("command not deleted", extra={"chat": chat_id,
                                                   "detail": exc.description})

    async def _member_count(self, chat_id: str) -> int | None:
        try:
            return await self.transport.member_count(chat_id)
        except TelegramFailure:
            return None

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

    async def pre_checkout(self, query: Any, update_id: int) -> None:
        """Telegram asks, within 10 seconds, whether a payment may go ahead: yes only for
        a plan that still exists at the price invoiced, for the member it was made for,
        who may buy it; else the reason, in the payer's language. Once per update."""
        engine, user = self.pipeline.engine, query.from_user

        async def act() -> None:
            refused = await premium.pre_checkout(
                self.db, engine.programme, PLATFORM, str(user.id), query.invoice_payload,
                int(query.total_amount), query.currency, user.language_code)
            try:
                await self.transport.answer_pre_checkout(str(query.id), refused)
            except TelegramFailure as exc:  # too late: Telegram gave up on us already
                log.warning("pre-checkout not answered", extra={"detail": exc.description})

        await self.pipeline.once(self.key(update_id), act)

    async def chat_member(self, change: Any, update_id: int) -> None:
        """Someone's status in a group or channel changed: the gate's seats follow it.
        Our own removals report a departure too, perhaps before the Remover records
        them; removals.removed counts a seat that left as removed all the same."""
        member = change.new_chat_member
        status = str(getattr(member.status, "value", member.status))
        if status == "restricted" and not member.is_member:
            status = "left"
        kind = kind_of(change.chat)
        self.promoted(change)
        if kind in ROOM_KINDS and member.user.id != self.bot_id:
            await joining.seen(self.db, self.pipeline.engine.programme, PLATFORM,
                               str(change.chat.id), str(member.user.id), status,
                               datetime.now(UTC))
        await self.pipeline.finish(self.key(update_id))

    async def bot_membership(self, change: Any, update_id: int) -> None:
        """The bot's own status in a group changed (made an admin, or not any more)."""
        self.promoted(change)
        await self.pipeline.finish(self.key(update_id))

    def promoted(self, change: Any) -> None:
        """A promotion, a demotion or other rights reach the chat's cached admins at once."""
        old, new = change.old_chat_member, change.new_chat_member
        was, now = (str(getattr(m.status, "value", m.status)) in joining.ADMINS
                    for m in (old, new))
        if was or now:
            self.admins.changed(str(change.chat.id), str(new.user.id),
                                admin_rights(new) if now else None)

    async def button(self, query: Any, update_id: int) -> None:
        message = query.message
        if message is not None and (kind_of(message.chat) in (*GROUP_KINDS, "channel")
                                    or self._moderates(query.data)):
            await self.group_button(query, update_id)
            return
        if message is None or message.chat.type != "private" or not query.data:
            await self.ignore(self.key(update_id), callback_id=query.id)
            return
        user = query.from_user
        await self.inbound(Inbound(
            platform=PLATFORM, user_id=str(user.id), chat_id=str(message.chat.id),
            action=query.data, message_id=str(message.message_id), locale=user.language_code,
            display_name=user.full_name, shares_contact=True, buttons=True,
            key=self.key(update_id), invoices=True),
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
        # Only a pressed button names a message of the bot's, which a reply marked
        # `edit` may replace. Typed text (a button's number, say) names the member's own
        # message, which no bot may edit: the answer comes as a new message below it,
        # where the member is looking (the card above may be out of sight).
        under = inbound.message_id if callback_id is not None else None

        async def deliver(answer: Answer) -> None:
            assert self.sender is not None
            messages = answer.rendered()
            if callback_id is not None:
                # Always stop the spinner; an expired button says so in the toast alone.
                toast = messages[0].text if len(messages) == 1 and messages[0].key == EXPIRED \
                    else None
                await self._answer_callback(callback_id, toast)
                if toast is not None:
                    return
            close = self._closes_keyboard(inbound, messages)
            if close and not any(closes_keyboard(m, under if m.edit else None)
                                 for m in messages):
                # Every message has buttons of its own: a short one takes the keyboard.
                await self.sender.send(inbound.chat_id, render(Reply(KEYBOARD_CLOSED),
                                                               answer.locale),
                                       interactive=True, thread_id=thread_id,
                                       close_keyboard=True)
                close = False
            for message in messages:
                message = await with_invoice(self.transport, message, answer.locale)
                edit = under if message.edit else None
                closing = close and closes_keyboard(message, edit)
                await self.sender.send(inbound.chat_id, message, interactive=True,
                                       group=inbound.chat_kind != "private",
                                       edit_message_id=edit, thread_id=thread_id,
                                       close_keyboard=closing)
                close = close and not closing
            if self.staff_changed is not None and any(m.key in STAFF_CHANGED
                                                      for m in messages):
                self.staff_changed()

        return await self.pipeline.handle(inbound, deliver)

    def _closes_keyboard(self, inbound: Inbound, messages: list[Rendered]) -> bool:
        """Whether this answer must take the "share my number" keyboard away: the
        chat's last answer showed it (or the member just used it), and this one does
        not show it again. Kept in memory: after a restart a shared contact still
        tells, and a typed number leaves the keyboard up."""
        if inbound.chat_kind != "private":
            return False
        chat = inbound.chat_id
        if any(asks_contact(m) for m in messages):
            self._asked_contact.add(chat)
            return False
        shown = chat in self._asked_contact or inbound.phone is not None
        self._asked_contact.discard(chat)
        return shown

    async def _group_locale(self, chat_id: str) -> str | None:
        """The group's own language (/grouplang), if it chose one."""
        async with self.db.snapshot() as snap:  # a read: no write lock taken
            return (await group_settings.read(snap, PLATFORM, chat_id)).language

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


def command(text: str, username: str) -> str | None:
    """The command `text` gives this bot (lower case), if any: "/warn" or
    "/warn@ourbot", not "/warn@otherbot"."""
    if not text.startswith("/"):
        return None
    name, _, addressee = text.split(maxsplit=1)[0][1:].partition("@")
    if not name or (addressee and addressee.lower() != username):
        return None
    return name.lower()


def said_nothing(outcome: GroupOutcome) -> bool:
    return not (outcome.replies or outcome.elsewhere or outcome.delete_command)


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
