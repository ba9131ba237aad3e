"""Backups of a SQLite database while it is used, and restores that check what they
put back (domain.storage.sqlite_backup, sqlite_in_use, backups)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text

from bot.app import lifespan
from bot.settings import Settings
from domain import config
from domain.storage import backups, schema, sqlite_backup, sqlite_checkpoints, sqlite_in_use
from domain.storage.database import Database
from scheduler.registry import JOBS

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
_MIGRATED: dict[str, Path] = {}


async def migrated(path: Path, revision: str = "head") -> Path:
    """A database file at `revision`, as `memberbot db upgrade` leaves it (each
    revision built once per session, then copied)."""
    if revision not in _MIGRATED:
        made = path.with_name(f"template-{revision}.db")
        db = Database.from_url(f"sqlite+aiosqlite:///{made}")
        try:
            await schema.upgrade(db.engine, revision, phone_country_code=86)
        finally:
            await db.dispose()
        _MIGRATED[revision] = made
    shutil.copyfile(_MIGRATED[revision], path)
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def note(path: Path, text: str) -> None:
    """A row of our own in the database, to tell one copy from another."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS note (text TEXT)")
        conn.execute("INSERT INTO note VALUES (?)", (text,))
    finally:
        conn.close()


def exists(path: Path | str) -> bool:
    return Path(path).exists()


def size(path: Path) -> int:
    return path.stat().st_size


def damage(copy: Path) -> None:
    """Bytes overwritten in the middle third of the file: tables' pages, not the header."""
    page = rows(copy, "PRAGMA page_size")[0][0]
    pages = copy.stat().st_size // page
    with open(copy, "r+b") as f:
        for n in range(pages // 3, 2 * pages // 3):
            f.seek(n * page + 8)
            f.write(b"\xa5" * 64)


@pytest.fixture
async def live(tmp_path) -> Path:
    path = await migrated(tmp_path / "live.db")
    note(path, "live")
    return path


async def test_a_copy_needs_no_write_lock_and_holds_only_what_was_committed(live, tmp_path):
    """Another connection holds the write lock (BEGIN IMMEDIATE, a row not yet
    committed) for the whole backup: the copy neither waits for it nor sees the row."""
    writer = sqlite3.connect(live, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO note VALUES ('uncommitted')")
        size = await asyncio.wait_for(
            sqlite_backup.backup(live, tmp_path / "copy.db"), sqlite_backup.BUSY_S / 2)
        writer.execute("COMMIT")
    finally:
        writer.close()
    copy = tmp_path / "copy.db"
    assert size == copy.stat().st_size > 0
    assert rows(copy, "SELECT text FROM note") == [("live",)]
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one file, no log beside it
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert not list(tmp_path.glob("copy.db?*"))  # no .partial, -wal or -journal left


async def test_a_copy_replaces_an_older_one_but_never_the_database(live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    note(live, "later")
    await sqlite_backup.backup(live, copy)
    assert rows(copy, "SELECT text FROM note") == [("live",), ("later",)]
    with pytest.raises(sqlite_backup.Refused, match="the database itself"):
        await sqlite_backup.backup(live, live)


async def test_a_restore_puts_the_copy_back_and_keeps_what_it_replaced(live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    note(live, "after the copy")
    done = await sqlite_backup.restore(live, copy)
    assert done.revision == schema.head() and done.upgraded_from is None
    assert rows(live, "SELECT text FROM note") == [("live",)]
    assert done.kept is not None
    assert rows(done.kept, "SELECT text FROM note") == [("live",), ("after the copy",)]
    again = await sqlite_backup.restore(live, copy)  # the first safety copy stays
    assert again.kept is not None and again.kept != done.kept
    assert rows(done.kept, "SELECT text FROM note") == [("live",), ("after the copy",)]
    assert rows(again.kept, "SELECT text FROM note") == [("live",)]
    assert not exists(f"{live}-wal") and not exists(f"{live}-shm")
    assert not list(tmp_path.glob("live.db-restoring*"))
    # and a bot opens it as ever
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:
        assert await schema.current(db.engine) == schema.head()
    finally:
        await db.dispose()


async def test_a_restore_waits_for_no_one_while_a_memberbot_process_holds_the_database(
        live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    note(live, "kept")
    with sqlite_in_use.using(live), pytest.raises(sqlite_in_use.InUse,
                                                  match="a memberbot process is using"):
        await sqlite_backup.restore(live, copy)
    assert rows(live, "SELECT text FROM note") == [("live",), ("kept",)]
    assert not list(live.parent.glob(f"{live.name}{sqlite_backup.BEFORE}*"))
    await sqlite_backup.restore(live, copy)  # once it is let go
    assert rows(live, "SELECT text FROM note") == [("live",)]


async def test_a_restore_is_refused_while_another_program_has_the_database_open(
        live, tmp_path):
    """The sqlite3 shell holds no lock on the sidecar; SQLite's own locks show it."""
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    other = sqlite3.connect(live)
    try:
        other.execute("SELECT count(*) FROM note").fetchone()
        with pytest.raises(sqlite_in_use.InUse, match="another program has live.db open"):
            await sqlite_backup.restore(live, copy)
    finally:
        other.close()
    assert exists(live)
    assert not list(tmp_path.glob("live.db-restoring*"))


async def test_no_bot_starts_on_a_database_being_restored(live):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{live}")
    with sqlite_in_use.alone(live), pytest.raises(sqlite_in_use.InUse,
                                                  match="is being restored"):
        async with lifespan(settings):
            pass
    async with lifespan(settings) as app:  # and a bot holds it while it runs
        with pytest.raises(sqlite_in_use.InUse):
            with sqlite_in_use.alone(live):
                pass
        assert app.db.dialect == "sqlite"
    with sqlite_in_use.alone(live):  # let go when it ends
        pass


async def test_a_damaged_copy_is_refused_and_the_database_left_alone(live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    damage(copy)
    with pytest.raises(sqlite_backup.Refused, match="damaged"):
        await sqlite_backup.restore(live, copy)
    assert rows(live, "SELECT text FROM note") == [("live",)]
    assert not list(live.parent.glob(f"{live.name}{sqlite_backup.BEFORE}*"))
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite_backup.Refused, match="not a memberbot copy: it is not a SQLite "
                                                   "database$"):  # in our words, not SQLite's
        await sqlite_backup.restore(live, garbage)
    with pytest.raises(sqlite_backup.Refused, match="is a folder: name one copy in it"):
        await sqlite_backup.restore(live, tmp_path)


async def test_a_copy_from_a_newer_memberbot_is_refused(live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    with pytest.raises(sqlite_backup.Refused, match="newer memberbot .*9999_from_the_future"):
        await sqlite_backup.restore(live, copy)
    assert rows(live, "SELECT version_num FROM alembic_version") == [(schema.head(),)]


async def test_a_file_that_is_no_memberbot_database_is_refused(live, tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(sqlite_backup.Refused, match="not a memberbot database"):
        await sqlite_backup.restore(live, other)


async def test_an_older_copy_is_upgraded_to_this_code_on_the_way_in(live, tmp_path):
    older = await migrated(tmp_path / "older.db", "0033")
    done = await sqlite_backup.restore(live, older, phone_country_code=86)
    assert done.upgraded_from == "0033" and done.revision == schema.head()
    assert rows(live, "SELECT version_num FROM alembic_version") == [(schema.head(),)]
    assert rows(live, "PRAGMA integrity_check") == [("ok",)]
    assert rows(older, "SELECT version_num FROM alembic_version") == [("0033",)]  # untouched


def test_pruning_keeps_the_newest_copies_and_nothing_but_copies(tmp_path):
    made = [sqlite_backup.stamped(tmp_path, T0 + timedelta(hours=h)) for h in range(5)]
    for path in made:
        path.write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("the operator's own")
    (tmp_path / "memberbot.db").write_bytes(b"not one of ours")
    assert backups.prune(tmp_path, 3) == (2, 3)
    assert sorted(tmp_path.iterdir()) == sorted(
        [*made[2:], tmp_path / "notes.txt", tmp_path / "memberbot.db"])


async def test_the_job_takes_copies_into_the_folder_and_keeps_as_many_as_it_says(
        live, programme):
    kept = programme.model_copy(update={"backup": config.Backup(folder="copies", keep=2)})
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:
        results = [await backups.run(db, kept, T0 + timedelta(hours=h)) for h in range(4)]
        off = await backups.run(db, programme, T0 + timedelta(hours=5))  # no folder: off
    finally:
        await db.dispose()
    folder = live.parent / "copies"  # relative: beside the database
    names = sorted(p.name for p in folder.iterdir())
    assert names == [sqlite_backup.stamped(folder, T0 + timedelta(hours=h)).name
                     for h in (2, 3)]
    assert [(r["taken"], r["pruned"], r["kept"]) for r in results] == [
        (1, 0, 1), (1, 0, 2), (1, 1, 2), (1, 1, 2)]
    assert all(r["kilobytes"] > 0 for r in results)
    assert off == {"taken": 0, "kilobytes": 0, "pruned": 0, "kept": 0}
    assert rows(folder / names[-1], "SELECT text FROM note") == [("live",)]


async def test_the_job_says_plainly_when_its_folder_is_a_file(live, programme):
    (live.parent / "taken").write_text("a file, not a folder")
    wrong = programme.model_copy(update={"backup": config.Backup(folder="taken")})
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:
        with pytest.raises(sqlite_backup.Refused, match="is a file, not a folder"):
            await backups.run(db, wrong, T0)
    finally:
        await db.dispose()
    assert (live.parent / "taken").read_text() == "a file, not a folder"


def test_the_job_runs_at_the_same_hours_every_day(programme):
    job = next(j for j in JOBS if j.name == "backup")
    every6 = programme.model_copy(update={"backup": config.Backup(every_hours=6)})
    trigger = job.trigger(every6)
    assert isinstance(trigger, CronTrigger)
    start = datetime(2026, 3, 10, 0, 0, tzinfo=programme.zone)
    fires, at = [], start
    for _ in range(5):
        at = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
        fires.append((at.hour, at.minute))
    assert fires == [(2, 45), (8, 45), (14, 45), (20, 45), (2, 45)]
    daily = job.trigger(programme)  # every_hours = 24 by default
    once = daily.get_next_fire_time(None, start)
    assert (once.hour, once.minute) == (2, 45)
    assert daily.get_next_fire_time(None, once + timedelta(seconds=1)) == once + timedelta(
        days=1)


@pytest.mark.parametrize(("section", "said"), [
    ("every_hours = 5", "backup.every_hours: must be one of 1, 2, 3, 4, 6, 8, 12 or 24"),
    ("keep = 0", "backup.keep: must be at least 1"),
    ('folder = "a\\u0000b"', "backup.folder: must be a path without control characters"),
    ("where = 'x'", "backup.where: is not a setting here"),
])
def test_the_backup_section_s_mistakes_are_said_in_our_words(section, said):
    text = config.DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "[backup]\n", f"[backup]\n{section}\n", 1)
    text = text.replace("every_hours = 24\n", "", 1) if "every_hours" in section else text
    text = text.replace("keep = 7\n", "", 1) if "keep" in section else text
    with pytest.raises(config.ConfigError) as raised:
        config.parse(text, "programme.toml")
    assert said in str(raised.value)


def test_the_example_file_documents_the_section_and_leaves_it_off():
    programme = config.load()
    assert programme.backup == config.Backup()
    assert not programme.backup.folder
    assert "[backup]" in config.DEFAULT_FILE.read_text(encoding="utf-8")


async def test_a_copy_restores_onto_a_new_machine_with_no_database_yet(live, tmp_path):
    copy = tmp_path / "copy.db"
    await sqlite_backup.backup(live, copy)
    fresh = tmp_path / "elsewhere" / "memberbot.db"
    fresh.parent.mkdir()
    done = await sqlite_backup.restore(fresh, copy)
    assert done.kept is None
    assert rows(fresh, "SELECT text FROM note") == [("live",)]


async def test_on_postgresql_the_job_takes_no_copy(db, programme, tmp_path):
    if db.dialect == "sqlite":
        pytest.skip("the PostgreSQL case: pg_dump backs it up")
    asked = programme.model_copy(update={"backup": config.Backup(folder=str(tmp_path))})
    assert await backups.run(db, asked, T0) == {
        "taken": 0, "kilobytes": 0, "pruned": 0, "kept": 0}
    assert list(tmp_path.iterdir()) == []


async def test_the_copy_runs_off_the_loop_which_goes_on_committing(live, tmp_path, monkeypatch):
    """The copy starts only once the loop has committed a member's write meanwhile: on
    the loop's own thread it would wait for that write for ever."""
    served = threading.Event()
    real = sqlite_backup._copy

    def copy_once_the_loop_served(database: Path, target: Path) -> int:
        assert served.wait(30), "the loop was held while the copy ran"
        return real(database, target)

    monkeypatch.setattr(sqlite_backup, "_copy", copy_once_the_loop_served)
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    try:
        copying = asyncio.create_task(sqlite_backup.backup(live, tmp_path / "copy.db"))
        await asyncio.sleep(0)  # the copy is under way on its thread
        async with db.uow() as uow:
            await uow.execute(text("INSERT INTO note VALUES ('while copying')"))
            await uow.commit()
        served.set()
        await asyncio.wait_for(copying, 30)
    finally:
        await db.dispose()
    assert ("while copying",) in rows(tmp_path / "copy.db", "SELECT text FROM note")


async def test_a_long_job_beside_a_copy_goes_on_and_the_log_comes_back(live, monkeypatch):
    """The copy's one read transaction (held here by a reader of our own, as the copy
    holds it for its pass) keeps the log from being started over: a long job's
    caught_up() gives up after its tries instead of waiting for ever, the log grows by
    what is written meanwhile, and once the reader is gone it is cut back."""
    limit = 32 * 4096
    monkeypatch.setattr(sqlite_checkpoints, "SIZE_LIMIT_BYTES", limit)
    wal = Path(f"{live}-wal")
    db = Database.from_url(f"sqlite+aiosqlite:///{live}")
    reader = sqlite3.connect(live, isolation_level=None)
    try:
        checkpoints = db.checkpoints
        assert checkpoints is not None
        async with db.uow() as uow:
            await uow.execute(text("CREATE TABLE job (b BLOB)"))
            await uow.commit()

        async def job(transactions: int) -> None:
            for _ in range(transactions):
                await asyncio.wait_for(checkpoints.caught_up(tries=5), 30)
                async with db.uow() as uow:
                    await uow.execute(text("INSERT INTO job VALUES (randomblob(12000))"))
                    await uow.commit()

        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM note").fetchone()  # the copy's moment
        await job(60)
        held_back = size(wal)
        assert held_back > 2 * limit and checkpoints.waits > 0
        assert held_back < 60 * 5 * 4096 + 2 * limit  # what was written, no more
        reader.execute("COMMIT")  # the copy is done
        await job(20)
        assert size(wal) <= limit
    finally:
        reader.close()
        await db.dispose()


async def test_a_database_in_use_with_its_log_beside_it_is_no_copy(live, tmp_path):
    """Part of its content is in its -wal: the file alone would lose it."""
    other = tmp_path / "other.db"
    await sqlite_backup.backup(live, other)
    conn = sqlite3.connect(other, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO note VALUES ('in the log only')")
        with pytest.raises(sqlite_backup.Refused, match="has a log beside it"):
            await sqlite_backup.restore(live, other)
    finally:
        conn.close()
    assert rows(live, "SELECT text FROM note") == [("live",)]


async def test_a_copy_says_what_is_missing_and_leaves_nothing_behind(live, tmp_path):
    with pytest.raises(sqlite_backup.Refused, match="there is no folder"):
        await sqlite_backup.backup(live, tmp_path / "nowhere" / "copy.db")
    missing = tmp_path / "missing.db"
    with pytest.raises(sqlite_backup.Refused, match="there is no database"):
        await sqlite_backup.backup(missing, tmp_path / "copy.db")
    assert not exists(f"{missing}{sqlite_in_use.SUFFIX}") and not exists(missing)
    assert not exists(tmp_path / "copy.db")
