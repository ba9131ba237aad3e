"""A group's moderation settings, with the defaults admins of group bots expect.

Read on every group message, so callers keep the `Rules` snapshot a short while
(handlers/community/moderation/dispatch.py); a change returns the new snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from domain.community.tables import GroupSettings
from domain.staff import audit
from domain.storage.database import UnitOfWork

MODES = ("mute", "kick", "ban")  # what a warn limit or a flood does
WARN_LIMITS = range(1, 101)
CAPTCHA_MINUTES = range(1, 61)


@dataclass(frozen=True)
class Rules:
    language: str | None = None  # None: the programme's default
    warn_limit: int = 3
    warn_mode: str = "mute"
    flood_limit: int = 0  # messages in a row by one user; 0: off
    flood_mode: str = "mute"
    flood_for_s: int | None = None  # how long a flood's mute or ban lasts; None: no end
    welcome_on: bool = False
    welcome_text: str | None = None  # None: the translated default welcome
    rules_text: str | None = None
    captcha_on: bool = False
    captcha_minutes: int = 2
    captcha_skip_tier: str | None = None  # members of this tier or above skip it
    log_chat: str | None = None
    clean_commands: bool = False


NAMES = tuple(f.name for f in fields(Rules))


async def read(uow: UnitOfWork, platform: str, chat_id: str) -> Rules:
    row = await uow.session.get(GroupSettings, (platform, chat_id))
    if row is None:
        return Rules()
    return Rules(**{name: getattr(row, name) for name in NAMES})


async def change(uow: UnitOfWork, platform: str, chat_id: str, actor: str, now: datetime,
                 **changes: Any) -> Rules:
    """Set some settings (names of `Rules`); audited with what changed."""
    unknown = set(changes) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown group settings: {sorted(unknown)}")
    before = await read(uow, platform, chat_id)
    after = replace(before, **changes)
    moved = {k: v for k, v in changes.items() if getattr(before, k) != v}
    if not moved:
        return before
    row = await uow.session.get(GroupSettings, (platform, chat_id))
    if row is None:
        row = GroupSettings(platform=platform, chat_id=chat_id,
                            **{name: getattr(after, name) for name in NAMES})
        uow.session.add(row)
    for name, value in moved.items():
        setattr(row, name, value)
    row.updated_at = now
    await uow.flush()
    await audit.record(uow, actor, "group.settings", f"chat:{platform}:{chat_id}",
                       {k: (v if not isinstance(v, str) else v[:100]) for k, v in moved.items()},
                       now)
    return after


async def log_chats(uow: UnitOfWork, platform: str) -> dict[str, str]:
    """Group -> its log chat, for every group that has one."""
    rows = await uow.session.execute(select(GroupSettings.chat_id, GroupSettings.log_chat)
                                     .where(GroupSettings.platform == platform,
                                            GroupSettings.log_chat.is_not(None)))
    return {chat: log for chat, log in rows if log is not None}
