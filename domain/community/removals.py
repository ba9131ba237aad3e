"""Removals: lapsed seats whose grace is over, taken out by the platform's side.

Taking someone out is a platform call, made by the process that talks to the platform;
this is the durable half: what is due, and what became of it. A removal that the
platform refuses is tried again later, and given up after a few refusals. A refusal is
never only in the log: /gates counts the seats whose removal is refused and says why
(`refused`), and the staff who run gates are told once, when a chat's removals start
failing, so a right taken from the bot is put back before anyone waits on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from domain.community.seats import IN, LAPSED, LEFT, REMOVED
from domain.community.tables import Gate, Seat
from domain.notices import announce
from domain.privacy import returning
from domain.staff import audit, roles
from domain.staff.tables import AuditEntry
from domain.storage.database import UnitOfWork

GIVE_UP_AFTER = 8  # removal attempts the platform refused before we stop trying
ACTOR = "community"  # the audit log's actor for what the gates do on their own
# Why the platform refused a removal, as its side reads the refusal: the bot lacks the
# right to take people out, the person is one of the chat's admins, or something else
# (its own words are kept beside).
WHY = ("rights", "admin", "other")
REFUSED, GAVE_UP = "gate.remove_refused", "gate.remove_failed"  # audit actions
REASON_KEPT = 200  # characters of the platform's words kept
ERASED = "-"  # an erased member's account, as the audit log names it


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
        user = await _user(uow, removal)
        await audit.record(uow, ACTOR, "gate.remove", _target(removal),
                           {"user": user, "title": removal.title}, now)
        if user == ERASED:  # nothing is kept of an erased member's account
            await uow.execute(delete(Seat).where(Seat.id == removal.seat_id))
    return bool(done)


async def _user(uow: UnitOfWork, removal: Removal) -> str:
    """The account as the audit log names it: ERASED for an erased member's, whose id
    is kept nowhere (domain/privacy/erasure.py)."""
    erased = await returning.erased_account(uow, removal.platform, removal.user_id)
    return ERASED if erased else removal.user_id


async def postpone(uow: UnitOfWork, removal: Removal, until: datetime, reason: str,
                   now: datetime, why: str = "other") -> None:
    """The platform refused this removal (`why`, one of WHY; `reason`, its words): try
    again at `until`, or stop after a few refusals (the seat stays lapsed, in /gates,
    for staff to see to). A seat's first refusal is audited, and is told to the staff
    who run gates when no other removal in that chat is failing already."""
    seat = await uow.session.get(Seat, removal.seat_id)
    if seat is None or seat.status != LAPSED:
        return
    why = why if why in WHY else "other"
    seat.attempts += 1
    seat.remove_after = until if seat.attempts < GIVE_UP_AFTER else None
    seat.updated_at = now
    said = {"user": await _user(uow, removal), "reason": reason[:REASON_KEPT], "why": why}
    if seat.attempts == 1:
        await audit.record(uow, ACTOR, REFUSED, _target(removal), said, now)
        if not await _failing_besides(uow, removal):
            await _tell_operators(uow, removal, why, reason, now)
    if seat.remove_after is None:
        await audit.record(uow, ACTOR, GAVE_UP, _target(removal), said, now)


@dataclass(frozen=True)
class Refusal:
    """Why a chat's latest removal was refused: a WHY and the platform's words."""

    why: str
    reason: str


async def refused(uow: UnitOfWork, gate: Gate) -> Refusal | None:
    """The latest refusal of a removal from the gate's chat, if any. Read only for a
    gate whose removals are failing: the newest entries of the audit log come first."""
    params = await uow.session.scalar(
        select(AuditEntry.params).where(
            AuditEntry.action.in_((REFUSED, GAVE_UP)),
            AuditEntry.target == _chat(gate.platform, gate.chat_id))
        .order_by(AuditEntry.id.desc()).limit(1))
    if not params:
        return None
    why = params.get("why")
    return Refusal(why if why in WHY else "other", str(params.get("reason", "")))


async def _failing_besides(uow: UnitOfWork, removal: Removal) -> bool:
    """Whether another lapsed seat of the chat has had a removal refused already."""
    return bool(await uow.session.scalar(
        select(func.count()).select_from(Seat).where(
            Seat.gate_id == removal.gate_id, Seat.id != removal.seat_id,
            Seat.status == LAPSED, Seat.attempts > 0)))


async def _tell_operators(uow: UnitOfWork, removal: Removal, why: str, reason: str,
                          now: datetime) -> None:
    """A notice to each member whose role runs gates (domain.staff.roles "gates")."""
    staff = await roles.holders(uow, "gates")
    params = {"chat": removal.title, "id": removal.chat_id,
              "reason": reason[:REASON_KEPT]}
    await announce.tell_many(uow, [
        (staff_id, f"community.removal_refused.{why}", params,
         f"community:refused:{removal.seat_id}:{now.isoformat()}:to:{staff_id}")
        for staff_id in staff], now)


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
                erased = await returning.erased_account(uow, gate.platform, seat.user_id)
                await audit.record(uow, actor, "gate.remove",
                                   _chat(gate.platform, gate.chat_id),
                                   {"user": ERASED if erased else seat.user_id,
                                    "title": gate.title}, now)
                if erased:
                    await uow.session.delete(seat)
            out[member_id] = "removed"
    await uow.flush()
    return out


def _target(removal: Removal) -> str:
    return _chat(removal.platform, removal.chat_id)


def _chat(platform: str, chat_id: str) -> str:
    """As gates.py names a chat in the audit log, so one chat's entries read together."""
    return f"chat:{platform}:{chat_id}"
