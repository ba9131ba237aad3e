"""Tier re-evaluation after points arrive, and telling the member of an upgrade.

The decision is always `tiers.evaluate`; these differ in how the window total is read:
given (a purchase reads it with its member, in one round trip), read by
`tiers.reevaluate`, or summed for many members at once (an import).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from domain.community import seats
from domain.config import Programme
from domain.members.tables import Member
from domain.notices import announce
from domain.points.tables import LedgerEntry
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime
from domain.tiers import tiers
from domain.tiers.tables import TierChange

_M = Member.__table__
# What tier evaluation reads of a member: plain rows, no ORM objects to build and flush.
STANDING = (Member.id, Member.tier, Member.tier_valid_until, Member.tier_floor,
            Member.paid_floor, Member.referred_by_id)
_SET_TIER = (update(_M).where(_M.c.id == bindparam("b_member"))
             .values(tier=bindparam("b_tier"),
                     tier_valid_until=bindparam("b_until", type_=UTCDateTime())))
_RECORD_CHANGE = insert(TierChange.__table__)


async def apply(uow: UnitOfWork, programme: Programme, member: Any, total: int, cause: str,
                now: datetime) -> tuple[str, bool]:
    """tiers.reevaluate's decision and record, for a window total already read."""
    decision = tiers.evaluate(programme.tiers, total,
                              tiers.Standing(member.tier, member.tier_valid_until),
                              tiers.floor_of(programme.tiers, member.tier_floor,
                                             member.paid_floor), now)
    if decision.code != member.tier:
        await uow.execute(_RECORD_CHANGE, dict(
            member_id=member.id, from_tier=member.tier, to_tier=decision.code,
            reason=decision.reason, qualifying=total, created_at=now))
    if (decision.code, decision.valid_until) != (member.tier, member.tier_valid_until):
        await uow.execute(_SET_TIER, {"b_member": member.id, "b_tier": decision.code,
                                      "b_until": decision.valid_until})
    if decision.code != member.tier:
        await seats.recheck(uow, programme.tiers, [member.id], now)
    if decision.reason == "upgrade":
        await tell_upgrade(uow, member.id, decision.code, cause, now)
    return decision.code, decision.reason == "upgrade"


async def reevaluate_and_tell(uow: UnitOfWork, programme: Programme, member_id: int,
                              cause: str, now: datetime) -> bool:
    decision = await tiers.reevaluate(uow, programme.tiers, member_id, now)
    if decision.reason == "upgrade":
        await tell_upgrade(uow, member_id, decision.code, cause, now)
    return decision.reason == "upgrade"


async def tell_upgrade(uow: UnitOfWork, member_id: int, code: str, cause: str,
                       now: datetime) -> None:
    """One notice per member and cause. A cause starts with its kind (`order:`,
    `review:`, `reversal:`; an import's key says `import:`), so an order id can never
    pass for a review's period."""
    await announce.tell(uow, member_id, "tier.upgraded", {"tier": {"$tier": code}},
                        f"tier:{member_id}:{cause}", now)


async def reevaluate_many(uow: UnitOfWork, programme: Programme, member_ids: set[int],
                          now: datetime) -> None:
    """tiers.reevaluate for many members: one grouped sum, then only the changes written."""
    if not member_ids:
        return
    ladder = programme.tiers
    column = LedgerEntry.spend if ladder.basis == "spend" else LedgerEntry.qualifying
    totals = dict((await uow.session.execute(
        select(LedgerEntry.member_id, func.coalesce(func.sum(column), 0)).where(
            LedgerEntry.member_id.in_(member_ids),
            LedgerEntry.created_at > now - timedelta(days=ladder.window_days))
        .group_by(LedgerEntry.member_id))).all())
    changes, moves, told = [], [], []
    for member in await uow.session.execute(select(*STANDING).where(
            Member.id.in_(member_ids))):
        total = max(int(totals.get(member.id, 0)), 0)
        decision = tiers.evaluate(ladder, total, tiers.Standing(member.tier,
                                                                member.tier_valid_until),
                                  tiers.floor_of(ladder, member.tier_floor,
                                                 member.paid_floor), now)
        if decision.code == member.tier and decision.valid_until == member.tier_valid_until:
            continue
        changes.append({"b_id": member.id, "tier": decision.code,
                        "tier_valid_until": decision.valid_until})
        if decision.code != member.tier:
            moves.append(dict(member_id=member.id, from_tier=member.tier, to_tier=decision.code,
                              reason=decision.reason, qualifying=total, created_at=now))
        if decision.reason == "upgrade":
            told.append((member.id, "tier.upgraded", {"tier": {"$tier": decision.code}},
                         f"tier:{member.id}:import:{decision.code}:{now.isoformat()}"))
    if changes:
        table = Member.__table__
        await uow.session.execute(update(table).where(table.c.id == bindparam("b_id")),
                                  changes)
    if moves:
        await uow.session.execute(insert(TierChange.__table__), moves)
        await seats.recheck(uow, ladder, [m["member_id"] for m in moves], now)
    await announce.tell_many(uow, told, now)
    await uow.flush()
