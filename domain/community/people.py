"""Who has been seen in groups, under which @username, so admins can name them.

A bot cannot ask the platform who @someone is, so every group message would be worth
remembering; writing on every message would make chatter cost a write each. `Seen`
keeps, in memory, what was last written for each person, and only a person new to it
or whose username or name changed is written (`remember`).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select

from domain.community.tables import GroupPerson
from domain.storage.database import UnitOfWork

NAME, USERNAME = 128, 64  # the columns' sizes
SEEN = 100_000  # people kept in memory; the least recently seen go first


class Seen:
    """What the database holds for the people seen lately: (username, name) by
    (platform, user id)."""

    def __init__(self, size: int = SEEN) -> None:
        self.size = size
        self._known: OrderedDict[tuple[str, str], tuple[str | None, str]] = OrderedDict()

    def news(self, platform: str, user_id: str, username: str | None, name: str) -> bool:
        """Whether this differs from what was last written (or nothing was)."""
        key = (platform, user_id)
        known = self._known.get(key)
        if known is None:
            return True
        self._known.move_to_end(key)
        return known != _fit(username, name)

    def written(self, platform: str, user_id: str, username: str | None, name: str) -> None:
        self._known[(platform, user_id)] = _fit(username, name)
        self._known.move_to_end((platform, user_id))
        while len(self._known) > self.size:
            self._known.popitem(last=False)


def _fit(username: str | None, name: str) -> tuple[str | None, str]:
    return ((username.lower().lstrip("@")[:USERNAME] or None) if username else None,
            name[:NAME])


async def remember(uow: UnitOfWork, platform: str, user_id: str, username: str | None,
                   name: str, now: datetime) -> bool:
    """Keep their username and name; whether anything was written. A username moves
    to whoever shows it last, so an old holder of it no longer answers to it."""
    username, name = _fit(username, name)
    row = await uow.session.get(GroupPerson, (platform, user_id))
    if row is not None and (row.username, row.name) == (username, name):
        return False
    if username is not None:
        for other in await uow.session.scalars(select(GroupPerson).where(
                GroupPerson.platform == platform, GroupPerson.username == username,
                GroupPerson.user_id != user_id)):
            other.username = None
    if row is None:
        row = GroupPerson(platform=platform, user_id=user_id)
        uow.session.add(row)
    row.username, row.name, row.updated_at = username, name, now
    await uow.flush()
    return True


async def by_username(uow: UnitOfWork, platform: str, username: str) -> GroupPerson | None:
    wanted = username.lower().lstrip("@")
    return await uow.session.scalar(select(GroupPerson).where(
        GroupPerson.platform == platform, GroupPerson.username == wanted).limit(1))


async def by_id(uow: UnitOfWork, platform: str, user_id: str) -> GroupPerson | None:
    return await uow.session.get(GroupPerson, (platform, user_id))
