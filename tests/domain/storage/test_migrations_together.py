"""Workers started together all migrate one database (`memberbot run` migrates at every
start): each must come up, with the schema built once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from domain.storage import schema
from tests.support.processes import own_database, scalar

ROOT = Path(__file__).resolve().parents[3]
WORKERS = 2


async def test_processes_migrating_one_postgresql_at_once_all_succeed(tmp_path):
    """Several processes on SQLite are not a deployment; on PostgreSQL they are."""
    async with own_database("postgresql", tmp_path, "migrate") as url:
        env = {**os.environ, "MEMBERBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        # Separate processes: alembic's context is one per process.
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "db", "upgrade", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            for _ in range(WORKERS)]
        outcomes = [await asyncio.wait_for(p.communicate(), 120) for p in procs]
        failed = [err.decode()[-600:] for p, (_out, err) in zip(procs, outcomes, strict=True)
                  if p.returncode != 0]
        assert failed == []
        assert await scalar(url, "SELECT version_num FROM alembic_version") == schema.head()
        assert await scalar(url, "SELECT count(*) FROM alembic_version") == 1
