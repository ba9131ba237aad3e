"""Tier review at the end of each member's tier period ("up and down" programmes).

A tier lasts `validity_days`; when it ends the member is evaluated again
(tiers.evaluate, as after any purchase): qualifying again renews it; otherwise they keep
it through `grace_days`, and after that move to the tier their qualifying total earns.
Every change is told, with what it takes to keep or regain the tier. Notices are keyed
by the period that ended, and a member's period moves on once reviewed, so running
again tells nobody twice.

Members whose period has ended are found through the index on `tier_valid_until`, a
batch per short transaction (one stops early once it has run its slice).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from domain.config import Programme, Tier
from domain.members.tables import Member
from domain.notices import announce
from domain.points import ledger
from domain.storage.database import Database, UnitOfWork
from domain.tiers import tiers, upgrades

BATCH = 200


def _amount(programme: Programme, value: int) -> Any:
    if programme.tiers.basis == "spend":
        return {"$money": [value, programme.currency]}
    return value


def _unit(programme: Programme) -> dict[str, str]:
    return {"$text": "tier.unit_spend" if programme.tiers.basis == "spend"
            else "tier.unit_points"}


def _day(programme: Programme, moment: datetime) -> dict[str, str]:
    return {"$date": moment.astimezone(programme.zone).date().isoformat()}


async def review(uow: UnitOfWork, programme: Programme, member_id: int, now: datetime) -> str:
    """Re-evaluate one member whose period ended; returns the decision's reason."""
    ladder = programme.tiers
    row = (await uow.session.execute(select(*upgrades.STANDING).where(
        Member.id == member_id))).one()
    period = row.tier_valid_until
    total = await ledger.qualifying_total(uow, member_id, now - timedelta(days=ladder.window_days),
                                          ladder.basis)
    decision = tiers.evaluate(ladder, total, tiers.Standing(row.tier, period),
                              tiers.floor_of(ladder, row.tier_floor, row.paid_floor), now)
    cause = f"review:{period.isoformat() if period else 'none'}"
    await upgrades.apply(uow, programme, row, total, cause, now)
    key = f"tier-review:{member_id}:{period.isoformat() if period else 'none'}"
    current: Tier | None = ladder.by_code(row.tier)
    if decision.reason == "downgrade" and current is not None:
        await announce.tell(uow, member_id, "tier.review_down", {
            "tier": {"$tier": decision.code}, "lost": {"$tier": current.code},
            "needed": _amount(programme, max(current.threshold - total, 0)),
            "unit": _unit(programme)}, f"{key}:down", now)
    elif decision.reason == "grace" and current is not None and period is not None:
        await announce.tell(uow, member_id, "tier.review_grace", {
            "tier": {"$tier": current.code},
            "until": _day(programme, period + timedelta(days=ladder.grace_days)),
            "needed": _amount(programme, max(current.threshold - total, 0)),
            "unit": _unit(programme)}, f"{key}:grace", now)
    elif (decision.reason == "renewed" and decision.valid_until is not None
          and decision.code != ladder.levels[0].code):
        await announce.tell(uow, member_id, "tier.review_renewed", {
            "tier": {"$tier": decision.code}, "until": _day(programme, decision.valid_until)},
            f"{key}:renewed", now)
    return decision.reason


async def run(db: Database, programme: Programme, now: datetime,
              batch: int = BATCH) -> dict[str, int]:
    counts: Counter[str] = Counter()
    after = 0
    while programme.tiers.mode == "up_and_down":
        await db.caught_up()  # every member's rows written: keep the log short
        async with db.uow() as uow:
            ids = list(await uow.session.scalars(
                select(Member.id).where(Member.tier_valid_until <= now,
                                        Member.status != "erased", Member.id > after)
                .order_by(Member.id).limit(batch)))
            taken = 0
            for member_id in ids:
                counts[await review(uow, programme, member_id, now)] += 1
                taken += 1
                if uow.time_up():  # the rest in the next transaction
                    break
            await uow.commit()
        if taken == len(ids) < batch:
            break
        after = ids[taken - 1]
    return {"reviewed": sum(counts.values()), "downgraded": counts["downgrade"],
            "in_grace": counts["grace"], "renewed": counts["renewed"],
            "upgraded": counts["upgrade"]}
