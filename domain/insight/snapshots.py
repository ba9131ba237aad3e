"""Figures of the members as they stand: how many, reachable, by tier, by lifecycle
stage, by platform, and the points they hold.

They are states, not movements, so they cannot be rolled up from what was appended:
the job reads every member (in windows of ids, through a snapshot that holds no
lock) and keeps one reading a day, replaced through the day, so a past day keeps the
state it ended in and a period can be compared with the one before it.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select

from domain.config import Lifecycle, Programme
from domain.insight.tables import InsightSnapshot
from domain.lifecycle.lifecycle import Stage, stage_clause
from domain.members.tables import Identity, Member
from domain.storage.database import Database, UnitOfWork

WINDOW = 20_000  # member ids a query counts (a few rows come back)
FRESH = timedelta(hours=2)  # a reading younger than this is used: the job is hourly
Reading = dict[tuple[str, str], int]  # (measure, dimension) -> value

_M = Member
_LOW: Any = bindparam("b_low")
_HIGH: Any = bindparam("b_high")
_PLATFORMS = (select(Identity.platform, func.count(func.distinct(Identity.member_id)))
              .join(_M, _M.id == Identity.member_id)
              .where(Identity.member_id > _LOW, Identity.member_id <= _HIGH,
                     _M.status != "erased")
              .group_by(Identity.platform))


def _standing(rules: Lifecycle, now: datetime) -> Any:
    """Members by status, tier and lifecycle stage, with their points, counted by the
    database a window of ids at a time: the stage by lifecycle's own SQL rule, so no
    row comes back to be judged here (a million members' timestamps parsed in Python
    took most of the job's time)."""
    m = Member.__table__
    judged: tuple[Stage, ...] = ("new", "churned", "lapsing")
    stage = case(*((stage_clause(s, rules, now), s) for s in judged), else_="active")
    return (select(m.c.status, m.c.tier, stage, func.count(),
                   func.coalesce(func.sum(m.c.points_balance), 0))
            .where(m.c.id > _LOW, m.c.id <= _HIGH, m.c.status != "erased")
            .group_by(m.c.status, m.c.tier, stage))


async def read_now(uow: UnitOfWork, programme: Programme, now: datetime) -> Reading:
    """The members as they stand: every member counted, window by window."""
    counts: Counter[tuple[str, str]] = Counter()
    top = int(await uow.scalar(select(func.coalesce(func.max(_M.id), 0))))
    standing = _standing(programme.lifecycle, now)
    for low in range(0, top, WINDOW):
        window = {"b_low": low, "b_high": low + WINDOW}
        for status, tier, stage, members, points in await uow.execute(standing, window):
            counts["members.total", ""] += members
            if status == "active":
                counts["members.reachable", ""] += members
            counts["members.tier", tier or ""] += members
            counts["members.stage", stage] += members
            counts["points.outstanding", ""] += int(points)
        for platform, members in await uow.execute(_PLATFORMS, window):
            counts["members.platform", platform] += members
    counts["members.total", ""] += 0  # said even when there is nobody
    counts["points.outstanding", ""] += 0
    return dict(counts)


async def take(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    """The job: today's reading, replacing an earlier one of today."""
    async with db.snapshot() as snapshot:
        reading = await read_now(snapshot, programme, now)
    day = now.astimezone(programme.zone).date()
    async with db.uow() as uow:
        await uow.execute(delete(InsightSnapshot).where(InsightSnapshot.day == day))
        await uow.execute(InsightSnapshot.__table__.insert(), [
            {"day": day, "measure": m, "dimension": d, "value": v, "taken_at": now}
            for (m, d), v in reading.items()])
        await uow.commit()
    return {"members": reading[("members.total", "")]}


async def as_of(uow: UnitOfWork, day: date) -> tuple[datetime, Reading] | None:
    """The last reading taken on or before `day`, and when it was taken."""
    last = await uow.scalar(select(func.max(InsightSnapshot.day))
                            .where(InsightSnapshot.day <= day))
    if last is None:
        return None
    rows = (await uow.execute(select(InsightSnapshot.measure, InsightSnapshot.dimension,
                                     InsightSnapshot.value, InsightSnapshot.taken_at)
                              .where(InsightSnapshot.day == last))).all()
    return max(r.taken_at for r in rows), {(r.measure, r.dimension): r.value for r in rows}


async def current(uow: UnitOfWork, programme: Programme,
                  now: datetime) -> tuple[datetime, Reading]:
    """Today's reading if it is fresh, else one read now (a programme whose job does
    not run yet: small, as a rule)."""
    found = await as_of(uow, now.astimezone(programme.zone).date())
    if found is not None and now - found[0] < FRESH:
        return found
    return now, await read_now(uow, programme, now)
