"""Rendered replies to Telegram messages, sent through aiogram 3 or python-telegram-bot 22.

`plan` turns one `Rendered` into the Bot API calls it needs (`Part`s): text as escaped
HTML split to Telegram's limits, buttons as an inline keyboard, or a one-time contact
keyboard. A transport performs one part at a time, so a caller that retries (the Sender)
never repeats a part that already went out. Both transports raise the same four
exceptions, whatever the library's own are.

A transport also administers the chats that gates guard (bot/telegram/community.py):
it reads a chat, its members and its own rights, makes join-request links, answers
join requests and takes people out; and, for moderation (bot/telegram/groups.py), it
restricts, bans, unbans, deletes messages and lists a chat's administrators.
"""

from __future__ import annotations

import datetime as dt
import html
import inspect
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from handlers.engine.types import Rendered, ShownInvoice

if TYPE_CHECKING:  # each library is imported only by the transport that uses it
    import aiogram
    import telegram

T = TypeVar("T")

TEXT_LIMIT = 4096  # characters of a message, in UTF-16 units after entity parsing
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
CONTACT_ACTION = "contact:request"
# An administrator's rights as getChatMember names them; an owner holds them all.
ADMIN_RIGHTS = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories",
                "can_delete_stories", "can_post_messages", "can_edit_messages",
                "can_pin_messages", "can_manage_topics")
LINK_NAME_LIMIT = 32  # characters of an invite link's name
INVOICE_TITLE_LIMIT, INVOICE_DESCRIPTION_LIMIT = 32, 255  # characters
ERROR_MESSAGE_LIMIT = 255  # characters of a pre-checkout refusal, as shown to the payer
# What a member may do in a group (ChatPermissions), every flag both libraries know: a
# mute turns them all off, lifting it turns them all on.
PERMISSIONS = ("can_send_messages", "can_send_audios", "can_send_documents",
               "can_send_photos", "can_send_videos", "can_send_video_notes",
               "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
               "can_add_web_page_previews", "can_react_to_messages", "can_edit_tag",
               "can_change_info", "can_invite_users", "can_pin_messages",
               "can_manage_topics")


class TelegramFailure(Exception):
    """A call Telegram did not perform; `description` is what it (or the network) said."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class FloodWait(TelegramFailure):
    """429: nothing may be sent for `retry_after` seconds."""

    def __init__(self, retry_after: float, description: str = "") -> None:
        super().__init__(description or f"flood control: retry after {retry_after} s")
        self.retry_after = retry_after


class Unreachable(TelegramFailure):
    """403: the member blocked the bot, left, or was deactivated. Retrying cannot help."""


class Rejected(TelegramFailure):
    """400 and other client errors: this request is wrong and would fail again."""


class TransientFailure(TelegramFailure):
    """Network errors, timeouts, 5xx: the same request may well succeed later."""


@dataclass(frozen=True)
class Inline:
    rows: tuple[tuple[tuple[str, str], ...], ...]  # rows of (label, callback data)


@dataclass(frozen=True)
class AskContact:
    label: str


@dataclass(frozen=True)
class CloseKeyboard:
    """ReplyKeyboardRemove: the "share my number" keyboard goes away once its step is
    over. Telegram takes one reply_markup per message, so it rides only on a message
    without buttons of its own; and a message sent with it can never be edited."""


Keyboard = Inline | AskContact | CloseKeyboard


@dataclass(frozen=True)
class Part:
    """One Bot API call. `text` is HTML (the caption for media); `message_id` is the
    message an edit replaces; `thread_id` the forum topic a new message goes to, since
    without it a reply to a topic lands in the chat's General topic."""

    kind: Literal["text", "photo", "document", "edit"]
    text: str = ""
    keyboard: Keyboard | None = None
    upload: tuple[str, bytes] | None = None
    message_id: str | None = None
    thread_id: int | None = None
    remote: str | None = None  # a photo Telegram already has: its file_id, sent as is


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def plan(message: Rendered, *, edit_message_id: str | None = None,
         thread_id: int | None = None, close_keyboard: bool = False) -> list[Part]:
    """The calls that show `message` (in topic `thread_id`, if any); buttons go on the
    last one. `close_keyboard`: the first part that can (see `closes_keyboard`) also
    takes a reply keyboard away. ValueError when it is empty or a button's action
    cannot be callback data."""
    parts = _plan(message, edit_message_id)
    if close_keyboard:
        free = next((n for n, part in enumerate(parts) if _can_close(part)), None)
        if free is not None:
            parts[free] = replace(parts[free], keyboard=CloseKeyboard())
    return parts if thread_id is None else [replace(p, thread_id=thread_id) for p in parts]


