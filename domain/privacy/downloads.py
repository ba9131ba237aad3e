"""One-time downloads of a member's data, for chats that cannot send a document: a
link whose secret is the only key, good once, for at most LIFETIME.

The secret is 32 random bytes and is never stored: the table keeps its SHA-256, so a
copy of the database opens no download. Taken once, the content is wiped at once;
downloads never taken are wiped when the next one is offered or taken after they
expired.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from domain.privacy.tables import DataDownload
from domain.storage.database import UnitOfWork

LIFETIME = timedelta(hours=24)
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32), checked whole
_D = DataDownload.__table__


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def offer(uow: UnitOfWork, member_id: int, name: str, content: bytes,
                now: datetime) -> tuple[str, datetime]:
    """A new download of `content` as `name`: its secret, and until when it works."""
    await uow.execute(delete(_D).where(_D.c.expires_at <= now))
    token = secrets.token_urlsafe(32)
    until = now + LIFETIME
    await uow.execute(_D.insert().values(token_hash=_hash(token), member_id=member_id,
                                         name=name, content=content, created_at=now,
                                         expires_at=until, taken_at=None))
    return token, until


async def take(uow: UnitOfWork, token: str, now: datetime) -> tuple[str, bytes] | None:
    """The download `token` opens, once: None for a malformed, unknown, used or expired
    one (all alike to whoever asks)."""
    if TOKEN.fullmatch(token) is None:
        return None
    await uow.execute(delete(_D).where(_D.c.expires_at <= now))
    key = _hash(token)
    row = (await uow.execute(select(_D.c.name, _D.c.content).where(
        _D.c.token_hash == key, _D.c.taken_at.is_(None), _D.c.expires_at > now))).first()
    if row is None:
        return None
    taken = await uow.changed(update(_D).where(_D.c.token_hash == key, _D.c.taken_at.is_(None))
                              .values(taken_at=now, content=b""))
    return (row.name, bytes(row.content)) if taken else None
