"""Tier evaluation: a pure decision from the qualifying total and the policy.

The service around it reads the total from the ledger, applies the decision and
records every change in the tier history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from domain.community import seats
from domain.config import Tier, Tiers
from domain.errors import UnknownMember, UnknownTier
from domain.members.tables import Member
from domain.points import ledger
from domain.storage.database import UnitOfWork
from domain.storage.tables import UTCDateTime
from domain.tiers.tables import TierChange


@dataclass(frozen=True)
class Standing:
    code: str | None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class Decision:
    code: str
    valid_until: datetime | None
    reason: str  # "upgrade", "downgrade", "renewed", "kept", "grace", "floor"

    @property
    def changes(self) -> bool:
        return self.reason in ("upgrade", "downgrade", "floor")


def qualified_for(tiers: Tiers, total: int) -> Tier:
    return next((t for t in reversed(tiers.levels) if t.threshold <= total), tiers.levels[0])


def evaluate(tiers: Tiers, total: int, current: Standing, floor: str | None,
             now: datetime) -> Decision:
    earned = qualified_for(tiers, total).code
    rank = tiers.rank
    if tiers.mode == "only_up":
        target = max((earned, current.code or earned), key=rank)
        valid_until = None
    elif rank(earned) >= rank(current.code):
        target, valid_until = earned, now + timedelta(days=tiers.validity_days)
    elif current.valid_until and now < current.valid_until + timedelta(days=tiers.grace_days):
        in_grace = now >= current.valid_until
        return _with_floor(tiers, Decision(current.code or earned, current.valid_until,
                                           "grace" if in_grace else "kept"), floor, current)
    else:
        target, valid_until = earned, now + timedelta(days=tiers.validity_days)
    return _with_floor(tiers, Decision(target, valid_until, _reason(tiers, current.code, target)),
                       floor, current)


def floor_of(tiers: Tiers, operator: str | None, paid: str | None) -> str | None:
    """The floor a member stands on: the higher of the operator's (set_floor) and the
    one their paid plan gives while it is active (domain/membership)."""
    if paid is None or tiers.by_code(paid) is None:
        return operator
    if operator is None:
        return paid
    return max(operator, paid, key=tiers.rank)


def _with_floor(tiers: Tiers, decision: Decision, floor: str | None, current: Standing) -> Decision:
    if floor is None or tiers.rank(floor) <= tiers.rank(decision.code):
        return decision
    reason = "floor" if floor != current.code else "kept"
    return Decision(floor, decision.valid_until, reason)


def _reason(tiers: Tiers, before: str | None, after: str) -> str:
    if before == after:
        return "renewed" if tiers.mode == "up_and_down" else "kept"
    return "upgrade" if tiers.rank(after) > tiers.rank(before) else "downgrade"


@dataclass(frozen=True)
class Progress:
    tier: Tier
    total: int
    next_tier: Tier | None
    needed: int
    percent: int
    valid_until: datetime | None
    in_grace: bool


_M = Member.__table__
_SET_TIER = (update(_M).where(_M.c.id == bindparam("b_member"))
             .values(tier=bindparam("b_tier"),
                     tier_valid_until=bindparam("b_until", type_=UTCDateTime())))
_RECORD_CHANGE = insert(TierChange.__table__)


async def reevaluate(uow: UnitOfWork, tiers: Tiers, member_id: int, now: datetime) -> Decision:
    """Written with Core, and the loaded member is kept in step without being marked
    changed: a check-in renews the tier on every visit, and an ORM flush for that cost
    more than the rest of the check-in."""
    member = await uow.session.get(Member, member_id)
    if member is None:
        raise UnknownMember(member_id=member_id)
    total = await ledger.qualifying_total(uow, member_id, now - timedelta(days=tiers.window_days),
                                          tiers.basis)
    decision = evaluate(tiers, total, Standing(member.tier, member.tier_valid_until),
                        floor_of(tiers, member.tier_floor, member.paid_floor), now)
    before = member.tier
    if decision.code != member.tier:
        await uow.execute(_RECORD_CHANGE, {
            "member_id": member_id, "from_tier": member.tier, "to_tier": decision.code,
            "reason": decision.reason, "qualifying": total, "created_at": now})
    if uow.session.dirty or uow.session.new:
        await uow.flush()  # the caller's edits (a floor, a profile) are written as before
    if (decision.code, decision.valid_until) != (member.tier, member.tier_valid_until):
        await uow.execute(_SET_TIER, {"b_member": member_id, "b_tier": decision.code,
                                      "b_until": decision.valid_until})
        set_committed_value(member, "tier", decision.code)
        set_committed_value(member, "tier_valid_until", decision.valid_until)
    if decision.code != before:
        await seats.recheck(uow, tiers, [member_id], now)
    return decision


async def set_floor(uow: UnitOfWork, tiers: Tiers, member_id: int, code: str | None,
                    now: datetime) -> Decision:
    """An operator's guarantee: the member never sits below `code`."""
    if code is not None and tiers.by_code(code) is None:
        raise UnknownTier(code=code)
    member = await uow.session.get(Member, member_id)
    if member is None:
        raise UnknownMember(member_id=member_id)
    member.tier_floor = code
    return await reevaluate(uow, tiers, member_id, now)


