"""Answers as WeChat text: buttons become numbered lines, long text is split.

WeChat has no inline buttons, so options are listed "1. 积分" and the member replies
with the number; the engine maps it back to the button. A text message holds at most
2048 bytes, so everything said is joined and cut into pieces at line breaks: the first
piece can be the passive reply, the rest go out as customer-service messages.
"""

from __future__ import annotations

import time

from handlers import i18n
from handlers.engine import Answer
from handlers.types import Rendered, Text

MAX_BYTES = 2048


def as_text(message: Rendered, locale: str) -> str:
    lines = [message.text] if message.text else []
    labels = [label for row in message.buttons for label, _ in row]
    if labels:
        lines.append("")
        lines.extend(f"{i}. {label}" for i, label in enumerate(labels, 1))
        lines.append(i18n.translate(Text("wechat.choose"), locale))
    if message.image is not None or message.file is not None:
        lines.append(i18n.translate(Text("wechat.attachment_elsewhere"), locale))
    return "\n".join(lines)


def pieces(answer: Answer, limit: int = MAX_BYTES) -> list[str]:
    """Everything the answer says, in as few messages of at most `limit` bytes as fit."""
    text = "\n\n".join(t for t in (as_text(m, answer.locale) for m in answer.rendered()) if t)
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


def passive(account: str, openid: str, content: str, now: float | None = None) -> str:
    """A passive text reply; CDATA sections are split so no text can close them."""
    return (f"<xml><ToUserName>{_cdata(openid)}</ToUserName>"
            f"<FromUserName>{_cdata(account)}</FromUserName>"
            f"<CreateTime>{int(now if now is not None else time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(content)}</Content></xml>")


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _size(text: str) -> int:
    return len(text.encode())