def closes_keyboard(message: Rendered, edit_message_id: str | None = None) -> bool:
    """Whether sending `message` can also take a reply keyboard away: one of its parts
    is a new message without buttons (an edit takes only inline buttons)."""
    return any(_can_close(part) for part in _plan(message, edit_message_id))


def asks_contact(message: Rendered) -> bool:
    """Whether `message` shows the "share my number" keyboard."""
    return any(action == CONTACT_ACTION for row in message.buttons for _, action in row)


def _can_close(part: Part) -> bool:
    return part.kind != "edit" and part.keyboard is None


def _plan(message: Rendered, edit_message_id: str | None) -> list[Part]:
    keyboard = _keyboard(message.buttons)
    text = message.text
    media: list[Part] = []
    if message.image_ref is not None:  # a photo Telegram holds: named, not uploaded
        media.append(Part("photo", remote=message.image_ref))
    if message.image is not None:
        media.append(Part("photo", upload=("photo.jpg", message.image)))
    if message.file is not None:
        media.append(Part("document", upload=message.file))
    if (message.edit and edit_message_id and not media and not isinstance(keyboard, AskContact)
            and text.strip() and utf16_len(text) <= TEXT_LIMIT):
        return [Part("edit", _html(text, message.mentions), keyboard,
                     message_id=edit_message_id)]
    if media and utf16_len(text) <= CAPTION_LIMIT:
        last = media[-1]
        caption = _html(text, message.mentions) if text.strip() else ""
        return [*media[:-1], replace(last, text=caption, keyboard=keyboard)]
    chunks = split_text(text, TEXT_LIMIT)
    if not chunks and not media:
        raise ValueError("a reply needs text, an image or a file")
    # Mentions where the text is one message; split, the names stay plain.
    spans = message.mentions if chunks == [text] else ()
    parts = media + [Part("text", _html(chunk, spans)) for chunk in chunks]
    return [*parts[:-1], replace(parts[-1], keyboard=keyboard)]


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at line breaks where possible."""
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for piece in _cut_line(line, limit):
            extra = utf16_len(piece) + (1 if current else 0)
            if current and size + extra > limit:
                chunks.append("\n".join(current))
                current, extra = [], utf16_len(piece)
                size = 0
            current.append(piece)
            size += extra
    chunks.append("\n".join(current))
    return [c for c in chunks if c.strip()]


def _cut_line(line: str, limit: int) -> list[str]:
    """A line longer than `limit` cut at spaces, or anywhere when a word is that long."""
    pieces = []
    while utf16_len(line) > limit:
        fit, units = 0, 0
        while units + utf16_len(line[fit]) <= limit:
            units += utf16_len(line[fit])
            fit += 1
        space = line.rfind(" ", 0, fit)
        cut = space if space > fit // 2 else fit
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ") if cut == space else line[cut:]
    pieces.append(line)
    return pieces


def _html(text: str, mentions: tuple[tuple[int, int, str], ...] = ()) -> str:
    """`text` escaped for parse_mode HTML, each mention a link that notifies its user
    (tg://user?id=…, Telegram's mention of someone without an @username)."""
    out, at = [], 0
    for start, end, user_id in sorted(mentions):
        if start < at or end > len(text) or not (user_id.isascii() and user_id.isdigit()):
            continue
        out.append(html.escape(text[at:start], quote=False))
        out.append(f'<a href="tg://user?id={user_id}">'
                   f'{html.escape(text[start:end], quote=False)}</a>')
        at = end
    out.append(html.escape(text[at:], quote=False))
    return "".join(out)


def is_link(action: str) -> bool:
    """A button whose action is a web address opens it (an invoice's link to pay)."""
    return action.startswith(("https://", "http://"))


def _keyboard(rows: tuple[tuple[tuple[str, str], ...], ...]) -> Inline | AskContact | None:
    for row in rows:
        for label, action in row:
            if action == CONTACT_ACTION:
                return AskContact(label)
            if is_link(action):
                continue
            if not 1 <= len(action.encode()) <= CALLBACK_DATA_LIMIT:
                raise ValueError(f"button action must be 1-{CALLBACK_DATA_LIMIT} bytes of "
                                 f"callback data: {action!r}")
    kept = tuple(tuple(row) for row in rows if row)
    return Inline(kept) if kept else None


def chat_ref(chat_id: str) -> int | str:
    """Telegram ids are integers; "@channel" names stay strings."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _edit_refused(description: str) -> bool:
    lowered = description.lower()
    return "message to edit not found" in lowered or "message can't be edited" in lowered


def admin_rights(member: Any) -> frozenset[str]:
    """A ChatMember's administrator rights (either library's): all of them for the
    owner, none for anyone who is not an admin."""
    status = _word(member.status)
    if status == "creator":
        return frozenset(ADMIN_RIGHTS)
    if status != "administrator":
        return frozenset()
    return frozenset(right for right in ADMIN_RIGHTS if getattr(member, right, None))


class Transport(ABC):
    """Sends parts through one library; subclasses only make calls and name failures.

    `bot` is the library's Bot. aiogram and python-telegram-bot name the chat
    administration methods and their parameters as the Bot API does, so those calls
    are made here once for both."""

    bot: Any

    async def deliver(self, chat_id: str, message: Rendered, *,
                      edit_message_id: str | None = None, paid: bool = False,
                      thread_id: int | None = None) -> str | None:
        """Send (or edit into place) every part of `message`; the last message id."""
        last = None
        for part in plan(message, edit_message_id=edit_message_id, thread_id=thread_id):
            last = await self.send_part(chat_id, part, paid=paid)
        return last

    async def send_part(self, chat_id: str, part: Part, *, paid: bool = False) -> str:
        """Perform one part; "not modified" is success and an edit of a message that is
        gone or too old becomes a new message."""
        chat = chat_ref(chat_id)
        if part.kind == "edit":
            try:
                await self._call(self._edit(chat, part))
                return str(part.message_id)
            except Rejected as exc:
                if "message is not modified" in exc.description.lower():
                    return str(part.message_id)
                if not _edit_refused(exc.description):
                    raise
            part = replace(part, kind="text", message_id=None)
        return str(await self._call(self._send(chat, part, paid)))

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        """Stop the button's spinner, optionally with a short notice."""
        await self._call(self._answer(callback_id, text))

    # ------------------------------------------------------------------ chat administration

    async def get_chat(self, chat_id: str) -> tuple[str, str, str]:
        """The chat's numeric id (a public channel may be asked for by @username), its
        kind (private, group, supergroup, channel) and its title."""
        chat = await self._call(self.bot.get_chat(chat_ref(chat_id)))
        names = (chat.first_name, chat.last_name)
        return str(chat.id), _word(chat.type), chat.title or " ".join(n for n in names if n)

    async def member_status(self, chat_id: str, user_id: str) -> str:
        """Someone's status there in Telegram's words; a restricted user who is not in
        the chat any more is "left", as they are gone."""
        member = await self._call(self.bot.get_chat_member(chat_ref(chat_id), int(user_id)))
        status = _word(member.status)
        if status == "restricted" and not member.is_member:
            return "left"
        return status

    async def bot_rights(self, chat_id: str) -> set[str]:
        """The administrator rights the bot holds in the chat; none unless an admin."""
        member = await self._call(self.bot.get_chat_member(chat_ref(chat_id), self.bot_id))
        return set(admin_rights(member))

    async def create_join_link(self, chat_id: str, name: str) -> str:
        """A new invite link whose joiners must be approved (by us, on chat_join_request)."""
        link = await self._call(self.bot.create_chat_invite_link(
            chat_ref(chat_id), name=name[:LINK_NAME_LIMIT] or None, creates_join_request=True))
        return link.invite_link

    async def revoke_join_link(self, chat_id: str, link: str) -> None:
        await self._call(self.bot.revoke_chat_invite_link(chat_ref(chat_id), link))

    async def approve_join(self, chat_id: str, user_id: str) -> None:
        await self._call(self.bot.approve_chat_join_request(chat_ref(chat_id), int(user_id)))

    async def decline_join(self, chat_id: str, user_id: str) -> None:
        await self._call(self.bot.decline_chat_join_request(chat_ref(chat_id), int(user_id)))

    async def remove_member(self, chat_id: str, user_id: str) -> None:
        """Take them out without a lasting ban: banned, then unbanned at once, so they
        may join again once they qualify. Repeating it is harmless (a ban of someone
        already out, an unban of someone not banned), so a half-done removal is simply
        done again."""
        chat, user = chat_ref(chat_id), int(user_id)
        await self._call(self.bot.ban_chat_member(chat, user))
        await self._call(self.bot.unban_chat_member(chat, user, only_if_banned=True))

    # ------------------------------------------------------------------ moderation

    async def restrict_member(self, chat_id: str, user_id: str,
                              until: dt.datetime | None) -> None:
        """Nothing may be sent (nor reacted) until `until`; None: until lifted. Telegram
        itself takes under 30 s or over 366 days from now as for ever."""
        await self._call(self.bot.restrict_chat_member(
            chat_ref(chat_id), int(user_id), self._permissions(False),
            until_date=_epoch(until)))

    async def lift_restriction(self, chat_id: str, user_id: str) -> None:
        """Every permission granted: Telegram's way to lift a restriction, after which
        the chat's own defaults apply to them again."""
        await self._call(self.bot.restrict_chat_member(
            chat_ref(chat_id), int(user_id), self._permissions(True)))

    async def ban_member(self, chat_id: str, user_id: str, until: dt.datetime | None) -> None:
        """Out, and kept out until `until` (None: until unbanned)."""
        await self._call(self.bot.ban_chat_member(chat_ref(chat_id), int(user_id),
                                                  until_date=_epoch(until)))

    async def unban_member(self, chat_id: str, user_id: str) -> None:
        """May join again; someone who is in the chat is left there."""
        await self._call(self.bot.unban_chat_member(chat_ref(chat_id), int(user_id),
                                                    only_if_banned=True))

    async def delete_message(self, chat_id: str, message_id: str) -> None:
        await self._call(self.bot.delete_message(chat_ref(chat_id), int(message_id)))

    async def chat_administrators(self, chat_id: str) -> dict[str, frozenset[str]]:
        """The chat's owner and admins, bots among them: the rights each holds, in
        getChatMember's words (an owner holds them all)."""
        admins = await self._call(self.bot.get_chat_administrators(chat_ref(chat_id)))
        return {str(member.user.id): admin_rights(member) for member in admins}

    async def create_topic(self, chat_id: str, name: str) -> str:
        """A new topic in a forum supergroup: its message_thread_id."""
        topic = await self._call(self.bot.create_forum_topic(chat_ref(chat_id), name[:128]))
        return str(topic.message_thread_id)

    async def close_topic(self, chat_id: str, thread_id: int) -> None:
        await self._call(self.bot.close_forum_topic(chat_ref(chat_id), thread_id))

    async def reopen_topic(self, chat_id: str, thread_id: int) -> None:
        await self._call(self.bot.reopen_forum_topic(chat_ref(chat_id), thread_id))

    async def rename_topic(self, chat_id: str, thread_id: int, name: str) -> None:
        await self._call(self.bot.edit_forum_topic(chat_ref(chat_id), thread_id,
                                                   name=name[:128]))

    async def react(self, chat_id: str, message_id: str, emoji: str) -> None:
        """Put `emoji` on a message (setMessageReaction): one of the reactions Telegram
        lets bots use, and the chat allows."""
        await self._call(self._react(chat_ref(chat_id), int(message_id), emoji))

    async def file_link(self, file_id: str) -> tuple[str, int | None]:
        """Where the file Telegram holds as `file_id` is downloaded (a link with the
        token in it: never log it), and its size if Telegram says (getFile)."""
        found = await self._call(self.bot.get_file(file_id))
        if not found.file_path:
            raise Rejected("getFile gave no file_path")
        return self._file_url(found.file_path), found.file_size

    async def member_count(self, chat_id: str) -> int:
        return await self._call(self.bot.get_chat_member_count(chat_ref(chat_id)))

    # ------------------------------------------------------------------ payments in stars

    async def invoice_link(self, invoice: ShownInvoice) -> str:
        """A link to pay `invoice` (createInvoiceLink): one price, in stars, renewed every
        `period_s` seconds when it is a subscription."""
        title = invoice.title[:INVOICE_TITLE_LIMIT]
        return await self._call(self.bot.create_invoice_link(
            title=title, description=invoice.description[:INVOICE_DESCRIPTION_LIMIT],
            payload=invoice.payload, currency=invoice.currency,
            prices=[self._price(title, invoice.price)],
            subscription_period=invoice.period_s or None))

    async def answer_pre_checkout(self, query_id: str, error: str | None) -> None:
        """Let the payment go ahead (no `error`), or stop it with `error` shown."""
        await self._call(self.bot.answer_pre_checkout_query(
            pre_checkout_query_id=query_id, ok=error is None,
            error_message=error[:ERROR_MESSAGE_LIMIT] if error else None))

    async def refund_stars(self, user_id: str, charge_id: str) -> None:
        await self._call(self.bot.refund_star_payment(
            user_id=int(user_id), telegram_payment_charge_id=charge_id))

    async def star_renewal(self, user_id: str, charge_id: str, canceled: bool) -> None:
        """Cancel (or allow again) the renewal of a subscription in stars, named by its
        first payment's charge id (editUserStarSubscription)."""
        await self._call(self.bot.edit_user_star_subscription(
            user_id=int(user_id), telegram_payment_charge_id=charge_id, is_canceled=canceled))

    @property
    def bot_id(self) -> int:
        """The bot's own user id, the first part of its token (no getMe needed)."""
        return int(str(self.bot.token).split(":", 1)[0])

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except Exception as exc:
            failure = self._failure(exc)
            if failure is None:
                raise
            raise failure from exc

    @abstractmethod
    async def _send(self, chat: int | str, part: Part, paid: bool) -> int: ...

    @abstractmethod
    async def _edit(self, chat: int | str, part: Part) -> None: ...

    @abstractmethod
    def _file_url(self, file_path: str) -> str:
        """The download link of a getFile answer's file_path."""

    @abstractmethod
    async def _answer(self, callback_id: str, text: str | None) -> None: ...

    @abstractmethod
    async def _react(self, chat: int | str, message_id: int, emoji: str) -> None: ...

    @abstractmethod
    def _permissions(self, allowed: bool) -> Any:
        """The library's ChatPermissions with every flag `allowed`."""

    @abstractmethod
    def _price(self, label: str, amount: int) -> Any:
        """The library's LabeledPrice."""

    @abstractmethod
    def _failure(self, exc: Exception) -> TelegramFailure | None:
        """Our exception for a library one; None for anything else."""


