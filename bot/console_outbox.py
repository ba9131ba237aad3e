"""The console's outbox: messages for console members that arrived outside their
conversation (notices, campaign messages, an operator's campaign progress).

A console member has no device to push to, so what is sent to them waits in a folder
of theirs until a session of theirs shows it. The folders are on this machine, under
one place per database, so every process using that database delivers to the same
member the same way, and a message sent while they were away is shown when they next
chat. Each message is one file, written whole under a temporary name and then renamed;
a session takes it by renaming it again, so two sessions never both show it.
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from handlers.engine.render import dump, load
from handlers.engine.types import Rendered

_serial = itertools.count()


def scratch(name: str) -> Path:
    """A folder of this machine's user under the temporary directory: `name-USER`."""
    owner = str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()
    return Path(tempfile.gettempdir()) / f"{name}-{owner}"


ROOT = scratch("memberbot-console")


class Outbox:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, database_url: str, root: Path = ROOT) -> Outbox:
        """The outbox of the database at `database_url`."""
        return cls(root / _digest(_place(database_url)))

    def put(self, user: str, message: Rendered) -> str:
        """Leave `message` for `user`; returns its name."""
        folder = self._folder(user)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_serial):06d}"
        part = folder / f".{name}.part"
        part.write_text(json.dumps(dump(message), ensure_ascii=False), encoding="utf-8")
        os.replace(part, folder / f"{name}.json")
        return name

    def take(self, user: str) -> list[Rendered]:
        """What waits for `user`, oldest first, taken out of the outbox."""
        folder = self._folder(user)
        if not folder.is_dir():
            return []
        taken = []
        for path in sorted(folder.glob("*.json")):
            mine = path.with_name(f".{path.stem}.{os.getpid()}.taken")
            try:
                os.rename(path, mine)
            except FileNotFoundError:
                continue  # another session of this member took it first
            try:
                taken.append(load(json.loads(mine.read_text(encoding="utf-8"))))
            except (OSError, ValueError, KeyError):
                continue  # not a message this version wrote; left aside, never shown
            mine.unlink(missing_ok=True)
        return taken

    def _folder(self, user: str) -> Path:
        return self.root / _digest(user)


def _place(database_url: str) -> str:
    """What names the database: a SQLite file by its full path, else the URL without
    its password."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return database_url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return "sqlite:" + str(Path(str(url.database)).resolve())
    return url.render_as_string(hide_password=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]
