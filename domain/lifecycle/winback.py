"""Win-back coupons: one per lapse episode, and whether it won the member back.

A member who turns "lapsing" (domain/lifecycle/lifecycle.py) gets one coupon for the programme's
win-back reward and a notice. The episode is named by the member's last activity
before it, (member, idle_since), a unique key: running again, twice at once, or on a
second scheduler finds it taken. When they come back, their last activity moves, so
a later lapse is a new episode with a new coupon.

Each run also settles earlier episodes: `returned_at` when the member has been active
since, `won_back_at` (the moment the coupon was used) when they used it, which is what
`results` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update

from domain.config import Programme
from domain.lifecycle.lifecycle import stage_clause
from domain.lifecycle.tables import WinBackEpisode
from domain.members.tables import Member
from domain.notices import announce
from domain.rewards import gifts
from domain.rewards.tables import Coupon
from domain.storage.database import Database, UnitOfWork

BATCH = 1000  # member ids read at a time
# A coupon that expired longer ago than this can no longer turn up used.
SETTLE_HORIZON = timedelta(days=7)
_E = WinBackEpisode


def selection(programme: Programme, now: datetime):
    """Lapsing members we can reach who have no episode for this lapse yet."""
    stmt = select(Member.id, Member.last_active_at).where(
        stage_clause("lapsing", programme.lifecycle, now), Member.status == "active",
        ~exists().where(_E.member_id == Member.id, _E.idle_since == Member.last_active_at))
    if programme.winback.consent_only:
        stmt = stmt.where(Member.marketing_consent.is_(True))
    return stmt


async def offer(uow: UnitOfWork, programme: Programme, reward: str, member_id: int,
                idle_since: datetime, now: datetime) -> bool:
    """Open the episode and give its coupon; False when the episode exists already."""
    episode = await uow.session.scalar(
        uow.upsert(_E).values(member_id=member_id, idle_since=idle_since,
                                        detected_at=now)
        .on_conflict_do_nothing(index_elements=["member_id", "idle_since"]).returning(_E.id))
    if episode is None:
        return False
    coupon = await gifts.give_coupon(uow, programme, member_id, reward, now)
    if coupon is None:  # out of stock: the episode stays, without a coupon
        return True
    await uow.session.execute(update(_E).where(_E.id == episode).values(
        coupon_id=coupon.id, coupon_expires_at=coupon.expires_at))
    await announce.tell(uow, member_id, "winback.offer",
                        {"reward": {"$reward": coupon.reward},
                         "until": {"$date": coupon.expires_at.astimezone(programme.zone)
                                   .date().isoformat()}},
                        f"winback:{episode}", now)
    return True


async def settle(uow: UnitOfWork, now: datetime) -> tuple[int, int]:
    """Mark episodes whose member came back, and coupons that won them back."""
    member = select(Member.last_active_at).where(Member.id == _E.member_id)
    returned = await uow.changed(
        update(_E).where(_E.returned_at.is_(None),
                         exists().where(Member.id == _E.member_id,
                                        Member.last_active_at > _E.idle_since))
        .values(returned_at=member.scalar_subquery()))
    used = select(Coupon.used_at).where(Coupon.id == _E.coupon_id)
    won = await uow.changed(
        update(_E).where(_E.won_back_at.is_(None), _E.coupon_expires_at > now - SETTLE_HORIZON,
                         exists().where(Coupon.id == _E.coupon_id, Coupon.status == "used"))
        .values(won_back_at=used.scalar_subquery()))
    return returned, won


async def run(db: Database, programme: Programme, now: datetime,
              batch: int = BATCH) -> dict[str, int]:
    async with db.uow() as uow:
        returned, won = await settle(uow, now)
        await uow.commit()
    offered = 0
    reward = programme.winback.reward
    if reward is None:
        return {"offered": offered, "returned": returned, "won_back": won}

    async def one(uow: UnitOfWork, member_id: int) -> bool:
        # Still lapsing, still the same lapse, now that this transaction looks.
        still = (await uow.session.execute(selection(programme, now).where(
            Member.id == member_id))).first()
        return still is not None and await offer(uow, programme, reward, member_id,
                                                 still.last_active_at, now)

    after = 0
    while True:
        # Ids only, a page at a time, from a snapshot: the read holds neither the loop
        # nor the write lock, and the job never holds many rows in memory.
        async with db.snapshot() as snap:
            page: list[int] = list((await snap.session.execute(
                selection(programme, now).with_only_columns(Member.id)
                .where(Member.id > after).order_by(Member.id).limit(batch))).scalars())
        if not page:
            break
        after = page[-1]
        # A member at a time (an offer costs a few ms), committing once the slice is run.
        offered += sum(await db.in_turns(page, one))
    return {"offered": offered, "returned": returned, "won_back": won}


@dataclass(frozen=True)
class Results:
    episodes: int
    coupons: int
    returned: int
    won_back: int


async def results(uow: UnitOfWork, since: datetime | None = None) -> Results:
    """How win-back has done: lapses seen, coupons given, members back, coupons used."""
    where = [_E.detected_at >= since] if since is not None else []
    row = (await uow.session.execute(select(
        func.count(), func.count(_E.coupon_id), func.count(_E.returned_at),
        func.count(_E.won_back_at)).where(*where))).one()
    return Results(*(int(v) for v in row))