class AiogramTransport(Transport):
    def __init__(self, bot: aiogram.Bot) -> None:
        from aiogram import exceptions, types

        self.bot = bot
        self._types = types
        self._errors = exceptions

    def _markup(self, keyboard: Keyboard | None) -> Any:
        t = self._types
        if isinstance(keyboard, CloseKeyboard):
            return t.ReplyKeyboardRemove(remove_keyboard=True)
        if isinstance(keyboard, AskContact):
            return t.ReplyKeyboardMarkup(
                keyboard=[[t.KeyboardButton(text=keyboard.label, request_contact=True)]],
                one_time_keyboard=True, resize_keyboard=True)
        if isinstance(keyboard, Inline):
            return t.InlineKeyboardMarkup(inline_keyboard=[
                [t.InlineKeyboardButton(text=label, url=action) if is_link(action)
                 else t.InlineKeyboardButton(text=label, callback_data=action)
                 for label, action in row] for row in keyboard.rows])
        return None

    async def _send(self, chat: int | str, part: Part, paid: bool) -> int:
        common: dict[str, Any] = {"parse_mode": "HTML",
                                  "reply_markup": self._markup(part.keyboard),
                                  "message_thread_id": part.thread_id,
                                  "allow_paid_broadcast": True if paid else None}
        if part.kind == "text":
            msg = await self.bot.send_message(chat, part.text, **common)
        else:
            assert part.upload is not None or part.remote is not None
            upload = part.remote or self._types.BufferedInputFile(
                part.upload[1], filename=part.upload[0])  # type: ignore[index]
            send = self.bot.send_photo if part.kind == "photo" else self.bot.send_document
            msg = await send(chat, upload, caption=part.text or None, **common)
        return msg.message_id

    def _file_url(self, file_path: str) -> str:
        return self.bot.session.api.file_url(self.bot.token, file_path)

    async def _edit(self, chat: int | str, part: Part) -> None:
        await self.bot.edit_message_text(text=part.text, chat_id=chat,
                                         message_id=int(str(part.message_id)), parse_mode="HTML",
                                         reply_markup=self._markup(part.keyboard))

    async def _answer(self, callback_id: str, text: str | None) -> None:
        await self.bot.answer_callback_query(callback_id, text=text)

    async def _react(self, chat: int | str, message_id: int, emoji: str) -> None:
        await self.bot.set_message_reaction(
            chat, message_id, reaction=[self._types.ReactionTypeEmoji(emoji=emoji)])

    def _permissions(self, allowed: bool) -> Any:
        # aiogram's types take fields newer than the installed version as they are.
        return self._types.ChatPermissions(**dict.fromkeys(PERMISSIONS, allowed))

    def _price(self, label: str, amount: int) -> Any:
        return self._types.LabeledPrice(label=label, amount=amount)

    def _failure(self, exc: Exception) -> TelegramFailure | None:
        e = self._errors
        if isinstance(exc, e.TelegramRetryAfter):
            return FloodWait(float(exc.retry_after), exc.message)
        if isinstance(exc, e.TelegramForbiddenError):
            return Unreachable(exc.message)
        if isinstance(exc, e.TelegramEntityTooLarge):  # a TelegramNetworkError, but final
            return Rejected(exc.message)
        if isinstance(exc, e.TelegramNetworkError | e.TelegramServerError | e.ClientDecodeError):
            return TransientFailure(str(exc))
        if isinstance(exc, e.TelegramAPIError):
            return Rejected(exc.message)
        return None


