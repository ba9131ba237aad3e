"""Scheduled backups (`[backup]` in the programme file): a copy of the SQLite database
into the folder, then the oldest copies past `keep` removed.

Copies are named by when they were taken (sqlite_backup.stamped), so names sort by
age and pruning touches only files of that form: whatever else is in the folder
stays. A run repeated or run by hand from /jobs takes one more copy, and pruning
keeps the count. On PostgreSQL, or with no folder set, it does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from domain.config import Programme
from domain.storage import sqlite_backup
from domain.storage.database import Database

COPY = re.compile(r"memberbot-[0-9]{8}T[0-9]{12}Z\.db")
STALE_PARTIAL_S = 24 * 3600  # a half copy older than this was left by a crash


def folder_for(database: Path, folder: str) -> Path:
    where = Path(folder).expanduser()
    return where if where.is_absolute() else database.parent / where


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    settings = programme.backup
    if not settings.folder or db.checkpoints is None:  # off, PostgreSQL, or in memory
        return {"taken": 0, "kilobytes": 0, "pruned": 0, "kept": 0}
    database = Path(db.checkpoints.path)
    folder = folder_for(database, settings.folder)
    await asyncio.to_thread(made, folder)
    size = await sqlite_backup.backup(database, sqlite_backup.stamped(folder, now))
    pruned, kept = await asyncio.to_thread(prune, folder, settings.keep)
    return {"taken": 1, "kilobytes": size // 1024, "pruned": pruned, "kept": kept}


def made(folder: Path) -> None:
    """The folder, made if missing; refused in words an operator can act on."""
    if folder.exists() and not folder.is_dir():
        raise sqlite_backup.Refused(f"[backup] folder {folder} is a file, not a folder: "
                                    "name a folder in the programme file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise sqlite_backup.Refused(
            f"[backup] folder {folder} cannot be made ({exc.strerror or 'refused'}): "
            "name a folder this user may write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise sqlite_backup.Refused(f"[backup] folder {folder} cannot be written to by this "
                                    "user: name another or grant it")


def prune(folder: Path, keep: int) -> tuple[int, int]:
    """Remove all but the newest `keep` copies in `folder` (and half copies a crash
    left long ago): how many went, how many stay."""
    copies = sorted(p for p in folder.iterdir() if COPY.fullmatch(p.name) and p.is_file())
    gone = copies[:-keep] if keep > 0 else copies
    for path in gone:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    for partial in folder.glob("memberbot-*.db" + sqlite_backup.PARTIAL):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                partial.unlink()
    return len(gone), len(copies) - len(gone)
