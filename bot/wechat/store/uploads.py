"""Images uploaded to a platform, reused by content for as long as the platform keeps
them (WeChat: three days). The key is the SHA-256 of the bytes, so the same QR code
is uploaded once however many workers and replies show it."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.wechat.store.tables import UploadedMedia
from domain.storage.database import UnitOfWork

_T = UploadedMedia.__table__


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def known(uow: UnitOfWork, app: str, key: str, now: datetime,
                margin: timedelta) -> str | None:
    """The media id of an upload that stays valid for at least `margin`."""
    return await uow.scalar(select(_T.c.media_id).where(
        _T.c.app == app, _T.c.digest == key, _T.c.expires_at > now + margin))


async def remember(uow: UnitOfWork, app: str, key: str, media_id: str,
                   expires_at: datetime, now: datetime) -> None:
    """Keep the newest upload of these bytes, and drop uploads the platform has let go."""
    stmt = uow.upsert(_T).values(app=app, digest=key, media_id=media_id,
                                           expires_at=expires_at)
    await uow.execute(stmt.on_conflict_do_update(
        index_elements=["app", "digest"],
        set_={"media_id": stmt.excluded.media_id, "expires_at": stmt.excluded.expires_at},
        where=_T.c.expires_at < stmt.excluded.expires_at))
    await uow.execute(delete(_T).where(_T.c.expires_at <= now))


async def forget(uow: UnitOfWork, app: str, media_id: str) -> None:
    """The platform no longer knows this upload (it said the media id is invalid)."""
    await uow.execute(delete(_T).where(_T.c.app == app, _T.c.media_id == media_id))
