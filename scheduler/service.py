"""The scheduling process: stand by until leading, then run the jobs on APScheduler.

`run()` loops for the life of the process. A standby tries to lead every `poll`
seconds. The leader registers every job with APScheduler's AsyncIOScheduler (coalesced,
with a misfire grace far above the 1-second default), makes up a fire it missed while
nobody led, and every `poll` seconds takes run requests from /jobs, checks that it
still holds the lock, and says it is alive. Losing the lock stops every job and goes
back to standing by; jobs are idempotent by domain keys, so a run cut short is simply
done again by whoever leads next.

Job state (next run, last run, outcome) is written to the database for /jobs; a job
paused there is skipped when it fires, though an explicit run request still runs it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain import monitoring
from domain.config import Programme
from domain.staff import jobs
from domain.storage.database import Database
from scheduler.leader import Leadership
from scheduler.registry import JOBS, Job

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


class Scheduler:
    def __init__(self, db: Database, programme: Programme, *,
                 registry: tuple[Job, ...] = JOBS, poll: float = POLL_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 name: str | None = None) -> None:
        self.db = db
        self.programme = programme
        self.registry = {job.name: job for job in registry}
        self.poll = poll
        self.clock = clock
        self.name = name or identity()
        self.leadership = Leadership(db)
        self.leading = asyncio.Event()
        self._aps: AsyncIOScheduler | None = None
        self._runs: set[asyncio.Task[Any]] = set()
        self._locks = {name: asyncio.Lock() for name in self.registry}
        self._warned: set[str] = set()

    async def run(self) -> None:
        """Stand by, lead, and stand by again if the lead is lost; until cancelled."""
        try:
            while True:
                try:
                    if await self.leadership.acquire():
                        await self._lead()
                except Exception:  # noqa: BLE001 - the database went away: try again later
                    log.exception("scheduler failed; standing by", extra={"runner": self.name})
                    await self.leadership.release()
                await asyncio.sleep(self.poll)
        finally:
            await self._stop()
            await self.leadership.release()

    async def _lead(self) -> None:
        started = self.clock()
        log.info("scheduler leading", extra={"runner": self.name})
        async with self.db.uow() as uow:
            await jobs.ensure(uow, tuple(self.registry), started)
            await jobs.interrupted(uow, started)  # whatever ran under a leader now gone
            await jobs.beat(uow, self.name, started, started)
            states = {s.name: s for s in await jobs.states(uow, started)}
            await uow.commit()
        self._start(states)
        self.leading.set()
        last_beat = started
        try:
            while await self.leadership.holding():
                now = self.clock()
                async with self.db.uow() as uow:
                    asked = await jobs.take_requests(uow)
                    if (now - last_beat) * 2 >= jobs.HEARTBEAT:
                        await jobs.beat(uow, self.name, started, now)
                        last_beat = now
                    await uow.commit()
                for name in asked:
                    if name in self.registry:
                        self._spawn(name, requested=True)
                await asyncio.sleep(self.poll)
        finally:
            self.leading.clear()
            await self._stop()
            await self._stood_down()
            log.info("scheduler stood down", extra={"runner": self.name})

    async def _stood_down(self) -> None:
        try:
            async with self.db.uow() as uow:
                await jobs.stood_down(uow, self.name)
                await uow.commit()
        except Exception:  # noqa: BLE001 - the heartbeat then just ages out
            log.warning("could not clear the scheduler's heartbeat",
                        extra={"runner": self.name})

    def _start(self, states: dict[str, Any]) -> None:
        zone = self.programme.zone
        aps = AsyncIOScheduler(timezone=zone, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
        now = datetime.now(zone)
        for name, job in self.registry.items():
            trigger = job.trigger(self.programme)
            state = states.get(name)
            last = state.last_started_at if state is not None else None
            # A fire due since the last run was missed (nobody led): run it now.
            missed = last is not None and (
                (nxt := trigger.get_next_fire_time(None, last.astimezone(zone))) is not None
                and nxt <= now)
            options = {"next_run_time": now} if missed else {}
            aps.add_job(self._fire, trigger, args=[name], id=name, name=name,
                        misfire_grace_time=job.grace_seconds, **options)
        aps.start()
        self._aps = aps
        self._spawn_record_next()

    async def _stop(self) -> None:
        aps, self._aps = self._aps, None
        if aps is not None and aps.running:
            aps.shutdown(wait=False)
        runs = list(self._runs)
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    def _spawn(self, name: str, requested: bool) -> None:
        task = asyncio.create_task(self._execute(name, requested))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def _spawn_record_next(self) -> None:
        task = asyncio.create_task(self._record_next())
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    async def _fire(self, name: str) -> None:
        """What APScheduler calls; runs as one of our tasks so stopping can cancel it."""
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        try:
            await self._execute(name, requested=False)
        finally:
            if task is not None:
                self._runs.discard(task)

    def next_run(self, name: str) -> datetime | None:
        aps = self._aps
        job = aps.get_job(name) if aps is not None else None
        at = getattr(job, "next_run_time", None) if job is not None else None
        return at.astimezone(UTC) if at is not None else None

    async def _record_next(self) -> None:
        await asyncio.sleep(0)  # APScheduler computes next run times when it starts
        async with self.db.uow() as uow:
            await jobs.scheduled(uow, {n: self.next_run(n) for n in self.registry},
                                 self.clock())
            await uow.commit()

    async def _execute(self, name: str, requested: bool) -> None:
        job = self.registry[name]
        async with self._locks[name]:
            now = self.clock()
            async with self.db.uow() as uow:
                if not requested and await jobs.paused(uow, name):
                    await jobs.scheduled(uow, {name: self.next_run(name)}, now)
                    await uow.commit()
                    log.info("job paused; skipped", extra={"job": name})
                    monitoring.job_ran(name, "skipped", 0.0)
                    return
                await jobs.started(uow, name, self.name, now)
                await uow.commit()
            result: dict[str, Any] = {}
            error = None
            began = time.perf_counter()
            try:
                result = await job.run(self.db, self.programme, now)
                outcome = "ok"
            except NotImplementedError as exc:
                outcome, error = "waiting", str(exc) or "not implemented yet"
                if name not in self._warned:
                    self._warned.add(name)
                    log.info("job not available yet", extra={"job": name, "error": error})
            except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the rest
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"
                log.exception("job failed", extra={"job": name})
            else:
                log.info("job done", extra={"job": name, "result": result})
            monitoring.job_ran(name, outcome, time.perf_counter() - began)
            async with self.db.uow() as uow:
                await jobs.finished(uow, name, outcome, result, error, self.next_run(name),
                                    self.clock())
                await uow.commit()
