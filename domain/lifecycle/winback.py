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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, func, select, update

from domain.config import Programme
from domain.lifecycle.lifecycle import stage_clause
from domain.lifecycle.tables import WinBackEpisode
from domain.members.tables import Member
from domain.notices import announce
from domain.rewards import gifts
from domain.rewards.tables import Coupon
from domain.storage.database import Database, UnitOfWork

BATCH = 1000  # a window of member ids read at a time (its rows are handled on the loop)
# Members offered by the first set of statements; later slices are sized by how long
# it took (Database.in_slices). On SQLite a slice holds the loop while it runs.
SLICE = {"sqlite": 8, "postgresql": 50}
# A coupon that expired longer ago than this can no longer turn up used.
SETTLE_HORIZON = timedelta(days=7)
_E = WinBackEpisode
_T = WinBackEpisode.__table__  # a core table: the slice's coupons go in one executemany


def selection(programme: Programme, now: datetime):
    """Lapsing members we can reach who have no episode for this lapse yet."""
    stmt = select(Member.id, Member.last_active_at).where(
        stage_clause("lapsing", programme.lifecycle, now), Member.status == "active",
        ~exists().where(_E.member_id == Member.id, _E.idle_since == Member.last_active_at))
    if programme.winback.consent_only:
        stmt = stmt.where(Member.marketing_consent.is_(True))
    return stmt


# What the selection judges a member by: a member whose row still reads the same when
# their slice runs is still in the lapse the snapshot found.
JUDGED = (Member.last_active_at, Member.joined_at, Member.purchase_count,
          Member.first_purchase_at, Member.last_purchase_at, Member.status,
          Member.marketing_consent)


async def offer(uow: UnitOfWork, programme: Programme, reward: str, found: Sequence[Any],
                now: datetime) -> int:
    """Open the episodes of members the snapshot found lapsing (rows of id and JUDGED)
    and give their coupons, in a few statements for the whole slice. Returns the
    episodes opened; one that exists already (a second run) is left as it is."""
    # Whoever changed since the snapshot is left for the next run to judge. Read by
    # primary key: the selection itself, run again per slice, is planned around its
    # last_active_at range and would read the whole range each time.
    seen = {row[0]: tuple(row[1:]) for row in found}
    now_rows = await uow.session.execute(select(Member.id, *JUDGED).where(
        Member.id.in_(list(seen))).order_by(Member.id))
    still = [row for row in now_rows if seen.get(row[0]) == tuple(row[1:])]
    if not still:
        return 0
    opened = (await uow.session.execute(
        uow.upsert(_E).values([dict(member_id=r.id, idle_since=r.last_active_at,
                                    detected_at=now) for r in still])
        .on_conflict_do_nothing(index_elements=["member_id", "idle_since"])
        .returning(_E.id, _E.member_id))).all()
    episode_of = {member_id: episode for episode, member_id in opened}
    # Out of stock: the episodes stay, without a coupon.
    given = await gifts.give_coupons(uow, programme, sorted(episode_of), reward, now)
    if not given:
        return len(opened)
    await uow.session.execute(
        update(_T).where(_T.c.id == bindparam("b_id"))
        .values(coupon_id=bindparam("b_coupon"),
                coupon_expires_at=bindparam("b_until", type_=_T.c.coupon_expires_at.type)),
        [{"b_id": episode_of[m], "b_coupon": c, "b_until": until}
         for m, (c, until) in given.items()])
    day = next(iter(given.values()))[1].astimezone(programme.zone).date().isoformat()
    await announce.tell_many(uow, [
        (m, "winback.offer", {"reward": {"$reward": reward}, "until": {"$date": day}},
         f"winback:{episode_of[m]}") for m in given], now)
    return len(opened)


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

    async with db.snapshot() as snap:
        top = await snap.scalar(select(func.max(Member.id))) or 0
    # A window of member ids at a time, from a snapshot: the read holds neither the
    # loop nor the write lock, and the job never holds many rows in memory. A window,
    # not "the next page after this id": PostgreSQL's generic plan for that reads the
    # whole last_active_at range and sorts it for every page.
    for low in range(0, top, batch):
        async with db.snapshot() as snap:
            page = list(await snap.session.execute(
                selection(programme, now).with_only_columns(Member.id, *JUDGED)
                .where(Member.id > low, Member.id <= low + batch).order_by(Member.id)))
        offered += sum(await db.in_slices(
            page, lambda uow, rows: offer(uow, programme, reward, rows, now),
            SLICE.get(db.dialect, 8)))
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
