"""Copies of a SQLite database taken while the bot runs, and putting one back.

A copy goes through SQLite's online backup API (sqlite3 `Connection.backup`) on a
worker thread, on a connection of its own: the event loop is never held, and the
sqlite3 module lets go of the GIL while SQLite copies pages.

One step (`pages=-1`), not many. A stepped backup lets go of the source between its
steps, and a write by any other connection (every write the bot makes) starts it over
from the first page: under a steady stream of purchases it may never finish, copying
the database again and again (tried on an 80 MB file with a write every 5 ms: 3,000
steps of 100 pages never got past its first 8,000 pages; one step took 0.2 s). One
step copies every page inside a single read transaction, so the copy is the database
as it was committed at one moment. In WAL mode a reader takes no lock a writer waits
for: members' transactions commit throughout, and the write lock is never taken by
the copy. What the reader does hold
back is the checkpoint: the log cannot be copied past the reader's moment or started
over until the copy ends, so it grows by what is written meanwhile. That is bounded
by how long one pass over the file takes; `Database.caught_up()` gives up waiting
after its tries and the job goes on (domain.storage.sqlite_checkpoints), and the next
caught_up after the copy brings the log back (see benchmarks/backup.py for figures).
Steps inside one held read transaction would not restart, but would hold the log back
for the same pass and the pauses between steps besides.

The copy is written beside its destination, synced, and renamed into place: a crash
never leaves a half copy under the final name. It is left in rollback-journal mode,
one self-contained file.

A restore (`restore`) works on a copy of the copy beside the database: it checks its
integrity (PRAGMA integrity_check) and its migration revision, brings an older one up
to this code's head (a failed upgrade leaves the database as it was), and renames it
over the database, with nobody using it (domain.storage.sqlite_in_use), the old
database kept as `<database>.before-restore-<UTC time>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from domain.storage import schema
from domain.storage.sqlite_in_use import InUse, alone, file_of, using

BUSY_S = 15.0  # a reader waits for SQLite's brief locks (a log being started over)
BEFORE = ".before-restore"
STAGED = "-restoring"
PARTIAL = ".partial"
SIDE_FILES = ("-wal", "-shm", "-journal")


class Refused(Exception):
    """A backup or restore that cannot go ahead, said in words for the operator."""


@dataclass(frozen=True)
class Restored:
    revision: str
    upgraded_from: str | None  # the copy's revision, when it was older than this code
    kept: Path | None  # the database it replaced, kept aside


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another backend. Refused for a database
    in memory or given as a URI, which have no one file to copy or replace."""
    if make_url(url).get_backend_name() != "sqlite":
        return None
    database = file_of(url)
    if database is None:
        raise Refused("the database is not a file (in memory, or given as a URI): "
                      "there is nothing to copy or replace")
    return database


def stamped(folder: Path, at: datetime) -> Path:
    """The name a copy taken at `at` gets in a folder: sortable, never reused."""
    return folder / f"memberbot-{at.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.db"


async def backup(database: Path, target: Path) -> int:
    """Copy `database` to `target` (replaced if it exists) while it is in use; the
    copy's size in bytes. Holds the database as a user meanwhile, so no restore
    replaces it under the copy."""
    await asyncio.to_thread(_a_target, database, target)
    with using(database):  # InUse while a restore replaces it
        return await asyncio.to_thread(_copy, database, target)


def _a_target(database: Path, target: Path) -> None:
    if not database.is_file():
        raise Refused(f"there is no database at {database}")
    if not target.parent.is_dir():
        raise Refused(f"there is no folder {target.parent} to put {target.name} in")
    if target.exists() and target.resolve() == database.resolve():
        raise Refused(f"{target} is the database itself: name another file")


def _copy(database: Path, target: Path) -> int:
    partial = target.with_name(target.name + PARTIAL)
    _remove(partial, *_sides(partial))
    source = _connect(database, "rw", BUSY_S)
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(copy)  # pages=-1: one step, one read transaction
            copy.execute("PRAGMA journal_mode=DELETE").fetchone()  # one self-contained file
        finally:
            copy.close()
    except sqlite3.Error as exc:  # the disk full, the folder not writable, ...
        _remove(partial, *_sides(partial))
        raise Refused(f"no copy was written to {target}: {_said(exc)}") from None
    except BaseException:
        _remove(partial, *_sides(partial))
        raise
    finally:
        source.close()
    _sync(partial)
    os.replace(partial, target)
    _sync_folder(target.parent)
    return target.stat().st_size


async def restore(database: Path, copy: Path, *,
                  phone_country_code: int | None = None,
                  before_swap: Callable[[Path], Awaitable[None]] | None = None) -> Restored:
    """Put `copy` in the place of `database`. Refused (InUse) while any memberbot
    process or another program has the database open; refused (Refused) for a copy
    that is damaged, is not a memberbot database, or was made by a newer memberbot.
    An older copy is upgraded to this code's revision first: a bot started on it
    would do that anyway, and here a failed upgrade leaves the database untouched.
    `phone_country_code` is the programme's (migration 0013 reads phones in it).
    `before_swap` is given the checked, upgraded copy before it goes in (the caller
    erases there again whom the database erased since)."""
    await asyncio.to_thread(_a_copy, copy, database)
    staged = database.with_name(database.name + STAGED)
    with alone(database):
        try:
            await asyncio.to_thread(_stage, copy, staged)
            revision = await asyncio.to_thread(_checked, staged, copy)
            head = schema.head()
            upgraded_from = None
            if revision != head:
                await _upgrade(staged, phone_country_code)
                upgraded_from = revision
            if before_swap is not None:
                await before_swap(staged)
            return Restored(head or revision, upgraded_from,
                            await asyncio.to_thread(_swap, staged, database))
        finally:
            _remove(staged, *_sides(staged))


