"""Temporary media (临时素材): images uploaded once and reused by their content.

A passive image reply and a customer-service image message both name a `media_id`
from media/upload. WeChat keeps an upload three days; the id is kept in the database
by the image's SHA-256 (bot/wechat/store/uploads.py), so the same QR code is uploaded once for
every worker, and reused only while it outlives `margin`, long enough for a late
customer-service send.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.wechat.api import Api, ApiError
from bot.wechat.picture_kinds import MAX_BYTES, TYPES
from bot.wechat.store import uploads
from domain.storage.database import Database

UPLOAD = "/cgi-bin/media/upload"
KEPT = timedelta(days=3)
MARGIN = timedelta(hours=12)
IMAGE_TOO_LARGE = 40009  # WeChat's own code for it, raised before uploading


class Media:
    def __init__(self, db: Database, api: Api, app: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 margin: timedelta = MARGIN) -> None:
        self.db = db
        self.api = api
        self.app = app
        self.clock = clock
        self.margin = margin

    async def image(self, content: bytes) -> str:
        """The media id of this image, uploading it unless a usable upload is kept. One
        too large is refused before it is hashed (a member's photo may be megabytes)."""
        if len(content) > MAX_BYTES:
            raise ApiError(IMAGE_TOO_LARGE, "image larger than WeChat takes")
        key = uploads.digest(content)
        now = self.clock()
        async with self.db.uow() as uow:
            found = await uploads.known(uow, self.app, key, now, self.margin)
        if found is not None:
            return found
        extension, content_type = _kind(content)
        data = await self.api.upload(UPLOAD, {"type": "image"}, "media",
                                     f"{key[:16]}.{extension}", content, content_type)
        media_id = data.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise ApiError(-3, "media/upload answered without a media_id")
        async with self.db.uow() as uow:
            await uploads.remember(uow, self.app, key, media_id, now + KEPT, now)
            await uow.commit()
        return media_id

    async def forget(self, media_id: str) -> None:
        """WeChat no longer knows this upload: the next use uploads again."""
        async with self.db.uow() as uow:
            await uploads.forget(uow, self.app, media_id)
            await uow.commit()


def _kind(content: bytes) -> tuple[str, str]:
    for magic, extension, content_type in TYPES:
        if content.startswith(magic):
            return extension, content_type
    return "png", "image/png"
