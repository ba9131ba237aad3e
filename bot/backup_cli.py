"""`memberbot backup` and `memberbot restore`: copies of a SQLite database
(domain.storage.sqlite_backup). On PostgreSQL they say to use pg_dump and pg_restore,
which do it properly there (README, Backups and restore)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from bot import programme as programme_file
from bot.settings import Settings
from bot.wechat.store import erasure as wechat_erasure
from domain.privacy import erasure
from domain.storage import sqlite_backup
from domain.storage.database import Database
from domain.storage.sqlite_in_use import InUse

POSTGRES = ("The database is PostgreSQL: memberbot {command} copies SQLite files only. "
            "Use PostgreSQL's own tools: pg_dump --format=custom --file=memberbot.dump "
            "DATABASE to back up, and pg_restore --clean --if-exists --no-owner "
            "--dbname=DATABASE memberbot.dump, with every memberbot process stopped, to "
            "restore. See README.md, Backups and restore.")


def _database(settings: Settings, command: str) -> Path | None:
    try:
        database = sqlite_backup.sqlite_file(settings.database_url)
    except sqlite_backup.Refused as exc:
        print(str(exc), file=sys.stderr)
        return None
    if database is None:
        print(POSTGRES.format(command=command), file=sys.stderr)
    return database


async def backup(file: str, settings: Settings) -> int:
    """A copy of the database into FILE (or a dated file in FILE, a folder), taken
    while the bot runs."""
    database = _database(settings, "backup")
    if database is None:
        return 2
    target = Path(file)
    if await asyncio.to_thread(target.is_dir):
        target = sqlite_backup.stamped(target, datetime.now(UTC))
    try:
        size = await sqlite_backup.backup(database, target)
    except (sqlite_backup.Refused, InUse) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"backed up {database} to {target} ({size / 2**20:.1f} MB)")
    return 0


async def restore(file: str, settings: Settings) -> int:
    """FILE put in the database's place, with no memberbot process using it."""
    database = _database(settings, "restore")
    if database is None:
        return 2
    programme = programme_file.load(settings.programme_file)  # 0013 reads phones in its country
    # Read before the restore takes the database alone (an open connection would
    # count as another program using it).
    erased = await _erased_in(database) if database.exists() else []
    again: list[int] = []

    async def erase_again(staged: Path) -> None:
        wechat_erasure.register()  # as every process does: the platform's state goes too
        db = Database.from_url(f"sqlite+aiosqlite:///{staged}")
        try:
            again.append(await erasure.erase_again(db, programme, erased, datetime.now(UTC)))
        finally:
            await db.dispose()

    try:
        done = await sqlite_backup.restore(database, Path(file),
                                           phone_country_code=programme.phone_country_code,
                                           before_swap=erase_again if erased else None)
    except (sqlite_backup.Refused, InUse) as exc:
        print(f"not restored: {exc}", file=sys.stderr)
        return 1
    upgraded = f", upgraded from revision {done.upgraded_from}" if done.upgraded_from else ""
    print(f"restored {file} to {database} (revision {done.revision}{upgraded})")
    if again and again[0]:
        print(f"erased again {again[0]} member(s) the copy held whom the database had "
              "erased since it was taken")
    if done.kept is not None:
        print(f"the database it replaced is kept as {done.kept}")
    return 0


async def _erased_in(database: Path) -> list[int]:
    """The members the database had erased; none when it is no memberbot database
    (the restore then says what is wrong with it)."""
    db = Database.from_url(f"sqlite+aiosqlite:///{database}")
    try:
        async with db.snapshot() as snapshot:
            return await erasure.erased_members(snapshot)
    except DBAPIError:
        return []
    finally:
        await db.dispose()
