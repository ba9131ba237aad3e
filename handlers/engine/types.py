"""The values that cross the line between adapters and conversations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PictureRef:
    """A photo the user sent, by the platform's reference, never its bytes: Telegram's
    file_id (of the largest size), or WeChat's MediaId (kept 3 days) and PicUrl.
    `size` in bytes when the platform says it."""

    platform: str
    ref: str
    size: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Payment:
    """A payment the platform reports as made: its charge id (the same payment
    reported twice has the same one), the invoice's payload, the amount in `currency`,
    and for a subscription the end of the period paid for and whether it is one's
    first payment or a renewal."""

    charge_id: str
    payload: str
    amount: int
    currency: str
    expires_at: datetime | None = None
    recurring: bool = False
    first: bool = True


@dataclass(frozen=True)
class Inbound:
    """One thing a user did: typed text, pressed a button, or both absent (a join)."""

    platform: str
    user_id: str
    chat_id: str
    text: str = ""
    action: str | None = None
    message_id: str | None = None
    locale: str | None = None  # the platform's language hint, e.g. Telegram's language_code
    display_name: str | None = None
    # The platform's delivery id (Telegram update, WeChat MsgId): the same key twice is
    # one delivery, handled once and answered with the recorded reply.
    key: str | None = None
    phone: str | None = None  # a phone number the platform vouches for (a shared contact)
    shares_contact: bool = False  # the platform can offer a "share my number" button
    # The platform shows buttons as buttons: a typed number is words, where it is asked
    # for words. Elsewhere (WeChat, the console) numbered lines are pressed by number.
    buttons: bool = False
    # The platform sends a reply's file as a document (Telegram; the console saves it).
    # Elsewhere (WeChat) a file has to be offered another way: a download link.
    documents: bool = True
    # Where it was said: "private", or a group chat's kind ("group", "supergroup") and
    # title, for the few commands that act on the group they are typed in (/gate).
    chat_kind: str = "private"
    chat_title: str | None = None
    picture: PictureRef | None = None  # a photo sent with (or as) the message
    # The platform takes payments in stars through an invoice (Telegram): a reply's
    # `invoice` becomes a link to pay. Elsewhere members are told where to pay.
    invoices: bool = False
    payment: Payment | None = None  # a payment the platform reports (the action says so)


@dataclass(frozen=True)
class Text:
    """A translation key and its parameters; rendered per locale by handlers.engine.render."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Local:
    """Wording that the programme file owns (tier and benefit names), per locale."""

    values: Mapping[str, str]


@dataclass(frozen=True)
class Money:
    """An amount in minor units (fen, cents) and its ISO 4217 currency."""

    minor: int
    currency: str


YES, NO = "yes", "no"  # a Button's kind: what typed "yes"/"是" or "no"/"否" presses
# A Button's kind "=7": typing 7 presses it wherever it stands (the scores 0-10 of an
# NPS question), so a platform without buttons shows such buttons by their labels.
VALUE = "="


@dataclass(frozen=True)
class Button:
    label: Text | Local
    action: str
    kind: str | None = None  # YES or NO for the two answers of a confirmation


@dataclass(frozen=True)
class Scene:
    """A platform-issued QR code that brings a newcomer in as `/start PAYLOAD` would
    (WeChat's scene codes). Platforms that issue them show the code as an image with
    `caption` instead of the reply's text; the others show the reply as it is, so the
    reply's own text must work without the image."""

    payload: str
    caption: Text


@dataclass(frozen=True)
class Invoice:
    """A payment to ask of the member, in stars, renewed every `period_s` seconds (0:
    paid once): a platform that takes invoices makes it a link and shows it as a button
    worded `label`. `payload` comes back with the payment."""

    title: Text | Local
    description: Text | Local
    payload: str
    price: int
    currency: str
    period_s: int
    label: Text


@dataclass(frozen=True)
class ShownInvoice:
    """An Invoice in the member's language."""

    title: str
    description: str
    payload: str
    price: int
    currency: str
    period_s: int
    label: str


