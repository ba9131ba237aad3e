"""The inbox: every platform delivery is written down before it is acknowledged.

Telegram confirms a polling offset, and WeChat stops retrying, as soon as we answer;
a process that dies after that would lose the update. So a delivery is recorded
first (`receive`), handled in one transaction that also stores its answer (`claim`,
`record`), and its answer is sent under a lease (`lease`, `delivered`). Whatever is
left undelivered after a crash is found again by `unfinished`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.database import UnitOfWork
from domain.models import InboxItem

LEASE = timedelta(seconds=30)
_INSERT = {"postgresql": pg_insert, "sqlite": sqlite_insert}


@dataclass(frozen=True)
class Pending:
    key: str
    payload: dict[str, Any] | None
    handled: bool


async def receive(uow: UnitOfWork, platform: str, items: list[tuple[str, dict[str, Any]]],
                  now: datetime) -> None:
    """Record deliveries; one already recorded is left as it is."""
    if not items:
        return
    stmt = _INSERT[uow.dialect](InboxItem).values([
        {"platform": platform, "key": key, "payload": payload, "received_at": now}
        for key, payload in items
    ]).on_conflict_do_nothing(index_elements=["platform", "key"])
    await uow.session.execute(stmt)


async def claim(uow: UnitOfWork, platform: str, key: str,
                now: datetime) -> dict[str, Any] | None:
    """Lock this delivery for handling; return its stored answer if it was handled before.

    The row lock makes a second worker with the same delivery wait for the first to
    commit, and then see its answer instead of acting again. Adapters record deliveries
    first, so the row is usually there and one SELECT does.
    """
    for _ in range(2):
        row = (await uow.session.execute(
            select(InboxItem.handled_at, InboxItem.answer)
            .where(InboxItem.platform == platform, InboxItem.key == key)
            .with_for_update()
        )).one_or_none()
        if row is not None:
            return row.answer if row.handled_at is not None else None
        await uow.session.execute(
            _INSERT[uow.dialect](InboxItem).values(platform=platform, key=key, received_at=now)
            .on_conflict_do_nothing(index_elements=["platform", "key"]))
    raise AssertionError("an inbox row vanished while it was being claimed")


async def record(uow: UnitOfWork, platform: str, key: str, answer: dict[str, Any],
                 now: datetime) -> None:
    """Store the answer, and take the lease to send it: whoever handled it sends it."""
    await uow.session.execute(
        update(InboxItem).where(InboxItem.platform == platform, InboxItem.key == key)
        .values(handled_at=now, answer=answer, lease_until=now + LEASE)
    )


async def lease(uow: UnitOfWork, platform: str, key: str, now: datetime) -> bool:
    """Win the right to send this delivery's answer; False if it was sent or is being sent."""
    result = await uow.session.execute(
        update(InboxItem)
        .where(InboxItem.platform == platform, InboxItem.key == key,
               InboxItem.delivered_at.is_(None),
               or_(InboxItem.lease_until.is_(None), InboxItem.lease_until <= now))
        .values(lease_until=now + LEASE)
    )
    return result.rowcount == 1


async def take_over(uow: UnitOfWork, platform: str) -> int:
    """Void every lease on undelivered rows. Only for a process that knows it is alone
    (a Telegram poller: a second poller gets 409), after its predecessor died sending."""
    result = await uow.session.execute(
        update(InboxItem).where(InboxItem.platform == platform,
                                InboxItem.delivered_at.is_(None),
                                InboxItem.lease_until.is_not(None))
        .values(lease_until=None)
    )
    return result.rowcount


async def delivered(uow: UnitOfWork, platform: str, key: str | list[str],
                    now: datetime) -> None:
    # A refusal (too long, someone else's command) is answered without a handling
    # transaction; delivering it is what finishes it.
    await uow.session.execute(
        update(InboxItem).where(InboxItem.platform == platform,
                                InboxItem.key.in_([key] if isinstance(key, str) else key))
        .values(delivered_at=now, lease_until=None,
                handled_at=func.coalesce(InboxItem.handled_at, now))
    )


async def unfinished(uow: UnitOfWork, platform: str, now: datetime,
                     limit: int = 500) -> list[Pending]:
    """Deliveries not yet sent whose lease (if any) has run out, oldest first."""
    rows = await uow.session.execute(
        select(InboxItem.key, InboxItem.payload, InboxItem.handled_at)
        .where(InboxItem.platform == platform, InboxItem.delivered_at.is_(None),
               or_(InboxItem.lease_until.is_(None), InboxItem.lease_until <= now))
        .order_by(InboxItem.received_at, InboxItem.key).limit(limit)
    )
    return [Pending(r.key, r.payload, r.handled_at is not None) for r in rows]


async def prune(uow: UnitOfWork, before: datetime) -> int:
    """Forget deliveries sent before `before`; platforms stop redelivering within hours."""
    result = await uow.session.execute(
        delete(InboxItem).where(and_(InboxItem.delivered_at.is_not(None),
                                     InboxItem.delivered_at < before))
    )
    return result.rowcount
