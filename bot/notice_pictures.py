"""The photo a notice names, made ready for the platform that shows it.

A staff member's answer with a photo is a notice whose parameters name the support
message (domain.support.pictures.PARAM) that keeps the photo by its platform's
reference. Before the notice goes to one of the member's accounts, the photo becomes
what that platform sends: Telegram sends a photo Telegram holds by its file_id
(Rendered.image_ref; no bytes pass through us); the others get the bytes, fetched
by the pusher of the platform holding the photo when it can (Telegram: getFile, then
the file), else from the link the platform gave (WeChat's PicUrl). Downloads are
streamed by aiohttp and cut short past pictures.MAX_BYTES, so neither a big file nor
a slow one holds the event loop. A photo that cannot be had leaves the words with a
translated line saying so: the words never promise a photo that does not come.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Protocol

import aiohttp

from domain.config import Programme
from domain.support import pictures
from handlers.engine.types import Rendered
from handlers.notices.notices import render_notice

log = logging.getLogger(__name__)
# Platforms whose pusher sends a photo their platform holds by its id, as is.
BY_REFERENCE = frozenset({"telegram"})
UNAVAILABLE = "support.reply_photo_unavailable"
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=20)
CHUNK = 64 * 1024


class Fetches(Protocol):
    """A pusher that can also download the photos its own platform holds."""

    async def fetch_picture(self, ref: str, most: int) -> bytes | None: ...


@dataclass(frozen=True)
class Photo:
    """The photo a notice names, and the language its member reads."""

    picture: pictures.Picture
    locale: str


async def attach(message: Rendered, photo: Photo, platform: str, source: object,
                 programme: Programme) -> Rendered:
    """`message` with its photo for a member on `platform`; `source` is the pusher of
    the platform holding the photo (it may fetch it, see Fetches)."""
    picture = photo.picture
    if picture.platform == platform and platform in BY_REFERENCE:
        return replace(message, image_ref=picture.ref)
    content = await _fetch(picture, source)
    if content is None:
        return unavailable(message, photo.locale, programme)
    return replace(message, image=content)


def unavailable(message: Rendered, locale: str, programme: Programme) -> Rendered:
    """The words alone, with the line saying their photo could not be shown."""
    line = render_notice(UNAVAILABLE, {}, locale, programme).text
    return replace(message, text=f"{message.text}\n{line}", image=None, image_ref=None)


async def _fetch(picture: pictures.Picture, source: object) -> bytes | None:
    if picture.size is not None and picture.size > pictures.MAX_BYTES:
        return None
    own = getattr(source, "fetch_picture", None)
    try:
        if own is not None:
            return await own(picture.ref, pictures.MAX_BYTES)
        if picture.url:
            return await fetch(picture.url)
    except Exception as exc:  # noqa: BLE001 - the words go without the photo
        log.warning("notice photo not fetched", extra={"platform": picture.platform,
                                                       "detail": type(exc).__name__})
    return None


async def fetch(url: str, most: int = pictures.MAX_BYTES) -> bytes | None:
    """The file at `url`, or None when it cannot be had within `most` bytes; read in
    chunks, so a big or endless answer is cut short. The url is never logged (a
    Telegram file link holds the bot's token)."""
    try:
        async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as session, \
                session.get(url) as resp:
            if resp.status != 200:
                log.warning("photo not fetched", extra={"status": resp.status})
                return None
            if resp.content_length is not None and resp.content_length > most:
                log.warning("photo too big to fetch")
                return None
            content = bytearray()
            async for chunk in resp.content.iter_chunked(CHUNK):
                content += chunk
                if len(content) > most:
                    log.warning("photo too big to fetch")
                    return None
            return bytes(content) or None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("photo not fetched", extra={"detail": type(exc).__name__})
        return None
