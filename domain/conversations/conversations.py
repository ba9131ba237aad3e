"""Where each chat user is in a multi-step flow, read and written in bulk.

Keyed by (platform, user id string), so string ids fit as well as numeric ones.
Most messages leave no flow open and offer no buttons; only rows that changed are
written, all of a batch in one upsert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from domain.conversations.tables import Conversation
from domain.storage.database import UnitOfWork

_C = Conversation.__table__
_LOAD = (select(_C.c.user_id, _C.c.state, _C.c.data, _C.c.options)
         .where(_C.c.platform == bindparam("b_platform"),
                _C.c.user_id.in_(bindparam("b_users", expanding=True))))

_KNOWN = select(_C.c.user_id).where(_C.c.platform == bindparam("b_platform"),
                                    _C.c.user_id == bindparam("b_user"))


def _upsert(dialect: Any) -> Any:
    stmt = dialect.insert(_C)
    return stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={name: stmt.excluded[name] for name in ("state", "data", "options", "updated_at")})


_SAVE = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


@dataclass
class State:
    platform: str
    user_id: str
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    options: list[str] = field(default_factory=list)
    changed: bool = False

    def move(self, state: str | None, data: dict[str, Any], options: list[str]) -> None:
        if (self.state, self.data, self.options) != (state, data, options):
            self.state, self.data, self.options, self.changed = state, data, options, True


async def load(uow: UnitOfWork, keys: list[tuple[str, str]]) -> dict[tuple[str, str], State]:
    """Each key's state; a key never seen has an empty one."""
    found = {key: State(*key) for key in keys}
    by_platform: dict[str, list[str]] = {}
    for platform, user_id in found:
        by_platform.setdefault(platform, []).append(user_id)
    for platform, users in by_platform.items():
        rows = await uow.execute(_LOAD, {"b_platform": platform, "b_users": users})
        for user_id, state, data, options in rows:
            found[(platform, user_id)] = State(platform, user_id, state, data or {},
                                               options or [])
    return found


async def save(uow: UnitOfWork, changed: list[State], now: datetime) -> None:
    if not changed:
        return
    await uow.execute(_SAVE[uow.dialect], [
        {"platform": c.platform, "user_id": c.user_id, "state": c.state, "data": c.data,
         "options": c.options, "updated_at": now} for c in changed])


async def known(uow: UnitOfWork, platform: str, user_id: str) -> bool:
    """Whether this chat account has talked with us: its first answer wrote its row,
    since a greeting always offers buttons. A member made before writing (the owner,
    from the settings) has none yet, and is greeted as new."""
    return await uow.scalar(_KNOWN, {"b_platform": platform, "b_user": user_id}) is not None
