"""Answers as WeChat messages: buttons become numbered lines, long text is split,
uploaded images are image messages.

WeChat has no inline buttons, so options are listed "1. 积分" and the member replies
with the number; the engine maps it back to the button. A text message holds at most
2048 bytes, so what is said between two images is joined and cut into pieces at line
breaks: the first message can be the passive reply, the rest go out as
customer-service messages. Images must be uploaded first (bot/wechat/pictures.py);
where they are not, a note says what was left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from handlers.engine import i18n
from handlers.engine.types import Rendered, Text

MAX_BYTES = 2048


@dataclass(frozen=True)
class Image:
    """An image message: what WeChat's media upload returned for it."""

    media_id: str


Message = str | Image  # one WeChat message: a text or an uploaded image


def as_text(message: Rendered, locale: str, *, body: str | None = None,
            note: Text | None = None, image_shown: bool = False) -> str:
    """The message's words (or `body` instead), its buttons as numbered lines, and
    `note`; without a note, an image not shown or a file is said to be left out."""
    text = message.text if body is None else body
    lines = [text] if text else []
    labels = [(label, action) for row in message.buttons for label, action in row]
    if labels:
        lines.append("")
        # Buttons typed as their label (scores 0-10) on one line; the rest by number.
        values = [label for label, action in labels if action in message.values]
        if values:
            lines.append("  ".join(values))
        lines.extend(f"{i}. {label}" for i, (label, action) in enumerate(labels, 1)
                     if action not in message.values)
        lines.append(i18n.translate(Text("wechat.choose"), locale))
    if note is None and ((message.image is not None and not image_shown)
                         or message.file is not None):
        note = Text("wechat.attachment_elsewhere")
    if note is not None:
        lines.append(i18n.translate(note, locale))
    return "\n".join(lines)


def join(parts: list[Message], limit: int = MAX_BYTES) -> list[Message]:
    """Texts between images joined and split within `limit`; images kept in place."""
    out: list[Message] = []
    run: list[str] = []
    for part in [*parts, None]:
        if isinstance(part, str):
            if part:
                run.append(part)
            continue
        if run:
            out.extend(split("\n\n".join(run), limit))
            run = []
        if part is not None:
            out.append(part)
    return out


def pieces(messages: list[Rendered], locale: str, limit: int = MAX_BYTES) -> list[str]:
    """Everything an answer says, in as few messages of at most `limit` bytes as fit."""
    text = "\n\n".join(t for t in (as_text(m, locale) for m in messages) if t)
    return split(text, limit)


def split(text: str, limit: int = MAX_BYTES) -> list[str]:
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if _size(candidate) <= limit:
            current = candidate
            continue
        if current:
            out.append(current)
        while _size(line) > limit:  # a single overlong line: cut at a character boundary
            cut = line.encode()[:limit].decode("utf-8", "ignore")
            out.append(cut)
            line = line[len(cut):]
        current = line
    if current.strip():
        out.append(current)
    return out


def passive(account: str, openid: str, content: Message, now: float | None = None) -> str:
    """A passive text or image reply; CDATA sections are split so no text can close
    them."""
    if isinstance(content, Image):
        body = (f"<MsgType><![CDATA[image]]></MsgType>"
                f"<Image><MediaId>{_cdata(content.media_id)}</MediaId></Image>")
    else:
        body = f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(content)}</Content>"
    return (f"<xml><ToUserName>{_cdata(openid)}</ToUserName>"
            f"<FromUserName>{_cdata(account)}</FromUserName>"
            f"<CreateTime>{int(now if now is not None else time.time())}</CreateTime>"
            f"{body}</xml>")


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _size(text: str) -> int:
    return len(text.encode())