async def floor_lowered(uow: UnitOfWork, tiers: Tiers, member_id: int,
                        now: datetime) -> Decision:
    """The floor the member stood on was lowered or taken away (a paid plan ended): a
    tier they held only because of it goes at once, to what they qualify for now (or
    the floor left), with no grace: the grace is for a tier they earned. A tier they
    reached on their own (its last change was not the floor's) keeps its grace."""
    member = await uow.session.get(Member, member_id)
    if member is None:
        raise UnknownMember(member_id=member_id)
    reached = await uow.scalar(
        select(TierChange.reason).where(TierChange.member_id == member_id,
                                        TierChange.to_tier == member.tier)
        .order_by(TierChange.id.desc()).limit(1))
    if reached != "floor":
        return await reevaluate(uow, tiers, member_id, now)
    total = await ledger.qualifying_total(uow, member_id, now - timedelta(days=tiers.window_days),
                                          tiers.basis)
    fresh = evaluate(tiers, total, Standing(None), floor_of(tiers, member.tier_floor,
                                                            member.paid_floor), now)
    if tiers.rank(fresh.code) >= tiers.rank(member.tier):
        return await reevaluate(uow, tiers, member_id, now)
    await uow.execute(_RECORD_CHANGE, {
        "member_id": member_id, "from_tier": member.tier, "to_tier": fresh.code,
        "reason": "floor_ended", "qualifying": total, "created_at": now})
    await uow.execute(_SET_TIER, {"b_member": member_id, "b_tier": fresh.code,
                                  "b_until": fresh.valid_until})
    set_committed_value(member, "tier", fresh.code)
    set_committed_value(member, "tier_valid_until", fresh.valid_until)
    await seats.recheck(uow, tiers, [member_id], now)
    return Decision(fresh.code, fresh.valid_until, "downgrade")


async def progress(uow: UnitOfWork, tiers: Tiers, member: Member, now: datetime) -> Progress:
    total = await ledger.qualifying_total(uow, member.id, now - timedelta(days=tiers.window_days),
                                          tiers.basis)
    tier = tiers.by_code(member.tier) or tiers.levels[0]
    higher = [t for t in tiers.levels if tiers.rank(t.code) > tiers.rank(tier.code)]
    nxt = higher[0] if higher else None
    needed = max(nxt.threshold - total, 0) if nxt else 0
    percent = min(100, total * 100 // nxt.threshold) if nxt else 100
    in_grace = bool(member.tier_valid_until and member.tier_valid_until <= now)
    return Progress(tier, total, nxt, needed, percent, member.tier_valid_until, in_grace)


async def history(uow: UnitOfWork, member_id: int, limit: int = 10) -> list[TierChange]:
    rows = await uow.session.scalars(
        select(TierChange).where(TierChange.member_id == member_id)
        .order_by(TierChange.id.desc()).limit(limit)
    )
    return list(rows)
