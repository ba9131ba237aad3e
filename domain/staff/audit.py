"""The audit log: every operator action, appended and never changed.

Actors are labels, not foreign keys, so an entry outlives whatever did it:
"member:00000042" for someone in chat, "api" for the shop's till, "cli" for the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from domain.members.members import member_number
from domain.staff.tables import AuditEntry
from domain.storage.database import UnitOfWork


def member_actor(member_id: int) -> str:
    return f"member:{member_number(member_id)}"


async def record(uow: UnitOfWork, actor: str, action: str, target: str,
                 params: dict[str, Any], now: datetime) -> None:
    uow.session.add(AuditEntry(actor=actor[:64], action=action, target=target[:64],
                               params=params, created_at=now))
    await uow.flush()


async def recent(uow: UnitOfWork, limit: int, offset: int = 0) -> list[AuditEntry]:
    rows = await uow.session.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows)


async def count(uow: UnitOfWork) -> int:
    return await uow.session.scalar(select(func.count()).select_from(AuditEntry)) or 0
