"""Several OS processes spending from one member: the database, not an in-process
lock, must keep the balance whole (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from domain.members import members
from domain.points import ledger
from tests.domain.points.test_ledger import balance_and_sum

ROOT = Path(__file__).resolve().parents[2]
WORKERS, TRIES = 4, 15  # 60 attempts of 10 points against 300


async def test_processes_racing_to_redeem_never_overdraw(db, programme):
    now = datetime.now(UTC)
    async with db.uow() as uow:
        member_id = (await members.register(uow, programme, "test", "shared", now)).member.id
        await ledger.post(uow, ledger.Post(member_id=member_id, delta=300, kind="earn",
                                           reason="test", key="seed"), now)
        await uow.commit()
    url = db.engine.url.render_as_string(hide_password=False)
    schema = ""
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            schema = (await conn.exec_driver_sql("SHOW search_path")).scalar()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "tests" / "support" / "redeem_worker.py"), url, schema,
        str(member_id),
        str(w), str(TRIES), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env) for w in range(WORKERS)]
    results = []
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert sum(r["won"] for r in results) == 30
    assert await balance_and_sum(db, member_id) == (0, 0)
