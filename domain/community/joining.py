"""Join requests: approve a member the gate opens to, decline the others."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.community.seats import IN, opens, put
from domain.community.tables import Gate
from domain.config import Tiers
from domain.members import members
from domain.members.tables import Member
from domain.membership import passes
from domain.staff import roles
from domain.storage.database import UnitOfWork


@dataclass(frozen=True)
class Verdict:
    """What a join request gets: "approve", "decline" (a member below the tier; `tier`
    is their tier now) or "stranger" (no member has this account)."""

    outcome: str
    member: Member | None = None


async def decide_join(uow: UnitOfWork, ladder: Tiers, gate: Gate, user_id: str) -> Verdict:
    member = await members.by_identity(uow, gate.platform, user_id)
    if member is None or member.status == "erased":  # blocking the bot is not leaving
        return Verdict("stranger")
    if (opens(ladder, gate, member.tier) or await roles.held(uow, member.id)
            or await passes.holds_pass(uow, member.id, gate.chat_id)):
        return Verdict("approve", member)
    return Verdict("decline", member)


async def admitted(uow: UnitOfWork, gate: Gate, user_id: str, member_id: int,
                   now: datetime) -> None:
    """We approved their request: they are in, qualifying."""
    await put(uow, gate, user_id, member_id, IN, now)
