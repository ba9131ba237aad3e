"""Scheduled jobs as operators see them: state in the database, steered from any worker.

The process that schedules (scheduler/) writes when each job runs next and how its
last run went; /jobs on any worker reads that, and pausing, resuming or asking for a
run are row updates the scheduler picks up within seconds. Every operator action is
audited here, so chat and any other caller leave the same trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from domain.errors import Refused
from domain.staff import audit
from domain.staff.tables import JobState, SchedulerRunner
from domain.storage.database import UnitOfWork

NAMES = ("birthdays", "winback", "expiry", "expiry_reminders", "tier_review", "campaigns",
         "community", "surveys", "support", "rollups", "standing", "scores",
         "report", "erasure", "retention", "membership", "backup")
RUNNER = "scheduler"
# A scheduler says it is alive at least this often; older means none is running.
HEARTBEAT = timedelta(seconds=60)


class JobRefused(Refused):
    pass


@dataclass(frozen=True)
class Runner:
    holder: str
    started_at: datetime
    seen_at: datetime

    def alive(self, now: datetime) -> bool:
        return now - self.seen_at <= 2 * HEARTBEAT


def known(name: str) -> str:
    if name not in NAMES:
        raise JobRefused("unknown_job", name=name[:32])
    return name


async def ensure(uow: UnitOfWork, names: tuple[str, ...], now: datetime) -> None:
    await uow.session.execute(
        uow.upsert(JobState).on_conflict_do_nothing(index_elements=["name"]),
        [dict(name=n, paused=False, last_result={}, updated_at=now) for n in names])


async def states(uow: UnitOfWork, now: datetime) -> list[JobState]:
    """Every job, in catalogue order; a job no scheduler has registered yet gets a
    blank row (not written)."""
    rows = {j.name: j for j in await uow.session.scalars(select(JobState))}
    return [rows.get(n) or JobState(name=n, paused=False, last_result={}, updated_at=now)
            for n in NAMES]


async def state(uow: UnitOfWork, name: str, now: datetime) -> JobState:
    await ensure(uow, (known(name),), now)
    job = await uow.session.get(JobState, name, populate_existing=True)
    assert job is not None  # ensure() just wrote it if it was missing
    return job


async def set_paused(uow: UnitOfWork, name: str, paused: bool, actor: str,
                     now: datetime) -> bool:
    """False when it already was so (nothing changes, nothing is audited)."""
    job = await state(uow, name, now)
    if job.paused == paused:
        return False
    job.paused, job.updated_at = paused, now
    await audit.record(uow, actor, "job.pause" if paused else "job.resume", name, {}, now)
    return True


async def request_run(uow: UnitOfWork, name: str, actor: str, now: datetime) -> bool:
    """Ask the scheduler to run the job now (even if paused: someone asked). False
    when a request is already waiting."""
    job = await state(uow, name, now)
    if job.run_requested_at is not None:
        return False
    job.run_requested_at, job.requested_by, job.updated_at = now, actor[:64], now
    await audit.record(uow, actor, "job.run", name, {}, now)
    return True


# --- the scheduler's side ----------------------------------------------------------

async def take_requests(uow: UnitOfWork) -> list[str]:
    """Names of jobs someone asked to run; the requests are cleared as they are taken."""
    asked = list(await uow.session.scalars(select(JobState.name).where(
        JobState.run_requested_at.is_not(None)).order_by(JobState.run_requested_at)))
    if asked:
        await uow.session.execute(update(JobState).where(JobState.name.in_(asked))
                                  .values(run_requested_at=None))
    return asked


async def interrupted(uow: UnitOfWork, now: datetime) -> None:
    """A new leader starts: runs the last one left "running" died with it."""
    await uow.session.execute(update(JobState).where(JobState.last_outcome == "running")
                              .values(last_outcome="interrupted", updated_at=now))


async def paused(uow: UnitOfWork, name: str) -> bool:
    return bool(await uow.session.scalar(select(JobState.paused).where(JobState.name == name)))


async def started(uow: UnitOfWork, name: str, runner: str, now: datetime) -> None:
    await uow.session.execute(update(JobState).where(JobState.name == name).values(
        last_started_at=now, last_outcome="running", last_runner=runner[:64], updated_at=now))


async def finished(uow: UnitOfWork, name: str, outcome: str, result: dict[str, Any],
                   error: str | None, next_run_at: datetime | None, now: datetime) -> None:
    await uow.session.execute(update(JobState).where(JobState.name == name).values(
        last_finished_at=now, last_outcome=outcome, last_result=result,
        last_error=(error or "")[:200] or None, next_run_at=next_run_at, updated_at=now))


async def scheduled(uow: UnitOfWork, next_runs: dict[str, datetime | None],
                    now: datetime) -> None:
    for name, at in next_runs.items():
        await uow.session.execute(update(JobState).where(JobState.name == name)
                                  .values(next_run_at=at, updated_at=now))


async def beat(uow: UnitOfWork, holder: str, started_at: datetime, now: datetime) -> None:
    """The scheduling process is alive (and which one it is)."""
    values = dict(holder=holder[:64], started_at=started_at, seen_at=now)
    await uow.session.execute(
        uow.upsert(SchedulerRunner).values(name=RUNNER, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values))


async def stood_down(uow: UnitOfWork, holder: str) -> None:
    """The scheduling process `holder` stopped leading: no heartbeat stays behind to
    say a scheduler runs (a campaign set for later would not be warned about)."""
    await uow.session.execute(delete(SchedulerRunner).where(
        SchedulerRunner.name == RUNNER, SchedulerRunner.holder == holder[:64]))


async def runner(uow: UnitOfWork) -> Runner | None:
    row = await uow.session.get(SchedulerRunner, RUNNER, populate_existing=True)
    return Runner(row.holder, row.started_at, row.seen_at) if row is not None else None
