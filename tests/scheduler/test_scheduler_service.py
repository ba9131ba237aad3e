"""The scheduler on real APScheduler and a real database: runs on request from any
worker, skips paused fires, survives a failing or unfinished job, makes up a missed
fire, marks a run its dead leader left, never gives twice across double fires and
restarts, and on PostgreSQL lets exactly one of several schedulers lead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import update

from bot.ordering import cancel
from domain.lifecycle import birthdays
from domain.staff import jobs
from domain.staff.tables import JobState
from domain.storage.tables import Base
from scheduler.registry import JOBS, Job
from scheduler.service import Scheduler
from tests.support.lifecycle_helpers import a_member, entries, told

DAILY = 24 * 3600


def nightly(programme):
    return CronTrigger(hour=3, timezone=programme.zone)


class Calls:
    """A job that records when it ran, and can be held until released."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.at: list[datetime] = []
        self.fail = fail
        self.hold: asyncio.Event | None = None

    async def __call__(self, db, programme, now):
        self.at.append(now)
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise self.fail
        return {"given": len(self.at)}


async def until(check: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    """Wait for database state another task writes (there is no event to wait on)."""
    async def poll():
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), within)


async def state(db, name: str) -> JobState:
    async with db.uow() as uow:
        row = await uow.session.get(JobState, name, populate_existing=True)
        uow.session.expunge_all()
        return row


async def ask(db, name: str, verb: str = "run") -> None:
    async with db.uow() as uow:
        now = datetime.now(UTC)
        if verb == "run":
            await jobs.request_run(uow, name, "member:00000001", now)
        else:
            await jobs.set_paused(uow, name, verb == "pause", "member:00000001", now)
        await uow.commit()


class Running:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Scheduler:
        self.task = asyncio.create_task(self.scheduler.run())
        await asyncio.wait_for(self.scheduler.leading.wait(), 15)
        return self.scheduler

    async def __aexit__(self, *exc) -> None:
        await cancel([self.task])


def scheduler(db, programme, *registry: Job, name: str = "test:1") -> Scheduler:
    return Scheduler(db, programme, registry=registry, poll=0.05, name=name)


async def test_a_request_from_any_worker_runs_the_job_and_its_state_is_recorded(
        db, programme):
    calls = Calls()
    job = Job("birthdays", calls, nightly, DAILY)
    async with Running(scheduler(db, programme, job)):
        await until(lambda: _next_set(db, "birthdays"))
        await ask(db, "birthdays")
        await until(lambda: _outcome(db, "birthdays", "ok"))
        async with db.uow() as uow:
            runner = await jobs.runner(uow)
        assert runner.holder == "test:1" and runner.alive(datetime.now(UTC))
    row = await state(db, "birthdays")
    assert len(calls.at) == 1
    assert (row.last_result, row.last_runner, row.run_requested_at) == ({"given": 1}, "test:1",
                                                                        None)
    assert row.next_run_at.astimezone(programme.zone).hour == 3
    async with db.uow() as uow:  # stopped: no heartbeat says a scheduler still runs
        assert await jobs.runner(uow) is None


async def _next_set(db, name: str) -> bool:
    row = await state(db, name)
    return row is not None and row.next_run_at is not None


async def _outcome(db, name: str, outcome: str) -> bool:
    row = await state(db, name)
    return row is not None and row.last_outcome == outcome


async def test_a_paused_job_skips_its_fires_but_runs_when_asked(db, programme):
    calls = Calls()
    every = Job("winback", calls, lambda p: IntervalTrigger(seconds=1), 30)
    async with db.uow() as uow:
        await jobs.ensure(uow, ("winback",), datetime.now(UTC))
        await uow.commit()
    await ask(db, "winback", "pause")
    async with Running(scheduler(db, programme, every)) as sched:
        first_next = sched.next_run("winback")
        await until(lambda: _later_next(db, "winback", first_next))  # a fire went by
        assert calls.at == []
        await ask(db, "winback")
        await until(lambda: _outcome(db, "winback", "ok"))
        assert len(calls.at) == 1
        await ask(db, "winback", "resume")
        await until(_count_at_least(calls, 2))
    assert (await state(db, "winback")).paused is False


async def _later_next(db, name, first):
    row = await state(db, name)
    return row.next_run_at is not None and first is not None and row.next_run_at > first


def _count_at_least(calls: Calls, n: int):
    async def check() -> bool:
        return len(calls.at) >= n
    return check


async def test_a_failing_or_unavailable_job_is_recorded_and_the_rest_go_on(db, programme):
    broken = Calls(fail=RuntimeError("boom"))
    waiting = Calls(fail=NotImplementedError("campaigns are not built yet"))
    fine = Calls()
    registry = (Job("expiry", broken, nightly, DAILY), Job("campaigns", waiting, nightly, 50),
                Job("tier_review", fine, nightly, DAILY))
    async with Running(scheduler(db, programme, *registry)):
        for name in ("expiry", "campaigns", "expiry"):
            await ask(db, name)
            await until(lambda n=name: _finished(db, n))
            await _reset(db, name)
        await ask(db, "tier_review")
        await until(lambda: _outcome(db, "tier_review", "ok"))
    assert len(broken.at) == 2 and len(waiting.at) == 1
    async with db.uow() as uow:
        rows = {s.name: s for s in await jobs.states(uow, datetime.now(UTC))}
        assert rows["expiry"].last_outcome is None  # reset after the check above
        assert rows["tier_review"].last_result == {"given": 1}


