"""Every member's RFM cell and churn risk, scored nightly and kept for segments.

A campaign's segment is one SQL condition on the members (domain/campaigns/segments.py),
but an RFM score or a churn risk ranks a member among all the others: so the job scores
everyone from one read (domain/insight/churn.py `report`) and writes the scores a
window of members at a time, each window its own short transaction. A member erased
since the last run loses their row; one who joined since has none until the next run,
and no segment that asks for a score picks them.

The same run keeps what /segments shows (domain/insight/segment_reports.py), with how
well the score foretold churn (churn.evaluate): /segments on a large programme shows
the last run's rather than reading every member, and every purchase a second time,
while an operator waits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select

from domain.config import Programme
from domain.insight import churn, rfm, segment_reports
from domain.insight.tables import InsightMemberScore
from domain.storage.database import Database, UnitOfWork

WINDOW = 1000  # rows a transaction writes
_S = InsightMemberScore.__table__


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    async with db.snapshot() as snapshot:
        found = await churn.report(snapshot, programme, now, top=segment_reports.TOP,
                                   savable_only=True, evaluated=True)
    risk, scored = found.risk.scores, found.rfm.scores
    ids, cells = scored.ids, scored.cells
    at = 0  # where the buyers' arrays stand, walked beside every member's
    for low in range(0, len(risk.ids), WINDOW):
        rows = []
        for i in range(low, min(low + WINDOW, len(risk.ids))):
            member_id = risk.ids[i]
            while at < len(ids) and ids[at] < member_id:
                at += 1
            r = f = m = 0
            segment = None
            if at < len(ids) and ids[at] == member_id:
                r, f, m = rfm.unpack(cells[at])
                segment = rfm.segment_for(r, f, m)
            rows.append({"member_id": member_id, "segment": segment, "recency": r,
                         "frequency": f, "monetary": m, "risk": risk.scores[i],
                         "scored_at": now})
        async with db.window() as uow:  # a million rows written back to back
            insert = uow.upsert(_S)
            await uow.execute(insert.on_conflict_do_update(
                index_elements=["member_id"],
                set_={c: insert.excluded[c] for c in
                      ("segment", "recency", "frequency", "monetary", "risk", "scored_at")}),
                rows)
            await uow.commit()
    async with db.snapshot() as snapshot:
        top = int(await snapshot.scalar(select(func.coalesce(func.max(_S.c.member_id), 0))))
    for low in range(0, top, WINDOW * 10):  # the erased, by windows of ids
        async with db.uow() as uow:
            await uow.execute(_STALE, {"b_low": low, "b_high": low + WINDOW * 10,
                                       "b_now": now})
            await uow.commit()
    async with db.uow() as uow:
        await segment_reports.keep(uow, found.summary(), now)
        await uow.commit()
    return {"members": len(risk.ids), "buyers": len(ids)}


_STALE = delete(_S).where(_S.c.member_id > bindparam("b_low"),
                          _S.c.member_id <= bindparam("b_high"),
                          _S.c.scored_at < bindparam("b_now", type_=_S.c.scored_at.type))


async def last_scored(uow: UnitOfWork) -> datetime | None:
    """When the members were last scored (every row of a run has that run's moment, so
    any row tells); None before the first run."""
    return await uow.scalar(select(_S.c.scored_at).limit(1))