# SQLite's failures, by its result codes, in words an operator can act on.
_SQLITE_SAYS = {
    "SQLITE_CANTOPEN": "this user cannot make or open a file there",
    "SQLITE_PERM": "this user may not write there",
    "SQLITE_READONLY": "the place is read-only",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk failed to read or write",
    "SQLITE_NOTADB": "it is not a SQLite database",
    "SQLITE_CORRUPT": "it is damaged",
}


def _said(exc: sqlite3.Error) -> str:
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    for code, words in _SQLITE_SAYS.items():
        if name.startswith(code):  # SQLITE_IOERR_WRITE is an SQLITE_IOERR
            return words
    return f"SQLite refused it ({name or 'no error code'})"


def _a_copy(copy: Path, database: Path) -> None:
    if copy.is_dir():
        raise Refused(f"{copy} is a folder: name one copy in it (memberbot-<time>.db)")
    if not copy.is_file():
        raise Refused(f"there is no file at {copy}")
    if database.exists() and copy.resolve() == database.resolve():
        raise Refused(f"{copy} is the database itself: name a copy of it")
    for side in (Path(f"{copy}-wal"), Path(f"{copy}-journal")):
        if side.exists() and side.stat().st_size > 0:  # part of its content is in there
            raise Refused(f"{copy} has a log beside it ({side.name}): it is a database "
                          "in use, not a copy; take one with `memberbot backup`")


def _stage(copy: Path, staged: Path) -> None:
    _remove(staged, *_sides(staged))  # a restore that crashed left them
    shutil.copyfile(copy, staged)


def _checked(staged: Path, copy: Path) -> str:
    """The copy's revision, once it is known sound and not newer than this code."""
    try:
        conn = _connect(staged, "rw", 0)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise Refused(f"{copy} is damaged (PRAGMA integrity_check): "
                              + "; ".join(problems[:3]))
            try:
                found = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.OperationalError:
                found = []
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise Refused(f"{copy} is not a memberbot copy: {_said(exc)}") from None
    if len(found) != 1:
        raise Refused(f"{copy} is not a memberbot database (it has no migration revision)")
    revision = str(found[0][0])
    if revision not in _known():
        raise Refused(f"{copy} was made by a newer memberbot (revision {revision}; this one "
                      f"knows up to {schema.head()}): restore it with that version")
    return revision


def _known() -> set[str]:
    script = ScriptDirectory.from_config(schema.alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


async def _upgrade(staged: Path, phone_country_code: int | None) -> None:
    from domain.storage.database import Database  # the engine's module imports this one's

    db = Database.from_url(f"sqlite+aiosqlite:///{staged}")
    try:
        await schema.upgrade(db.engine, phone_country_code=phone_country_code)
    finally:
        await db.dispose()


def _swap(staged: Path, database: Path) -> Path | None:
    """Rename the checked copy over the database; the old one is kept (a hard link)."""
    conn = _connect(staged, "rw", 0)
    try:  # out of WAL mode if an upgrade left it there: no log to carry along
        conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        conn.close()
    _sync(staged)
    kept = None
    if database.exists():
        _settle(database)
        # Named by the time: a second restore keeps the first one's safety copy too.
        at = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        kept = database.with_name(f"{database.name}{BEFORE}-{at}")
        try:
            os.link(database, kept)
        except OSError:  # a file system without hard links
            shutil.copyfile(database, kept)
    # A log left beside the database would be read into the copy, page by page, as if
    # it were the copy's own: none may survive the rename.
    _remove(*_sides(database))
    os.replace(staged, database)
    _sync_folder(database.parent)
    return kept


_OPEN_ELSEWHERE = ("another program has {database} open (a sqlite3 shell, a viewer, a "
                   "script): close it first")


def _settle(database: Path) -> None:
    """Fold the database's log into it and leave WAL mode, which SQLite allows only
    with no other connection open: so another program that has it open (which holds
    no lock on our sidecar) is found here, before anything is replaced."""
    try:
        conn = _connect(database, "rw", 0)
    except sqlite3.DatabaseError:
        return
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise InUse(_OPEN_ELSEWHERE.format(database=database.name)) from None
        return  # a damaged database is replaced all the same
    except sqlite3.DatabaseError:
        return
    finally:
        conn.close()
    if str(mode).lower() == "wal":
        raise InUse(_OPEN_ELSEWHERE.format(database=database.name))


def _connect(path: Path, mode: str, timeout: float) -> sqlite3.Connection:
    # mode=rw: a database missing is an error, not an empty one made anew.
    return sqlite3.connect(path.resolve().as_uri() + f"?mode={mode}", uri=True,
                           timeout=timeout, isolation_level=None)


def _sides(path: Path) -> list[Path]:
    return [Path(f"{path}{side}") for side in SIDE_FILES]


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is synced."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
