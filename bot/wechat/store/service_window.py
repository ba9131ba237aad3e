"""Service windows: when a platform lets us message a member unprompted.

WeChat allows customer-service messages only for a while after the member last wrote,
and only so many per window. We track both per member so that a push WeChat would
refuse is never attempted: `reserve` spends one unit with a conditional UPDATE, so
concurrent senders cannot overspend, and `exhaust`/`close` record a platform refusal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.wechat.store.tables import ServiceWindow
from domain.storage.database import DIALECTS, UnitOfWork, upsert

_W = ServiceWindow
_T = ServiceWindow.__table__


def _open(dialect: str) -> object:
    stmt = upsert(dialect, _T)
    return stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={c: stmt.excluded[c] for c in ("opened_at", "closes_at", "quota", "used")},
        # A redelivered old message must not reopen a newer window's spent quota.
        where=_T.c.opened_at < stmt.excluded.opened_at,
    )


_OPEN = {dialect: _open(dialect) for dialect in DIALECTS}


async def opened(uow: UnitOfWork, platform: str, user_id: str, now: datetime,
                 hours: int, quota: int) -> None:
    """The member wrote: a fresh window with its full quota starts now."""
    await opened_many(uow, platform, [(user_id, now)], hours, quota)


async def opened_many(uow: UnitOfWork, platform: str, writes: list[tuple[str, datetime]],
                      hours: int, quota: int) -> None:
    """`opened` for many (user id, when) at once, in order."""
    if writes:
        await uow.execute(_OPEN[uow.dialect], [
            {"platform": platform, "user_id": user_id, "opened_at": now,
             "closes_at": now + timedelta(hours=hours), "quota": quota, "used": 0}
            for user_id, now in writes])


async def reserve(uow: UnitOfWork, platform: str, user_id: str, now: datetime,
                  count: int = 1) -> bool:
    """Spend `count` messages of the open window, all or none; False when it is closed
    or has fewer left."""
    return await uow.changed(
        update(ServiceWindow)
        .where(_W.platform == platform, _W.user_id == user_id, _W.closes_at > now,
               _W.used + count <= _W.quota)
        .values(used=_W.used + count)
    ) == 1


async def closed(uow: UnitOfWork, platform: str, user_id: str, now: datetime) -> bool:
    """After `reserve` found no room: whether the window is over, not just its quota."""
    closes_at = await uow.session.scalar(
        select(ServiceWindow.closes_at).where(_W.platform == platform, _W.user_id == user_id))
    return closes_at is None or closes_at <= now


async def exhaust(uow: UnitOfWork, platform: str, user_id: str) -> None:
    """The platform says the quota is spent (someone else sent too): believe it."""
    await uow.session.execute(update(ServiceWindow).where(
        _W.platform == platform, _W.user_id == user_id).values(used=_W.quota))


async def close(uow: UnitOfWork, platform: str, user_id: str, now: datetime) -> None:
    """The platform says the window is over (its clock, or a message we did not see)."""
    await uow.session.execute(update(ServiceWindow).where(
        _W.platform == platform, _W.user_id == user_id, _W.closes_at > now)
        .values(closes_at=now))


async def remaining(uow: UnitOfWork, platform: str, user_id: str, now: datetime) -> int:
    window = await uow.session.get(ServiceWindow, (platform, user_id),
                                   populate_existing=True)
    if window is None or window.closes_at <= now:
        return 0
    return max(0, window.quota - window.used)
