"""Expiry: the daily write-off through the scheduler's job, and reminders remind_days
ahead, once per expiry moment, at most one per remind_gap_days, never for spent points."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.lifecycle import expiry_reminders
from domain.members.tables import Member
from domain.points import ledger
from domain.points.tables import ExpiryRun
from handlers.notices.notices import render_notice
from scheduler.registry import JOBS
from tests.support.lifecycle_helpers import a_member, at, told, with_

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def earn(db, member_id: int, points: int, expires: datetime, key: str) -> None:
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=member_id, delta=points, kind="earn",
                                           reason="checkin", key=key, expires_at=expires), T0)
        await uow.commit()


async def spend(db, member_id: int, points: int, key: str) -> None:
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=member_id, delta=-points, kind="redeem",
                                           reason="redeemed", key=key), T0)
        await uow.commit()


async def test_one_reminder_per_expiry_moment_and_a_gap_between_reminders(db, programme):
    member_id = await a_member(db, programme, T0, "a")
    await earn(db, member_id, 50, T0 + 40 * DAY, "a1")
    await earn(db, member_id, 30, T0 + 45 * DAY, "a2")
    await earn(db, member_id, 20, T0 + 50 * DAY, "a3")
    assert await at(T0 + 9 * DAY, expiry_reminders.run, db, programme) == {"reminded": 0}
    assert await at(T0 + 15 * DAY, expiry_reminders.run, db, programme) == {"reminded": 1}
    (first,) = await told(db, member_id)
    assert first.key == "expiry.reminder"
    assert first.params == {"points": 80, "date": {"$date": "2026-04-10"}}
    # The third lot comes within 30 days on day 20, but the last reminder is 5 days old.
    assert await at(T0 + 16 * DAY, expiry_reminders.run, db, programme) == {"reminded": 0}
    assert await at(T0 + 21 * DAY, expiry_reminders.run, db, programme) == {"reminded": 0}
    assert await at(T0 + 22 * DAY, expiry_reminders.run, db, programme) == {"reminded": 1}
    assert (await told(db, member_id))[1].params["points"] == 100
    # Everything is announced now: nothing more, however often it runs.
    for day in (23, 30, 39):
        assert await at(T0 + day * DAY, expiry_reminders.run, db, programme) == {"reminded": 0}
    assert len(await told(db, member_id)) == 2


async def test_spent_points_are_not_announced_nor_unreachable_members(db, programme):
    spent = await a_member(db, programme, T0, "spent")
    await earn(db, spent, 50, T0 + 20 * DAY, "s1")
    await spend(db, spent, 50, "s2")
    blocked = await a_member(db, programme, T0, "blocked", status="unreachable")
    await earn(db, blocked, 50, T0 + 20 * DAY, "b1")
    assert await at(T0 + 1 * DAY, expiry_reminders.run, db, programme) == {"reminded": 0}
    assert await told(db, spent) == [] and await told(db, blocked) == []


async def test_batches_cover_every_member_and_never_means_no_reminders(db, programme):
    ids = [await a_member(db, programme, T0, f"m{i}") for i in range(5)]
    for i, member_id in enumerate(ids):
        await earn(db, member_id, 10 + i, T0 + 10 * DAY, f"m{i}")
    never = with_(programme, expiry={"policy": "never"})
    assert await at(T0 + DAY, expiry_reminders.run, db, never) == {"reminded": 0}
    assert await at(T0 + DAY, expiry_reminders.run, db, programme, batch=2) == {"reminded": 5}
    assert [len(await told(db, m)) for m in ids] == [1] * 5


async def test_the_reminder_reads_in_each_language(programme):
    params = {"points": 1234, "date": {"$date": "2026-04-10"}}
    en = render_notice("expiry.reminder", params, "en", programme).text
    zh = render_notice("expiry.reminder", params, "zh_Hans", programme).text
    assert "Points expiring soon: 1,234, the first on Apr 10, 2026." in en
    assert "共 1,234 积分，最早于 2026年4月10日 过期" in zh


async def test_the_expiry_job_writes_off_once_a_day_in_the_programmes_zone(db, programme):
    (job,) = [j for j in JOBS if j.name == "expiry"]
    member_id = await a_member(db, programme, T0, "old")
    await earn(db, member_id, 70, T0 + DAY, "old")
    moment = T0 + 2 * DAY + timedelta(hours=16, minutes=10)  # 00:10 the next day in Shanghai
    assert await at(moment, job.run, db, programme) == {"members": 1, "points": 70}
    assert await at(moment + timedelta(hours=1), job.run, db, programme) == {
        "members": 1, "points": 70}  # the day's run, reported again, not repeated
    async with db.uow() as uow:
        assert (await uow.session.get(Member, member_id)).points_balance == 0
        assert await uow.session.get(ExpiryRun, date(2026, 3, 4)) is not None
