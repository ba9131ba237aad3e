"""`memberbot scheduler` as real processes. Two against one PostgreSQL: exactly one
holds the advisory lock and runs jobs; `kill -9` it and the other takes over and runs
them. Alone on SQLite: it runs what /jobs asks and stops cleanly on SIGTERM. And
`memberbot run` runs a scheduler beside its platforms."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import run as running
from bot.settings import Settings
from domain.staff import jobs
from domain.staff.tables import JobState
from domain.storage.database import Database
from scheduler.leader import LOCK_CLASS
from tests.support.processes import Child, own_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def database(tmp_path):
    async with own_database("postgresql", tmp_path, "sched") as url:
        yield url


class SchedulerProcess(Child):
    def __init__(self, url: str, tmp: Path, tag: str) -> None:
        self.env = {**os.environ, "MEMBERBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                    "MEMBERBOT_LOG_LEVEL": "INFO"}
        self.log = tmp / f"{tag}.log"
        self.tmp = tmp
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "scheduler", "--poll", "0.2", cwd=self.tmp,
                env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def says(self, words: str) -> bool:
        return words in self.log.read_text(encoding="utf-8", errors="replace")


async def eventually(check, within: float = 60) -> None:
    async def poll():
        while not await check():  # noqa: ASYNC110 - another process writes what we wait for
            await asyncio.sleep(0.1)
    await asyncio.wait_for(poll(), within)


async def test_one_process_leads_and_the_other_takes_over_when_it_is_killed(database,
                                                                           tmp_path):
    db = Database.from_url(database)
    first = SchedulerProcess(database, tmp_path, "first")
    second = SchedulerProcess(database, tmp_path, "second")

    async def holder() -> str | None:
        try:
            async with db.uow() as uow:
                found = await jobs.runner(uow)
        except Exception:  # noqa: BLE001 - the schema is not there yet
            return None
        return found.holder if found is not None else None

    async def held_locks() -> list[int]:
        async with db.engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls "
                "AND granted AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())"), {"cls": LOCK_CLASS})
            return [r[0] for r in rows]

    async def run_and_wait(name: str) -> str:
        asked = datetime.now(UTC)
        async with db.uow() as uow:
            assert await jobs.request_run(uow, name, "test", asked)
            await uow.commit()

        async def done() -> bool:
            async with db.uow() as uow:
                row = await uow.session.get(JobState, name, populate_existing=True)
                return (row.last_outcome == "ok" and row.last_finished_at is not None
                        and row.last_finished_at >= asked)
        await eventually(done)
        async with db.uow() as uow:
            row = await uow.session.get(JobState, name, populate_existing=True)
            return row.last_runner

    try:
        await first.start()
        await eventually(lambda: _is(holder, f":{first.pid}"))
        await second.start()
        await eventually(lambda: _true(second.says("scheduler process started")))
        await asyncio.sleep(1.0)  # five of the standby's attempts to take over
        assert (await holder()).endswith(f":{first.pid}")
        assert len(await held_locks()) == 1
        assert (await run_and_wait("expiry_reminders")).endswith(f":{first.pid}")
        assert not second.says("scheduler leading")

        await first.kill()
        await eventually(lambda: _is(holder, f":{second.pid}"))
        assert second.says("scheduler leading")
        assert (await run_and_wait("tier_review")).endswith(f":{second.pid}")
        assert (await run_and_wait("expiry_reminders")).endswith(f":{second.pid}")
        assert len(await held_locks()) == 1
    finally:
        await first.stop()
        await second.stop()
        await db.dispose()


async def _is(read, suffix: str) -> bool:
    value = await read()
    return value is not None and value.endswith(suffix)


async def _true(value: bool) -> bool:
    return value


async def test_alone_on_sqlite_it_runs_what_is_asked_and_stops_on_sigterm(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    db = Database.from_url(url)
    alone = SchedulerProcess(url, tmp_path, "alone")
    try:
        await alone.start()
        await eventually(lambda: _true(alone.says("scheduler leading")))
        asked = datetime.now(UTC)
        async with db.uow() as uow:
            await jobs.request_run(uow, "winback", "test", asked)
            await uow.commit()

        async def ran() -> bool:
            async with db.uow() as uow:
                row = await uow.session.get(JobState, "winback", populate_existing=True)
                return row.last_finished_at is not None and row.last_finished_at >= asked
        await eventually(ran)
        async with db.uow() as uow:
            row = await uow.session.get(JobState, "winback")
            assert row.last_outcome == "ok" and row.last_runner.endswith(f":{alone.pid}")
            assert row.last_result == {"offered": 0, "returned": 0, "won_back": 0}
        alone.proc.terminate()
        assert await asyncio.wait_for(alone.proc.wait(), 30) == 0
        assert alone.says("scheduler stood down")
    finally:
        await alone.stop()
        await db.dispose()


async def test_memberbot_run_runs_a_scheduler_beside_the_platforms(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"
    settings = Settings(database_url=url, api_key="k" * 32, http_host="127.0.0.1",
                        http_port=0)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(settings, stop))
    db = Database.from_url(url)
    try:
        async def registered() -> bool:
            try:
                async with db.uow() as uow:
                    states = await jobs.states(uow, datetime.now(UTC))
                    return all(s.next_run_at is not None for s in states)
            except Exception:  # noqa: BLE001 - not migrated yet
                return False
        await eventually(registered)
        async with db.uow() as uow:
            assert (await jobs.runner(uow)).alive(datetime.now(UTC))
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 30) == 0
        await db.dispose()


def test_the_cli_names_the_scheduler_and_refuses_an_absurd_poll(tmp_path):
    import subprocess
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEMBERBOT_")},
           "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    assert "scheduler" in cli("--help").stdout
    assert "--poll SECONDS" in cli("scheduler", "--help").stdout
    refused = cli("scheduler", "--poll", "0")
    assert refused.returncode == 2 and "--poll must be between" in refused.stderr
    assert not (tmp_path / "memberbot.db").exists()  # refused before touching anything
