"""The daily expiry batch: oldest points first, only members who have some due, once a day."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from domain.members import members
from domain.members.tables import Member
from domain.points import ledger, writeoffs
from domain.points.tables import ExpiryRun, LedgerEntry


async def seed(db, programme, now, user, points, expires):
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", user, now)).member
        await ledger.post(uow, ledger.Post(member_id=member.id, delta=points, kind="earn",
                                           reason="checkin", key=f"seed:{user}",
                                           expires_at=expires), now)
        await uow.commit()
        return member.id


async def test_due_members_are_written_off_once_per_day(db, programme, now):
    due = [await seed(db, programme, now, f"due{i}", 10 + i, now + timedelta(days=1))
           for i in range(5)]
    later = await seed(db, programme, now, "later", 99, now + timedelta(days=30))
    run_at = now + timedelta(days=2)
    summary = await writeoffs.run(db, run_at.date(), run_at, batch=2)  # several batches
    assert (summary.members, summary.points, summary.repeated) == (5, 60, False)
    again = await writeoffs.run(db, run_at.date(), run_at + timedelta(hours=1))
    assert (again.members, again.points, again.repeated) == (5, 60, True)
    async with db.uow() as uow:
        for member_id in due:
            member = await uow.session.get(Member, member_id)
            assert member.points_balance == 0 and member.next_expiry_at is None
        assert (await uow.session.get(Member, later)).points_balance == 99
        expired = await uow.session.scalar(select(func.count()).select_from(LedgerEntry)
                                           .where(LedgerEntry.kind == "expire"))
        assert expired == 5


async def test_a_run_that_died_half_way_is_finished_by_the_next(db, programme, now):
    member_id = await seed(db, programme, now, "a", 10, now + timedelta(days=1))
    run_at = now + timedelta(days=2)
    async with db.uow() as uow:  # a crash after the first member, before finishing
        uow.session.add(ExpiryRun(day=run_at.date(), started_at=run_at, members=0, points=0))
        await ledger.write_off(uow, member_id, run_at)
        await uow.commit()
    await seed(db, programme, now, "b", 7, now + timedelta(days=1))
    summary = await writeoffs.run(db, run_at.date(), run_at)
    assert summary.points == 7 and not summary.repeated
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.sum(Member.points_balance))) == 0


async def test_the_batch_reads_an_index_on_next_expiry():
    assert any(ix.name == "ix_members_next_expiry_at" for ix in Member.__table__.indexes)
