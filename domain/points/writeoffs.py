"""The daily expiry batch: write off expired points for every member who has some due.

`members.next_expiry_at` is indexed, so finding who is due reads only them. Each
batch of members is its own short transaction (it stops early once its slice is spent,
domain/storage/turns.py, so members are answered meanwhile), and `ledger.write_off` is
keyed per lot,
so a run that dies half-way is finished by the next one. A day's run is recorded;
running the same day again returns what it did without doing it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from domain.members.tables import Member
from domain.points import ledger
from domain.points.tables import ExpiryRun
from domain.storage.database import Database

BATCH = 200


@dataclass(frozen=True)
class Summary:
    day: date
    members: int
    points: int
    repeated: bool


async def run(db: Database, day: date, now: datetime, batch: int = BATCH) -> Summary:
    async with db.uow() as uow:
        done = await uow.session.get(ExpiryRun, day)
        if done is not None and done.finished_at is not None:
            return Summary(day, done.members, done.points, repeated=True)
        if done is None:
            uow.session.add(ExpiryRun(day=day, started_at=now, members=0, points=0))
        await uow.commit()
    members = points = 0
    after = 0
    while True:
        await db.caught_up()  # every member's rows written: keep the log short
        async with db.uow() as uow:
            due = list(await uow.session.scalars(
                select(Member.id).where(Member.next_expiry_at <= now, Member.id > after)
                .order_by(Member.id).limit(batch)))
            taken = 0
            for member_id in due:
                expired = await ledger.write_off(uow, member_id, now)
                members += 1 if expired else 0
                points += expired
                taken += 1
                if uow.time_up():
                    break
            await uow.commit()
        if taken == len(due) < batch:
            break
        after = due[taken - 1]
    async with db.uow() as uow:
        record = await uow.session.get_one(ExpiryRun, day)  # written by the first step
        record.finished_at = now
        record.members += members
        record.points += points
        await uow.commit()
        return Summary(day, record.members, record.points, repeated=False)
