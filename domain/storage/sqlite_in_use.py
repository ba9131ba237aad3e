"""Who is using a SQLite database file, as far as restoring it is concerned.

Every memberbot process that opens the database for its life (`run`, `scheduler`,
`chat`, and the other commands built on bot.app.lifespan), and `memberbot backup`
while it copies, holds a shared OS lock (flock) on a file beside the database,
`<database>-inuse`. A restore takes the same lock exclusively, without waiting: it
gets it only when no such process holds it, and while it holds it none can start. The
kernel drops a process's lock when the process ends however it ends (SIGKILL too), so
a crashed bot never leaves a stale "in use" behind, as a pid file would. The sidecar
itself is never removed: unlinking a lock file while another process opens it lets
two of them lock two different files.

SQLite's own locks cannot say this: a bot between two transactions holds none of them.
Other programs (the sqlite3 shell) hold no lock on the sidecar; a restore also
checks the database itself (domain.storage.sqlite_backup), which sees those that have
it open. flock is advisory and local: a database on a network share is not covered.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

SUFFIX = "-inuse"


class InUse(Exception):
    """Another process holds the database: a bot, a backup, or a restore."""


def sidecar(database: Path) -> Path:
    return database.with_name(database.name + SUFFIX)


@contextmanager
def using(database: Path) -> Iterator[None]:
    """Hold the database as one of its users (a shared lock) for the block. Raises
    InUse when a restore holds it: a bot must not start on a file being replaced."""
    with _locked(database, fcntl.LOCK_SH, f"{database} is being restored: start again "
                                           "when the restore is done"):
        yield


@contextmanager
def alone(database: Path) -> Iterator[None]:
    """Hold the database alone (an exclusive lock) for the block. Raises InUse at once
    when any memberbot process is using it."""
    with _locked(database, fcntl.LOCK_EX, f"a memberbot process is using {database} (run, "
                                           "scheduler, chat, or a backup): stop it first"):
        yield


def user_of(url: str) -> ExitStack:
    """For a process's life: hold a SQLite file's database as a user (`using`); close
    the stack it returns at the end. Nothing to hold for another backend or a database
    in memory."""
    stack = ExitStack()
    database = file_of(url)
    if database is not None:
        stack.enter_context(using(database))
    return stack


def file_of(url: str) -> Path | None:
    """The file of a SQLite URL; None for another backend, a database in memory, or
    one given as a URI (which names no one file)."""
    parsed = make_url(url)
    uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or uri or database in (None, "", ":memory:"):
        return None
    assert database is not None  # for the type checkers of older SQLAlchemy
    return Path(database)


@contextmanager
def _locked(database: Path, mode: int, says: str) -> Iterator[None]:
    fd = os.open(sidecar(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InUse(says) from None
            raise
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock
