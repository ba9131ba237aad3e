"""`memberbot backup` and `memberbot restore` as an operator runs them: real processes,
beside a bot that goes on answering."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot import backup_cli
from bot.settings import Settings
from domain.members import members
from domain.privacy import erasure
from domain.storage import schema, sqlite_backup
from domain.storage.database import Database
from tests.adapters.cli.live import LOCALE_VARIABLES, ROOT, Memberbot
from tests.domain.storage.test_backup import migrated, rows
from tests.support.api_client import serving, without_promotions

MEMBERS = 5
TILLS = 4


async def memberbot(*args: str, cwd: Path, url: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MEMBERBOT_") and k not in LOCALE_VARIABLES}
    env.update({"PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "MEMBERBOT_DATABASE_URL": url})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def until(condition, within: float = 60) -> None:
    async def wait() -> None:
        while not condition():  # noqa: ASYNC110 - the tills' answers, counted as they come
            await asyncio.sleep(0.01)
    await asyncio.wait_for(wait(), within)


async def test_a_backup_taken_during_a_burst_of_purchases_restores_whole(tmp_path, programme):
    """Tills post purchases without pause before, while and after `memberbot backup`
    runs in a process of its own. The copy, restored, holds every purchase answered
    before the backup started, and every member's balance is the sum of their ledger."""
    path = await migrated(tmp_path / "bot.db")
    url = f"sqlite+aiosqlite:///{path}"
    db = Database.from_url(url)
    plain = without_promotions(programme)
    async with db.uow() as uow:
        for n in range(MEMBERS):
            await members.register(uow, plain, "till-test", f"m{n}", datetime.now(UTC))
        await uow.commit()
    acked: list[str] = []
    stop = asyncio.Event()
    try:
        async with serving(db, plain) as api:
            async def till(t: int) -> None:
                n = 0
                while not stop.is_set():
                    order = f"T{t}-{n}"
                    status, body = await api.post("/api/v1/purchases", {
                        "order_id": order, "member": {"number": str(1 + (t + n) % MEMBERS)},
                        "amount": 1_000 + n, "currency": "CNY"})
                    assert status == 201, body
                    acked.append(order)
                    n += 1

            tills = [asyncio.create_task(till(t)) for t in range(TILLS)]
            await until(lambda: len(acked) >= 40)
            before = set(acked)  # answered before the backup started
            code, out, err = await memberbot("backup", str(tmp_path / "copy.db"),
                                             cwd=tmp_path, url=url)
            assert code == 0, err
            assert "backed up" in out
            answered_meanwhile = len(acked) - len(before)
            after = len(acked)
            await until(lambda: len(acked) >= after + 40)  # and the burst goes on
            stop.set()
            await asyncio.gather(*tills)
    finally:
        await db.dispose()
    assert answered_meanwhile > 0  # members were answered while the backup ran

    code, out, err = await memberbot("restore", str(tmp_path / "copy.db"),
                                     cwd=tmp_path, url=url)
    assert code == 0, err
    assert f"restored {tmp_path / 'copy.db'} to {path}" in out
    restored = {r[0] for r in rows(path, "SELECT order_id FROM purchases")}
    assert before <= restored
    assert restored <= set(acked) and len(restored) < len(acked)  # a copy of its moment
    sums = rows(path, "SELECT m.id, m.points_balance, "
                      "(SELECT coalesce(sum(delta), 0) FROM ledger_entries e "
                      " WHERE e.member_id = m.id) FROM members m")
    assert len(sums) == MEMBERS
    assert all(balance == total for _, balance, total in sums), sums
    assert sum(balance for _, balance, _ in sums) >= 10 * len(restored)
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    db = Database.from_url(url)  # and a bot takes it up again
    try:
        assert await schema.current(db.engine) == schema.head()
    finally:
        await db.dispose()


async def test_a_restore_is_refused_while_a_bot_runs_on_the_database(tmp_path):
    path = await migrated(tmp_path / "bot.db")
    url = f"sqlite+aiosqlite:///{path}"
    code, _, err = await memberbot("backup", str(tmp_path / "copy.db"), cwd=tmp_path, url=url)
    assert code == 0, err
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE since (x)")  # what a restore would undo
    conn.close()
    async with Memberbot("scheduler", cwd=tmp_path,
                         env={"MEMBERBOT_DATABASE_URL": url}) as bot:
        await bot.line("scheduler process started", stream="stderr")
        code, out, err = await memberbot("restore", str(tmp_path / "copy.db"),
                                         cwd=tmp_path, url=url)
        assert code == 1
        assert f"not restored: a memberbot process is using {path}" in err
        assert "stop it first" in err
        assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'since'") \
            == [("since",)]
        assert await bot.stop() == 0
    code, out, err = await memberbot("restore", str(tmp_path / "copy.db"),
                                     cwd=tmp_path, url=url)
    assert code == 0, err
    assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'since'") == []
    assert "kept as" in out


async def test_on_postgresql_both_commands_point_to_pg_dump_and_pg_restore(tmp_path):
    url = "postgresql+asyncpg://memberbot@127.0.0.1:1/memberbot"  # never connected to
    code, out, err = await memberbot("backup", "copy.dump", cwd=tmp_path, url=url)
    assert code == 2 and out == ""
    assert "PostgreSQL" in err and "pg_dump --format=custom" in err
    code, out, err = await memberbot("restore", "copy.dump", cwd=tmp_path, url=url)
    assert code == 2 and "pg_restore" in err
    assert not (tmp_path / "copy.dump").exists()


async def test_a_database_in_memory_has_nothing_to_copy(tmp_path):
    code, _, err = await memberbot("backup", "copy.db", cwd=tmp_path,
                                   url="sqlite+aiosqlite:///:memory:")
    assert code == 2 and "not a file" in err


async def test_a_backup_into_a_folder_gets_a_dated_name(tmp_path):
    path = await migrated(tmp_path / "bot.db")
    (tmp_path / "copies").mkdir()
    code, out, err = await memberbot("backup", "copies", cwd=tmp_path,
                                     url=f"sqlite+aiosqlite:///{path}")
    assert code == 0, err
    [copy] = (tmp_path / "copies").iterdir()
    assert copy.name.startswith("memberbot-") and copy.suffix == ".db"
    assert rows(copy, "SELECT version_num FROM alembic_version") == [(schema.head(),)]


async def test_a_restore_erases_again_whom_the_database_erased_since_the_copy(
        tmp_path, programme, capsys):
    live = await migrated(tmp_path / "bot.db")
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:
        async with db.uow() as uow:
            for name in ("ann", "bob"):
                await members.register(uow, programme, "console", name, datetime.now(UTC))
            await uow.commit()
    finally:
        await db.dispose()
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:  # ann asks to be forgotten after the copy was taken
        async with db.uow() as uow:
            assert await erasure.erase(uow, programme, 1, datetime.now(UTC)) is not None
            await uow.commit()
    finally:
        await db.dispose()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{live}")
    assert await backup_cli.restore(str(copy), settings) == 0
    assert "erased again 1 member(s)" in capsys.readouterr().out
    assert rows(live, "SELECT id, status FROM members ORDER BY id") == [
        (1, "erased"), (2, "active")]
    assert rows(live, "SELECT external_id FROM identities") == [("bob",)]
    assert rows(live, "SELECT actor FROM audit_log WHERE action = 'privacy.erase'") == [
        ("restore",)]
    # The copy itself is as it was: ann is still there, to be erased again by a restore.
    assert rows(copy, "SELECT status FROM members WHERE id = 1") == [("active",)]
