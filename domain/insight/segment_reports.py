"""The figures of /segments as the nightly scoring worked them out, kept so that a
large programme's /segments answers at once.

Working them out reads every member and what each spent: ten seconds at a million
members, too long for an operator to wait in chat, and the nightly scoring
(domain/insight/scores.py) does it anyway. So each run keeps what /segments shows
(churn.Summary: the segments' figures, the churn totals, the members at highest risk
among those a win-back may still bring back, and how well the score foretold churn)
under the moment it ran. Runs older than KEEP_DAYS are pruned by the next one. A small
programme's /segments works the figures out as it answers, and shows the last look
back kept (`last_look_back`), which takes a second read of every purchase.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from domain.config import Programme
from domain.insight import churn, rfm
from domain.insight.tables import (
    InsightLookBack,
    InsightSegmentAtRisk,
    InsightSegmentFigure,
    InsightSegmentReport,
)
from domain.members.tables import Member
from domain.storage.database import UnitOfWork

TOP = 10  # members at highest risk kept: as many as /segments lists
KEEP_DAYS = 30
_R = InsightSegmentReport.__table__
_F = InsightSegmentFigure.__table__
_A = InsightSegmentAtRisk.__table__
_LOOK = InsightLookBack.__table__
_COUNTS = ("members", "true_positives", "false_positives", "false_negatives", "true_negatives")
_AT_RISK = ("member_id", "score", "idle_days", "usual_gap_days", "reachable", "winback")


async def keep(uow: UnitOfWork, found: churn.Summary, now: datetime) -> None:
    """Keep `found` as the run of `now` (replacing one kept at that moment), and prune
    the runs older than KEEP_DAYS."""
    old = now - timedelta(days=KEEP_DAYS)
    for table in (_F, _A, _R, _LOOK):  # the reports last: the others name them
        await uow.execute(delete(table).where(
            (table.c.scored_at == now) | (table.c.scored_at < old)))
    judged = found.evaluation
    if judged is not None:
        await uow.execute(_LOOK.insert().values(
            scored_at=now, as_of=judged.as_of, until=judged.until,
            threshold=judged.threshold, **{c: getattr(judged, c) for c in _COUNTS}))
    figures, risk = found.rfm, found.risk
    await uow.execute(_R.insert().values(
        scored_at=now, buyers=figures.members, revenue=figures.revenue,
        threshold=risk.threshold, members=risk.members, at_risk=risk.at_risk,
        reached=risk.reached))
    await uow.execute(_F.insert(), [
        {"scored_at": now, "code": s.code, "members": s.members, "revenue": s.revenue}
        for s in figures.segments])
    if risk.top:
        await uow.execute(_A.insert(), [
            {"scored_at": now, "rank": rank, **{c: getattr(member, c) for c in _AT_RISK}}
            for rank, member in enumerate(risk.top)])


async def last(uow: UnitOfWork) -> churn.Summary | None:
    """The last kept figures (their `at` is when the run worked them out), with the
    look back that run kept; None before the first run."""
    report = (await uow.execute(
        select(_R).order_by(_R.c.scored_at.desc()).limit(1))).first()
    if report is None:
        return None
    at = report.scored_at
    counted = {row.code: row for row in await uow.execute(select(_F).where(_F.c.scored_at == at))}
    segments = tuple(rfm.SegmentFigure(code, int(counted[code].members),
                                       int(counted[code].revenue))
                     if code in counted else rfm.SegmentFigure(code, 0, 0)
                     for code in rfm.SEGMENTS)
    top = tuple(churn.AtRisk(**{c: getattr(row, c) for c in _AT_RISK})
                for row in await uow.execute(
                    select(_A).where(_A.c.scored_at == at).order_by(_A.c.rank)))
    looked = (await uow.execute(select(_LOOK).where(_LOOK.c.scored_at == at))).first()
    return churn.Summary(
        rfm=rfm.Figures(at=at, members=int(report.buyers), revenue=int(report.revenue),
                        segments=segments),
        risk=churn.RiskFigures(at=at, threshold=report.threshold,
                               members=int(report.members), at_risk=int(report.at_risk),
                               reached=int(report.reached), top=top),
        evaluation=None if looked is None else _evaluation(looked))


async def last_look_back(uow: UnitOfWork) -> tuple[datetime, churn.Evaluation] | None:
    """The last look back the scoring kept, with when; None before the first run."""
    row = (await uow.execute(select(_LOOK).order_by(_LOOK.c.scored_at.desc()).limit(1))).first()
    return None if row is None else (row.scored_at, _evaluation(row))


def _evaluation(row: Any) -> churn.Evaluation:
    return churn.Evaluation(row.as_of, row.until, row.threshold,
                            *(int(getattr(row, c)) for c in _COUNTS))


LIVE = 50_000  # members: up to here /segments works the figures out as it asks


@dataclass(frozen=True)
class Shown:
    """What /segments shows. `figures` is None for a large programme before the first
    night's scoring; `kept` says they are the scoring's (their `at` says when); a look
    back kept by the scoring has its moment in `looked_back_at`."""

    figures: churn.Summary | None
    kept: bool
    looked_back_at: datetime | None


async def shown(uow: UnitOfWork, programme: Programme, now: datetime, *,
                top: int = TOP) -> Shown:
    """The figures for /segments (the module's rule). `uow` is best a snapshot."""
    size = int(await uow.scalar(select(func.coalesce(func.max(Member.id), 0))))
    if size > LIVE:  # ids given so far: a cheap bound on the members
        found = await last(uow)
        return Shown(found, found is not None,
                     None if found is None or found.evaluation is None else found.rfm.at)
    report = (await churn.report(uow, programme, now, top=top, savable_only=True,
                                 evaluated=False)).summary()
    looked = await last_look_back(uow)
    if looked is not None:
        return Shown(replace(report, evaluation=looked[1]), False, looked[0])
    return Shown(replace(report, evaluation=await churn.evaluate(uow, programme, now)),
                 False, None)
