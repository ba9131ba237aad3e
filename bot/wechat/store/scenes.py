"""QR scene codes shared by every worker, renewed before they expire.

A code is asked of the platform outside any transaction (a unit of work holds
SQLite's write lock), then `keep` stores it. Two workers asking at once both get a
valid code from the platform; `keep` stores the first and hands that one to both,
and replaces a stored code only when it is itself due for renewal, so all workers
converge on one code per scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.wechat.store.tables import SceneCode
from domain.storage.database import UnitOfWork

_T = SceneCode.__table__


@dataclass(frozen=True)
class Code:
    ticket: str
    url: str  # what the QR image encodes
    expires_at: datetime

    def usable(self, now: datetime, renew_before: timedelta) -> bool:
        return self.expires_at - now > renew_before


async def stored(uow: UnitOfWork, app: str, scene: str) -> Code | None:
    row = (await uow.execute(select(_T.c.ticket, _T.c.url, _T.c.expires_at).where(
        _T.c.app == app, _T.c.scene == scene))).one_or_none()
    return Code(row.ticket, row.url, row.expires_at) if row else None


async def keep(uow: UnitOfWork, app: str, scene: str, code: Code, now: datetime,
               renew_before: timedelta) -> Code:
    """Store `code` unless a code that is not yet due is stored already; returns the
    stored one, which every worker then uses."""
    await uow.execute(uow.upsert(_T).values(
        app=app, scene=scene, ticket=code.ticket, url=code.url, expires_at=code.expires_at,
        created_at=now).on_conflict_do_nothing(index_elements=["app", "scene"]))
    await uow.execute(update(_T).where(
        _T.c.app == app, _T.c.scene == scene, _T.c.expires_at < now + renew_before,
        _T.c.ticket != code.ticket).values(
        ticket=code.ticket, url=code.url, expires_at=code.expires_at, created_at=now))
    kept = await stored(uow, app, scene)
    assert kept is not None
    return kept