@dataclass(frozen=True)
class Reply:
    """What to say. Adapters render it natively: keyboards, numbered lines, plain text."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()
    image: bytes | None = None
    file: tuple[str, bytes] | None = None  # (file name, content)
    edit: bool = False  # replace the message this reply answers, e.g. when paging
    scene: Scene | None = None
    qr: str | None = None  # what `image` encodes when it is a QR code: a terminal draws it
    invoice: Invoice | None = None  # a payment asked for (see Inbound.invoices)

    @property
    def actions(self) -> list[str]:
        return [b.action for row in self.buttons for b in row]


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()  # rows of (label, action)
    image: bytes | None = None
    file: tuple[str, bytes] | None = None
    edit: bool = False
    key: str = ""  # the translation key it came from, so adapters can treat errors apart
    scene: tuple[str, str] | None = None  # (payload, translated caption) of a Scene
    qr: str | None = None  # what `image` encodes when it is a QR code
    values: tuple[str, ...] = ()  # actions of buttons typed as their label (VALUE)
    # A photo the member's platform already holds (Telegram's file_id), sent by it as is.
    image_ref: str | None = None
    # People named in `text` who can be notified (Telegram's mention of someone with no
    # @username): (start, end, user id) as str indices of `text`; others show the name.
    mentions: tuple[tuple[int, int, str], ...] = ()
    invoice: ShownInvoice | None = None  # the adapter adds the button that pays it


# A mention in text on its way to the screen: OPEN user id SEP name CLOSE, private-use
# characters that no name keeps (`mentioned` takes them out); `render` turns each into
# the bare name and a span of Rendered.mentions.
MENTION_OPEN, MENTION_SEP, MENTION_CLOSE = "\ue000", "\ue001", "\ue002"
_MARKS = str.maketrans("", "", MENTION_OPEN + MENTION_SEP + MENTION_CLOSE)


def mentioned(user_id: str, name: str) -> str:
    """`name`, marked to notify user `user_id` where the platform can (digits only)."""
    shown = name.translate(_MARKS)
    if not (user_id.isascii() and user_id.isdigit()) or not shown:
        return shown
    return f"{MENTION_OPEN}{user_id}{MENTION_SEP}{shown}{MENTION_CLOSE}"


def unmark(text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    """`text` with each mention as its bare name, and where those names are."""
    if MENTION_OPEN not in text:
        return text, ()
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    size, rest = 0, text
    while (start := rest.find(MENTION_OPEN)) >= 0:
        sep = rest.find(MENTION_SEP, start)
        end = rest.find(MENTION_CLOSE, sep) if sep >= 0 else -1
        if end < 0:  # cut short (a text clipped to one message): the name, unlinked
            rest = rest[:start] + (rest[sep + 1:] if sep >= 0
                                   else rest[start + 1:].lstrip("0123456789"))
            break
        out.append(rest[:start])
        size += start
        name = rest[sep + 1:end]
        spans.append((size, size + len(name), rest[start + 1:sep]))
        out.append(name)
        size += len(name)
        rest = rest[end + 1:]
    out.append(rest)
    return "".join(out).translate(_MARKS), tuple(spans)


def value_button(label: Text, action: str, value: int) -> Button:
    """A button that typing `value` presses, whatever its place among the buttons."""
    return Button(label, action, f"{VALUE}{value}")


def reply(key: str, *rows: tuple[Button, ...] | list[Button], **params: Any) -> Reply:
    return Reply(key, params, tuple(tuple(r) for r in rows))


# A confirmation's buttons are found by their wording key, so every flow's Yes/No is
# answerable by typing without each flow saying so: `word.yes`, `purchase.no`,
# `campaign.confirm_yes`, `catalogue.save`, `catalogue.discard`.
KIND_ENDINGS = {"yes": YES, "save": YES, "no": NO, "discard": NO}


def button(key: str, action: str, **params: Any) -> Button:
    ending = key.rsplit(".", 1)[-1].rsplit("_", 1)[-1]
    return Button(Text(key, params), action, KIND_ENDINGS.get(ending))
