"""Photos of the support inbox on Telegram.

In: a photo a member (or staff, in a member's topic) sends becomes an
`Inbound.picture`: the file_id of its largest size, with that size's byte count so
the domain can refuse one too big before anything is written.

Out, into the staff chat: a member's photo is posted in their topic with the words
under it. A Telegram photo is sent again by its file_id (Telegram copies it; no bytes
pass through us). A WeChat photo is fetched from its PicUrl, at most
pictures.MAX_BYTES, streamed by aiohttp (no blocking read on the event loop), and
uploaded. A photo that cannot be fetched leaves the words with a note, so staff
always see the message.

Out, to a member: `download` gives the bytes of a photo Telegram holds (a staff
photo, for a member on another platform; bot/notice_pictures.py), by getFile and
then the file itself, streamed and capped like any fetch.
"""

from __future__ import annotations

import html
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.notice_pictures import fetch
from bot.telegram.support_topics import TopicGone, gone, sent
from bot.telegram.transport import CAPTION_LIMIT, Part, Rejected, Transport, utf16_len
from domain.support import pictures
from handlers.engine.types import PictureRef, Rendered
from handlers.notices.notices import render_notice

if TYPE_CHECKING:
    from bot.telegram.gateway import Gateway
    from domain.config import Programme

log = logging.getLogger(__name__)
PLATFORM = "telegram"


def picture_of(message: Any) -> PictureRef | None:
    """The photo of a Telegram message (aiogram's or PTB's), by its largest size."""
    sizes = getattr(message, "photo", None) or ()
    if not sizes:
        return None
    largest = max(sizes, key=lambda s: (s.width * s.height, s.file_size or 0))
    return PictureRef(PLATFORM, largest.file_id, largest.file_size)


async def post(gateway: Gateway, programme: Programme, chat_id: str, thread: int | None,
               message: Rendered, picture: pictures.Picture | None, locale: str) -> str:
    """Post `message` with its photo in the staff chat; "sent" or "retry" (TopicGone
    when the topic was deleted)."""
    assert gateway.sender is not None
    if picture is not None and picture.platform == PLATFORM:
        return await _by_file_id(gateway, chat_id, thread, message, picture.ref)
    content = await fetch(picture.url) if picture is not None and picture.url else None
    if content is None:
        note = render_notice("support.staff.photo_unavailable", {}, locale, programme).text
        message = replace(message, text=f"{message.text}\n{note}")
    else:
        message = replace(message, image=content)
    return sent(await gateway.sender.send(chat_id, message, group=True, thread_id=thread))


async def _by_file_id(gateway: Gateway, chat_id: str, thread: int | None, message: Rendered,
                      file_id: str) -> str:
    """sendPhoto naming the file Telegram holds; words too long for a caption follow."""
    assert gateway.sender is not None
    fits = utf16_len(message.text) <= CAPTION_LIMIT
    caption = html.escape(message.text, quote=False) if fits else ""
    try:
        await gateway.transport.send_part(chat_id, Part("photo", caption, remote=file_id,
                                                        thread_id=thread))
    except Rejected as exc:
        if gone(exc.description):
            raise TopicGone(exc.description) from exc
        raise
    if fits:
        return "sent"
    return sent(await gateway.sender.send(chat_id, message, group=True, thread_id=thread))


async def download(transport: Transport, file_id: str,
                   most: int = pictures.MAX_BYTES) -> bytes | None:
    """The photo Telegram holds as `file_id`, or None when it is over `most` bytes or
    cannot be downloaded. getFile's failures raise (TelegramFailure)."""
    link, size = await transport.file_link(file_id)
    if size is not None and size > most:
        log.warning("telegram photo too big to fetch", extra={"size": size})
        return None
    return await fetch(link, most)
