"""Telling a member something outside a conversation (an upgrade, a referral reward),
queued in the transaction that caused it. The one place that calls the notice queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.notices import notices
from domain.notices.tables import Notice
from domain.storage.database import UnitOfWork


async def tell(uow: UnitOfWork, member_id: int, key: str, params: dict[str, Any],
               idempotency_key: str, now: datetime) -> None:
    await notices.queue(uow, member_id, key, params, idempotency_key, now)


async def tell_many(uow: UnitOfWork, items: list[tuple[int, str, dict[str, Any], str]],
                    now: datetime) -> None:
    """`tell` for a batch (an import): (member id, key, params, idempotency key) each,
    in one statement; a key queued before is skipped, as `notices.queue` does."""
    if not items:
        return
    await uow.session.execute(
        uow.upsert(Notice).on_conflict_do_nothing(index_elements=["idempotency_key"]),
        [dict(member_id=m, key=k, params=p, idempotency_key=i, status="pending",
              created_at=now, not_before=now, attempts=0) for m, k, p, i in items])
