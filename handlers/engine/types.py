"""The values that cross the line between adapters and conversations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # Where it was said: "private", or a group chat's kind ("group", "supergroup") and
    # title, for the few commands that act on the group they are typed in (/gate).
    chat_kind: str = "private"
    chat_title: str | None = None
    picture: PictureRef | None = None  # a photo sent with (or as) the message


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