class PtbTransport(Transport):
    def __init__(self, bot: telegram.Bot) -> None:
        import telegram
        from telegram import error

        # PTB 22 warns on every 429 until one opts in to RetryAfter.retry_after as a
        # timedelta (PTB 23's behaviour); _seconds reads either form.
        os.environ.setdefault("PTB_TIMEDELTA", "true")

        self.bot = bot
        self._tg = telegram
        self._errors = error

    def _markup(self, keyboard: Keyboard | None) -> Any:
        t = self._tg
        if isinstance(keyboard, CloseKeyboard):
            return t.ReplyKeyboardRemove()
        if isinstance(keyboard, AskContact):
            return t.ReplyKeyboardMarkup(
                [[t.KeyboardButton(keyboard.label, request_contact=True)]],
                one_time_keyboard=True, resize_keyboard=True)
        if isinstance(keyboard, Inline):
            return t.InlineKeyboardMarkup([
                [t.InlineKeyboardButton(label, url=action) if is_link(action)
                 else t.InlineKeyboardButton(label, callback_data=action)
                 for label, action in row] for row in keyboard.rows])
        return None

    async def _send(self, chat: int | str, part: Part, paid: bool) -> int:
        common: dict[str, Any] = {"parse_mode": "HTML",
                                  "reply_markup": self._markup(part.keyboard),
                                  "message_thread_id": part.thread_id,
                                  "allow_paid_broadcast": True if paid else None}
        if part.kind == "text":
            msg = await self.bot.send_message(chat, part.text, **common)
        else:
            assert part.upload is not None or part.remote is not None
            upload = part.remote or self._tg.InputFile(
                part.upload[1], filename=part.upload[0])  # type: ignore[index]
            send = self.bot.send_photo if part.kind == "photo" else self.bot.send_document
            msg = await send(chat, upload, caption=part.text or None, **common)
        return msg.message_id

    def _file_url(self, file_path: str) -> str:
        return file_path  # PTB's getFile gives the whole link already

    async def _edit(self, chat: int | str, part: Part) -> None:
        await self.bot.edit_message_text(part.text, chat_id=chat,
                                         message_id=int(str(part.message_id)), parse_mode="HTML",
                                         reply_markup=self._markup(part.keyboard))

    async def _answer(self, callback_id: str, text: str | None) -> None:
        await self.bot.answer_callback_query(callback_id, text=text)

    async def _react(self, chat: int | str, message_id: int, emoji: str) -> None:
        await self.bot.set_message_reaction(chat, message_id, reaction=emoji)

    def _permissions(self, allowed: bool) -> Any:
        # The lowest python-telegram-bot we allow predates some flags (can_react_to_messages,
        # can_edit_tag); those go to Telegram through api_kwargs, as PTB intends.
        kind = self._tg.ChatPermissions
        names = set(inspect.signature(kind.__init__).parameters)
        flags = dict.fromkeys(PERMISSIONS, allowed)
        newer = {flag: value for flag, value in flags.items() if flag not in names}
        return kind(**{flag: value for flag, value in flags.items() if flag in names},
                    api_kwargs=newer or None)

    def _price(self, label: str, amount: int) -> Any:
        return self._tg.LabeledPrice(label, amount)

    def _failure(self, exc: Exception) -> TelegramFailure | None:
        e = self._errors
        if isinstance(exc, e.RetryAfter):
            return FloodWait(_seconds(exc), exc.message)
        if isinstance(exc, e.Forbidden):
            return Unreachable(exc.message)
        if isinstance(exc, e.BadRequest):  # a NetworkError subclass, but final
            return Rejected(exc.message)
        if isinstance(exc, e.NetworkError):  # includes TimedOut and 5xx answers
            return TransientFailure(exc.message)
        if isinstance(exc, e.TelegramError):
            return Rejected(exc.message)
        return None


def _word(value: Any) -> str:
    """A status or chat type as Telegram spells it: both libraries give enum members,
    which neither compare nor hash like the plain strings."""
    return str(getattr(value, "value", value))


def _epoch(moment: dt.datetime | None) -> int | None:
    """A moment as Telegram's until_date (seconds since the epoch); None: for ever."""
    return None if moment is None else int(moment.timestamp())


def _seconds(exc: telegram.error.RetryAfter) -> float:
    """PTB 22 warns on reading retry_after as an int and may give a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
