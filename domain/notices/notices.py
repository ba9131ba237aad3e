"""Notices: what to tell a member outside a conversation, queued in the same transaction
as the change that caused it (so a rolled-back change tells nobody) and keyed, so a
job that runs twice queues once. The notifier in bot/ claims due notices under a lease
and records how each ended."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from domain.members.tables import Identity
from domain.notices.tables import Notice
from domain.storage.database import UnitOfWork

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
WAIT_AGAIN = timedelta(seconds=15)  # "wait": the member's platform is still connecting
# What it told of was called off before it went out (a survey closed).
WITHDRAWN = "withdrawn"
FINAL = ("sent", "unreachable", "rejected", "failed", WITHDRAWN)


async def queue(uow: UnitOfWork, member_id: int, key: str, params: dict[str, Any],
                idempotency_key: str, now: datetime, not_before: datetime | None = None) -> bool:
    """True if queued now; False if this key was queued before."""
    stmt = uow.upsert(Notice).values(
        member_id=member_id, key=key, params=params, idempotency_key=idempotency_key,
        status="pending", created_at=now, not_before=not_before or now, attempts=0,
    ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(Notice.id)
    return (await uow.session.execute(stmt)).scalar() is not None


async def claim(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[Notice]:
    """Take due notices for sending. SKIP LOCKED lets several workers share the queue;
    the lease brings a notice back if its sender died."""
    stmt = (select(Notice).where(Notice.status.in_(("pending", "sending")),
                                 Notice.not_before <= now)
            .order_by(Notice.not_before, Notice.id).limit(limit))
    if uow.dialect == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(await uow.session.scalars(stmt))
    for notice in due:
        notice.status, notice.not_before = "sending", now + LEASE
        notice.attempts += 1
    await uow.flush()
    return due


async def finish_all(uow: UnitOfWork, ended: list[tuple[int, str, str | None, str | None]],
                     now: datetime) -> None:
    """`finish` for many notices, read in one query: (id, outcome, platform, detail)."""
    await uow.session.scalars(select(Notice).where(Notice.id.in_([e[0] for e in ended])))
    for notice_id, outcome, platform, detail in ended:
        await finish(uow, notice_id, outcome, now, platform, detail)


async def finish(uow: UnitOfWork, notice_id: int, outcome: str, now: datetime,
                 platform: str | None = None, detail: str | None = None) -> None:
    """Record how a send ended. A transient failure is retried later, with backoff;
    "wait" (the member's platform is still connecting) comes back shortly, uncounted."""
    notice = await uow.session.get(Notice, notice_id)
    if notice is None or notice.status in FINAL:
        return
    notice.platform, notice.detail = platform, (detail or "")[:200] or None
    if outcome == "wait":  # not an attempt: nothing was tried
        notice.status, notice.attempts = "pending", notice.attempts - 1
        notice.not_before = now + WAIT_AGAIN
    elif outcome == "retry" and notice.attempts < MAX_ATTEMPTS:
        notice.status = "pending"
        notice.not_before = now + timedelta(seconds=30 * 2 ** notice.attempts)
    elif outcome == "retry":
        notice.status = "failed"
    else:
        notice.status = outcome  # sent, unreachable, rejected, or deferred
        notice.sent_at = now if outcome == "sent" else None


async def wake(uow: UnitOfWork, member_id: int, now: datetime) -> int:
    """The member wrote to us: what waited for a chance to reach them is due again."""
    return await uow.changed(
        update(Notice).where(Notice.member_id == member_id, Notice.status == "deferred")
        .values(status="pending", not_before=now)
    )


async def wake_accounts(uow: UnitOfWork, platform: str, external_ids: list[str],
                        now: datetime) -> int:
    """`wake` for the members behind these accounts (they wrote, and the platform lets
    us answer for a while): one statement for a batch of messages, over the
    (status, not_before) index, since few notices are ever deferred."""
    if not external_ids:
        return 0
    accounts = select(Identity.member_id).where(Identity.platform == platform,
                                                Identity.external_id.in_(external_ids))
    return await uow.changed(
        update(Notice).where(Notice.status == "deferred", Notice.member_id.in_(accounts))
        .values(status="pending", not_before=now))


async def of_member(uow: UnitOfWork, member_id: int) -> list[Notice]:
    return list(await uow.session.scalars(
        select(Notice).where(Notice.member_id == member_id).order_by(Notice.id)))
