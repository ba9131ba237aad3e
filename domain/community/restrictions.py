"""Mutes and bans in force, remembered so they outlive leaving and coming back.

Whatever the platform itself keeps of a mute once someone leaves, this record is what
puts it back when they come in again (`active`), for as long as it was given. A kick is
only audited: it keeps nobody out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from domain.community.tables import GroupRestriction
from domain.community.warns import REASON, target
from domain.staff import audit
from domain.storage.database import UnitOfWork

MUTE, BAN = "mute", "ban"
KINDS = (MUTE, BAN)
# The platform takes a restriction shorter or longer than these as one for ever.
SHORTEST = timedelta(seconds=30)
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class Length:
    """When a restriction ends: `until` None is for ever, and `forced` says the
    platform made it so (too short or too long a length) rather than the admin."""

    until: datetime | None
    forced: bool = False


def lasting(now: datetime, length: timedelta | None) -> Length:
    """A length as the platform will apply it: none or zero is for ever, as is one
    the platform would not take as a length."""
    if length is None or not length:
        return Length(None)
    if length < SHORTEST or length > LONGEST:
        return Length(None, forced=True)
    return Length(now + length)


async def impose(uow: UnitOfWork, platform: str, chat_id: str, user_id: str, kind: str,
                 until: datetime | None, reason: str | None, actor: str,
                 now: datetime) -> None:
    """Record a mute or ban (replacing one of that kind already there); audited."""
    assert kind in KINDS
    row = await uow.session.get(GroupRestriction, (platform, chat_id, user_id, kind))
    if row is None:
        row = GroupRestriction(platform=platform, chat_id=chat_id, user_id=user_id,
                               kind=kind)
        uow.session.add(row)
    row.until, row.reason = until, reason[:REASON] if reason else None
    row.actor, row.created_at = actor[:64], now
    await uow.flush()
    await audit.record(uow, actor, f"group.{kind}", target(platform, chat_id, user_id),
                       {"until": until.isoformat() if until else None,
                        "reason": row.reason}, now)


async def lift(uow: UnitOfWork, platform: str, chat_id: str, user_id: str, kind: str,
               actor: str, now: datetime) -> bool:
    """Forget a mute or ban; audited either way (the platform is asked either way, as
    one may have been made by hand). Whether one was recorded."""
    assert kind in KINDS
    removed = await uow.changed(delete(GroupRestriction).where(
        GroupRestriction.platform == platform, GroupRestriction.chat_id == chat_id,
        GroupRestriction.user_id == user_id, GroupRestriction.kind == kind))
    await audit.record(uow, actor, f"group.un{kind}", target(platform, chat_id, user_id),
                       {"recorded": bool(removed)}, now)
    return bool(removed)


async def kicked(uow: UnitOfWork, platform: str, chat_id: str, user_id: str,
                 reason: str | None, actor: str, now: datetime) -> None:
    await audit.record(uow, actor, "group.kick", target(platform, chat_id, user_id),
                       {"reason": reason[:REASON] if reason else None}, now)


async def active(uow: UnitOfWork, platform: str, chat_id: str, user_id: str,
                 now: datetime) -> list[GroupRestriction]:
    """Their mutes and bans still in force in this group (for ever, or until later
    than `now`), to put back when they come in again."""
    rows = await uow.session.scalars(select(GroupRestriction).where(
        GroupRestriction.platform == platform, GroupRestriction.chat_id == chat_id,
        GroupRestriction.user_id == user_id,
        or_(GroupRestriction.until.is_(None), GroupRestriction.until > now))
        .order_by(GroupRestriction.kind))
    return list(rows)