async def _finished(db, name):
    row = await state(db, name)
    if row is None or row.last_outcome not in ("failed", "waiting"):
        return False
    expected = "failed" if name == "expiry" else "waiting"
    assert row.last_outcome == expected
    assert ("boom" if name == "expiry" else "not built yet") in row.last_error
    return True


async def _reset(db, name):
    async with db.uow() as uow:
        await uow.session.execute(update(JobState).where(JobState.name == name)
                                  .values(last_outcome=None, last_error=None))
        await uow.commit()


async def test_a_fire_missed_while_nobody_led_is_made_up_at_start(db, programme):
    missed, recent, never = Calls(), Calls(), Calls()
    now = datetime.now(UTC)
    async with db.uow() as uow:
        await jobs.ensure(uow, ("expiry", "winback", "birthdays"), now)
        await uow.session.execute(update(JobState).where(JobState.name == "expiry")
                                  .values(last_started_at=now - timedelta(days=2)))
        await uow.session.execute(update(JobState).where(JobState.name == "winback")
                                  .values(last_started_at=now))
        await uow.commit()
    registry = (Job("expiry", missed, nightly, DAILY), Job("winback", recent, nightly, DAILY),
                Job("birthdays", never, nightly, DAILY))
    async with Running(scheduler(db, programme, *registry)):
        await until(lambda: _outcome(db, "expiry", "ok"))
        await asyncio.sleep(0.3)
    assert (len(missed.at), len(recent.at), len(never.at)) == (1, 0, 0)


async def test_a_run_left_running_by_a_dead_leader_shows_as_interrupted(db, programme):
    held = Calls()
    held.hold = asyncio.Event()
    job = Job("tier_review", held, nightly, DAILY)
    async with Running(scheduler(db, programme, job)):
        await ask(db, "tier_review")
        await until(lambda: _outcome(db, "tier_review", "running"))
    # The leader is gone mid-run; the next one to lead says so.
    async with Running(scheduler(db, programme, Job("tier_review", Calls(), nightly, DAILY),
                                 name="test:2")):
        assert (await state(db, "tier_review")).last_outcome == "interrupted"


async def test_double_fires_and_a_restart_give_each_birthday_once(db, programme, monkeypatch):
    ids = [await a_member(db, programme, datetime(2025, 1, 1, tzinfo=UTC), f"m{i}",
                          birth_month=3, birth_day=10) for i in range(4)]
    (real,) = [j for j in JOBS if j.name == "birthdays"]
    stop_after = {"gifts": 2}
    original = birthdays.give

    async def dies_part_way(uow, programme_, gift, now):
        if stop_after["gifts"] == 0:
            raise ConnectionError("the process died here")
        stop_after["gifts"] -= 1
        return await original(uow, programme_, gift, now)

    async def in_batches_of_one(db_, programme_, now):
        return await birthdays.run(db_, programme_, now, batch=1)

    with time_machine.travel(datetime(2026, 3, 10, 2, tzinfo=UTC), tick=True):
        flaky = Job("birthdays", in_batches_of_one, real.trigger, real.grace_seconds)
        with monkeypatch.context() as patch:
            patch.setattr(birthdays, "give", dies_part_way)
            async with Running(scheduler(db, programme, flaky)):
                await ask(db, "birthdays")
                await until(lambda: _outcome(db, "birthdays", "failed"))
        assert sum([len(await entries(db, m, "birthday")) for m in ids]) == 2
        # Restarted: the schedule fires while an operator asks for a run, and a second
        # scheduler (there should be none on SQLite) runs the job at the same moment.
        runs = Calls()

        async def counted(db_, programme_, now):
            result = await real.run(db_, programme_, now)
            await runs(db_, programme_, now)  # counted once finished
            return result

        twice = Job("birthdays", counted, real.trigger, real.grace_seconds)
        async with Running(scheduler(db, programme, twice, name="test:2")) as sched:
            sched._aps.modify_job("birthdays", next_run_time=datetime.now(programme.zone))
            await ask(db, "birthdays")
            stray = scheduler(db, programme, twice, name="test:3")
            await stray._execute("birthdays", requested=True)
            await until(_count_at_least(runs, 3))
    for member_id in ids:
        assert len(await entries(db, member_id, "birthday")) == 1
        assert len(await told(db, member_id)) == 1


async def test_on_postgresql_one_scheduler_leads_and_another_takes_over(backend, programme):
    if backend.kind != "postgresql":
        pytest.skip("SQLite assumes a single scheduling process")
    db = await backend.empty()
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        one = scheduler(db, programme, Job("birthdays", Calls(), nightly, DAILY), name="one")
        two = scheduler(db, programme, Job("birthdays", Calls(), nightly, DAILY), name="two")
        first = asyncio.create_task(one.run())
        await asyncio.wait_for(one.leading.wait(), 15)
        second = asyncio.create_task(two.run())
        await asyncio.sleep(0.5)  # ten polls: it stays on standby
        assert not two.leading.is_set()
        await cancel([first])
        await asyncio.wait_for(two.leading.wait(), 15)
        async with db.uow() as uow:
            assert (await jobs.runner(uow)).holder == "two"
        await cancel([second])
    finally:
        await db.dispose()
