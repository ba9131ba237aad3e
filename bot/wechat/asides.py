"""What WeChat adds to the engine's answer for two messages only WeChat sends.

A text of nothing but spaces (U+3000 included): WeChat delivers it, Telegram's apps
do not send one. The engine reads it as an empty text, so a flow that waits gets it
as it gets any empty answer and asks again; with nothing waiting, the engine's "I can
only read text messages" (meant for pictures and voice) would be wrong for a text, so
it is said instead that the message was empty.

A menu CLICK whose key is no command: a menu pushed from an older programme file
(or by another tool) still shows on members' phones until WeChat refreshes it. The
click opens the home card, as the greeting does, after a line saying the item is out
of date, so the member is not left with silence.

Applied whenever the answer is turned into WeChat messages, so a WeChat retry that
carries a recorded answer says the same.
"""

from __future__ import annotations

from typing import Literal

from handlers.engine.i18n import translate
from handlers.engine.types import Rendered, Text

Aside = Literal["blank", "stale_menu"]
BLANK: Aside = "blank"
STALE_MENU: Aside = "stale_menu"
TEXT_ONLY = "error.text_only"  # the engine's answer to a message without text


def apply(aside: Aside | None, messages: list[Rendered], locale: str) -> list[Rendered]:
    """The answer's messages with the aside said."""
    if aside == BLANK:
        return [_said("wechat.blank_text", locale) if m.key == TEXT_ONLY else m
                for m in messages]
    if aside == STALE_MENU:
        return [_said("wechat.menu_outdated", locale), *messages]
    return messages


def _said(key: str, locale: str) -> Rendered:
    return Rendered(text=translate(Text(key), locale), key=key)
