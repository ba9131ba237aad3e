"""Warns in a group: counted per person, acted on at the group's limit, then cleared.

What happens at the limit (mute, kick, ban) is done by the caller on the platform;
here a warn that reaches the limit clears that person's warns in the same
transaction, so the next offence starts a fresh count, as admins know from group bots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from domain.community.tables import GroupWarn
from domain.staff import audit
from domain.storage.database import UnitOfWork

REASON = 256  # characters of a reason kept (the column's size)


@dataclass(frozen=True)
class Warned:
    warn_id: int
    count: int  # their warns now, this one included (the limit's count when reached)
    limit: int
    reached: bool  # the limit was reached: their warns are cleared


def target(platform: str, chat_id: str, user_id: str) -> str:
    """The audit log's name for a person in a group."""
    return f"user:{platform}:{chat_id}:{user_id}"


async def warn(uow: UnitOfWork, platform: str, chat_id: str, user_id: str,
               reason: str | None, limit: int, actor: str, now: datetime) -> Warned:
    row = GroupWarn(platform=platform, chat_id=chat_id, user_id=user_id,
                    reason=reason[:REASON] if reason else None, actor=actor[:64],
                    created_at=now)
    uow.session.add(row)
    await uow.flush()
    count = await _count(uow, platform, chat_id, user_id)
    reached = count >= limit
    if reached:
        await _clear(uow, platform, chat_id, user_id)
    await audit.record(uow, actor, "group.warn", target(platform, chat_id, user_id),
                       {"reason": row.reason, "count": count, "limit": limit,
                        "reached": reached}, now)
    return Warned(row.id, count, limit, reached)


async def listing(uow: UnitOfWork, platform: str, chat_id: str,
                  user_id: str) -> list[GroupWarn]:
    """Their warns in this group, oldest first."""
    rows = await uow.session.scalars(select(GroupWarn).where(
        GroupWarn.platform == platform, GroupWarn.chat_id == chat_id,
        GroupWarn.user_id == user_id).order_by(GroupWarn.id))
    return list(rows)


async def take_back(uow: UnitOfWork, platform: str, chat_id: str, user_id: str,
                    actor: str, now: datetime, warn_id: int | None = None) -> int | None:
    """Remove one warn: `warn_id` (the button under it), else their latest. Their
    count left, or None when there was no such warn (already removed, or reset)."""
    query = select(GroupWarn).where(GroupWarn.platform == platform,
                                    GroupWarn.chat_id == chat_id,
                                    GroupWarn.user_id == user_id)
    if warn_id is not None:
        query = query.where(GroupWarn.id == warn_id)
    row = await uow.session.scalar(query.order_by(GroupWarn.id.desc()).limit(1))
    if row is None:
        return None
    await uow.session.delete(row)
    await uow.flush()
    left = await _count(uow, platform, chat_id, user_id)
    await audit.record(uow, actor, "group.unwarn", target(platform, chat_id, user_id),
                       {"warn": row.id, "reason": row.reason, "left": left}, now)
    return left


async def owner_of(uow: UnitOfWork, platform: str, chat_id: str, warn_id: int) -> str | None:
    """Whose warn this is, if it is still there."""
    return await uow.session.scalar(select(GroupWarn.user_id).where(
        GroupWarn.id == warn_id, GroupWarn.platform == platform,
        GroupWarn.chat_id == chat_id))


async def reset(uow: UnitOfWork, platform: str, chat_id: str, user_id: str, actor: str,
                now: datetime) -> int:
    """Clear their warns: how many there were (nothing audited when none)."""
    cleared = await _clear(uow, platform, chat_id, user_id)
    if cleared:
        await audit.record(uow, actor, "group.resetwarns",
                           target(platform, chat_id, user_id), {"cleared": cleared}, now)
    return cleared


async def _count(uow: UnitOfWork, platform: str, chat_id: str, user_id: str) -> int:
    return await uow.session.scalar(select(func.count()).select_from(GroupWarn).where(
        GroupWarn.platform == platform, GroupWarn.chat_id == chat_id,
        GroupWarn.user_id == user_id)) or 0


async def _clear(uow: UnitOfWork, platform: str, chat_id: str, user_id: str) -> int:
    return await uow.changed(delete(GroupWarn).where(
        GroupWarn.platform == platform, GroupWarn.chat_id == chat_id,
        GroupWarn.user_id == user_id))
