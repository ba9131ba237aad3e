"""Photos in a support conversation, kept by reference, never as bytes.

A photo stays on the platform it was sent on, under that platform's opaque
reference (an id the bot can send again or download, and perhaps a link where the
platform serves it). A support message row keeps that reference and its platform
(support_messages.picture_*), so a notice or a staff-chat post names the message
by id in its JSON parameters and the adapter that sends it fetches or forwards the
photo itself. Checked before anything is written: a refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from domain.errors import Refused
from domain.storage.database import UnitOfWork
from domain.support.tables import SupportMessage

# Bytes a photo may have: bots may download little more, and some platforms take
# less, so anything larger could not reach the other side anyway.
MAX_BYTES = 10 * 1024 * 1024
PARAM = "picture"  # the notice or post parameter naming the support message by id


class PictureRefused(Refused):
    """photo_too_big, photo_unknown."""


@dataclass(frozen=True)
class Picture:
    platform: str
    ref: str  # the platform's id of the file
    size: int | None = None
    url: str | None = None  # where the platform serves it, if it says


def check(picture: Picture) -> Picture:
    """The picture as kept, or refused: too big, or not a reference we can use."""
    if picture.size is not None and picture.size > MAX_BYTES:
        raise PictureRefused("photo_too_big", most_mb=MAX_BYTES // (1024 * 1024))
    plain = 0 < len(picture.ref) <= 255 and picture.ref.isascii() and picture.ref.isprintable()
    url_ok = picture.url is None or (len(picture.url) <= 1024 and picture.url.isascii()
                                     and picture.url.startswith(("http://", "https://")))
    named = 0 < len(picture.platform) <= 16 and picture.platform.isascii() \
        and picture.platform.isidentifier()
    if not named or not plain or not url_ok:
        raise PictureRefused("photo_unknown")
    return picture


def keep(message: SupportMessage, picture: Picture | None) -> None:
    if picture is not None:
        message.picture_platform, message.picture_ref = picture.platform, picture.ref
        message.picture_url, message.picture_size = picture.url, picture.size


def of(message: SupportMessage) -> Picture | None:
    if message.picture_platform is None or message.picture_ref is None:
        return None
    return Picture(message.picture_platform, message.picture_ref, message.picture_size,
                   message.picture_url)


async def find(uow: UnitOfWork, message_id: int,
               conversation_id: int | None = None) -> Picture | None:
    """The photo of support message `message_id` (of that conversation, if given)."""
    stmt = select(SupportMessage).where(SupportMessage.id == message_id)
    if conversation_id is not None:
        stmt = stmt.where(SupportMessage.conversation_id == conversation_id)
    found = await uow.session.scalar(stmt)
    return of(found) if found is not None else None
