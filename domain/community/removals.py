"""Removals: lapsed seats whose grace is over, taken out by the platform's side.

Taking someone out is a platform call, made by the process that talks to the platform;
this is the durable half: what is due, and what became of it. A removal that the
platform refuses is tried again later, and given up after a few refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from domain.community.seats import IN, LAPSED, LEFT, REMOVED
from domain.community.tables import Gate, Seat
from domain.staff import audit
from domain.storage.database import UnitOfWork

GIVE_UP_AFTER = 8  # removal attempts the platform refused before we stop trying
ACTOR = "community"  # the audit log's actor for what the gates do on their own


@dataclass(frozen=True)
class Removal:
    seat_id: int
    gate_id: int
    chat_id: str
    user_id: str
    title: str
    platform: str


async def due(uow: UnitOfWork, platform: str, now: datetime, limit: int) -> list[Removal]:
    """Lapsed seats whose grace is over, of gates that remove (and not in a dry run)."""
    rows = await uow.session.execute(
        select(Seat.id, Gate.id, Gate.chat_id, Seat.user_id, Gate.title, Gate.platform)
        .join(Gate, Gate.id == Seat.gate_id)
        .where(Seat.status == LAPSED, Seat.remove_after <= now, Gate.platform == platform,
               Gate.on_lapse == "remove", Gate.dry_run.is_(False))
        .order_by(Seat.remove_after, Seat.id).limit(limit))
    return [Removal(*row) for row in rows]


async def would_remove(uow: UnitOfWork, gate: Gate, now: datetime,
                       limit: int = 50) -> list[tuple[str, int | None]]:
    """A dry run's report: the accounts whose grace is over, and their members."""
    rows = await uow.session.execute(
        select(Seat.user_id, Seat.member_id).where(
            Seat.gate_id == gate.id, Seat.status == LAPSED, Seat.remove_after <= now)
        .order_by(Seat.remove_after, Seat.id).limit(limit))
    return [(row.user_id, row.member_id) for row in rows]


async def removed(uow: UnitOfWork, removal: Removal, now: datetime) -> bool:
    """The platform took them out. False when they qualified again meanwhile: the
    caller then lets them back in. A seat already "left" is ours too: the chat may
    report our own removal before the platform's answer to it comes back."""
    done = await uow.changed(update(Seat).where(
        Seat.id == removal.seat_id, Seat.status.in_((LAPSED, LEFT)))
        .values(status=REMOVED, remove_after=None, updated_at=now))
    if done:
        await audit.record(uow, ACTOR, "gate.remove", _target(removal),
                           {"user": removal.user_id, "title": removal.title}, now)
    return bool(done)


async def postpone(uow: UnitOfWork, removal: Removal, until: datetime, reason: str,
                   now: datetime) -> None:
    """The platform refused this removal: try again at `until`, or stop after a few
    refusals (the seat stays lapsed, in /gates, for staff to see to)."""
    seat = await uow.session.get(Seat, removal.seat_id)
    if seat is None or seat.status != LAPSED:
        return
    seat.attempts += 1
    seat.remove_after = until if seat.attempts < GIVE_UP_AFTER else None
    seat.updated_at = now
    if seat.remove_after is None:
        await audit.record(uow, ACTOR, "gate.remove_failed", _target(removal),
                           {"user": removal.user_id, "reason": reason[:200]}, now)


async def by_hand(uow: UnitOfWork, gate: Gate, member_ids: list[int], actor: str,
                  now: datetime) -> dict[int, str]:
    """Staff took these members out of a hand-kept chat: each one's outcome, "removed",
    "qualifies" (they qualify again: their seat stays) or "unknown" (never shown it)."""
    seats = {seat.member_id: seat for seat in await uow.session.scalars(
        select(Seat).where(Seat.gate_id == gate.id, Seat.member_id.in_(member_ids),
                           Seat.status.in_((LAPSED, IN, REMOVED))))}
    out: dict[int, str] = {}
    for member_id in member_ids:
        seat = seats.get(member_id)
        if seat is None:
            out[member_id] = "unknown"
        elif seat.status == IN:
            out[member_id] = "qualifies"
        else:
            if seat.status == LAPSED:
                seat.status, seat.remove_after, seat.updated_at = REMOVED, None, now
                await audit.record(uow, actor, "gate.remove",
                                   _chat(gate.platform, gate.chat_id),
                                   {"user": seat.user_id, "title": gate.title}, now)
            out[member_id] = "removed"
    await uow.flush()
    return out


def _target(removal: Removal) -> str:
    return _chat(removal.platform, removal.chat_id)


def _chat(platform: str, chat_id: str) -> str:
    """As gates.py names a chat in the audit log, so one chat's entries read together."""
    return f"chat:{platform}:{chat_id}"
