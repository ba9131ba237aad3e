"""Reminders before points expire: `remind_days` ahead, once for each expiry moment.

Candidates come from `members.next_expiry_at` (indexed), then each batch's lots are
replayed from the ledger in one query (domain/points/lots.py: the same arithmetic as /points
and the write-off). A member's reminders reach as far as `covered_until`; a reminder is
sent when a lot expiring beyond it comes within `remind_days`, and then covers every lot
up to the latest one in the window, so no moment is announced twice. Rolling expiry
gives a daily customer a new moment every day, so reminders are at least
`remind_gap_days` apart. The notice key is the new reach, so a run repeated or racing
another queues nothing twice. A batch's transaction stops once it has run its slice
(domain/storage/turns.py), so members are answered while the job runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, select

from domain.config import Programme
from domain.lifecycle.birthdays import zone_of
from domain.lifecycle.tables import ExpiryReminder
from domain.members.tables import Member
from domain.notices import announce
from domain.points import lots
from domain.points.tables import LedgerEntry
from domain.storage.database import Database, UnitOfWork

BATCH = 200
STEP = 8  # members whose ledgers are replayed together


async def _expiring(uow: UnitOfWork, member_ids: list[int], now: datetime,
                    horizon: datetime) -> dict[int, dict[datetime, int]]:
    """Member -> {expiry moment: points still in lots expiring then}, within the window."""
    moves: dict[int, list[lots.Movement]] = defaultdict(list)
    for member_id, entry, delta, created_at, expires_at, lot_id in await uow.session.execute(
            select(LedgerEntry.member_id, LedgerEntry.id, LedgerEntry.delta,
                   LedgerEntry.created_at, LedgerEntry.expires_at, LedgerEntry.lot_id)
            .where(LedgerEntry.member_id.in_(member_ids))):
        moves[member_id].append(lots.Movement(entry, delta, created_at, expires_at, lot_id))
    out: dict[int, dict[datetime, int]] = {}
    for member_id, entries in moves.items():
        soon: dict[datetime, int] = defaultdict(int)
        for lot in lots.replay(entries):
            if lot.remaining and lot.expires_at and now < lot.expires_at <= horizon:
                soon[lot.expires_at] += lot.remaining
        if soon:
            out[member_id] = dict(soon)
    return out


async def remind_batch(uow: UnitOfWork, programme: Programme,
                       rows: Sequence[Row[int, str | None]], now: datetime) -> int:
    rules = programme.expiry
    horizon = now + timedelta(days=rules.remind_days)
    ids = [r.id for r in rows]
    reach = {r.member_id: r for r in await uow.session.scalars(
        select(ExpiryReminder).where(ExpiryReminder.member_id.in_(ids)))}
    expiring = await _expiring(uow, ids, now, horizon)
    sent = 0
    for row in rows:
        soon = expiring.get(row.id)
        mark = reach.get(row.id)
        if not soon or (mark is not None and (
                max(soon) <= mark.covered_until
                or mark.reminded_at > now - timedelta(days=rules.remind_gap_days))):
            continue
        covered = max(soon)
        first = min(soon).astimezone(zone_of(row.timezone, programme.timezone)).date()
        await announce.tell(uow, row.id, "expiry.reminder",
                            {"points": sum(soon.values()), "date": {"$date": first.isoformat()}},
                            f"expiry-reminder:{row.id}:{covered.isoformat()}", now)
        values = dict(covered_until=covered, reminded_at=now)
        await uow.session.execute(
            uow.upsert(ExpiryReminder).values(member_id=row.id, **values)
            .on_conflict_do_update(index_elements=["member_id"], set_=values))
        sent += 1
    return sent


async def run(db: Database, programme: Programme, now: datetime,
              batch: int = BATCH) -> dict[str, int]:
    if programme.expiry.policy == "never":
        return {"reminded": 0}
    horizon = now + timedelta(days=programme.expiry.remind_days)
    reminded, after = 0, 0
    while True:
        await db.caught_up()  # every member's rows written: keep the log short
        async with db.uow() as uow:
            rows = (await uow.session.execute(
                select(Member.id, Member.timezone).where(
                    Member.next_expiry_at > now, Member.next_expiry_at <= horizon,
                    Member.status == "active", Member.id > after)
                .order_by(Member.id).limit(batch))).all()
            # A few members at a time, until the transaction has run its slice.
            taken = 0
            while taken < len(rows):
                step = rows[taken:taken + STEP]
                reminded += await remind_batch(uow, programme, step, now)
                taken += len(step)
                if uow.time_up():
                    break
            await uow.commit()
        if taken == len(rows) < batch:
            return {"reminded": reminded}
        after = rows[taken - 1].id
