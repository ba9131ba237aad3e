"""What conversations may ask of a platform's chats (rooms), without knowing the platform.

A platform that has group chats gives the engine one of these (Engine(rooms=...)); the
console and WeChat give none, and the community commands then say that gates need one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The rights a gate needs of the bot in its chat: links that ask for approval, and
# taking out whoever no longer qualifies. Named as the platform names them, so an
# admin can find the switch.
GATE_RIGHTS = ("can_invite_users", "can_restrict_members")
GROUP_KINDS = ("group", "supergroup")
ROOM_KINDS = (*GROUP_KINDS, "channel")


@dataclass(frozen=True)
class Room:
    chat_id: str
    kind: str  # group, supergroup or channel
    title: str


class RoomError(Exception):
    """The platform would not answer about this chat; `reason` is what it said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rooms(Protocol):
    platform: str

    async def look_up(self, chat_id: str) -> Room | None:
        """The chat, or None when it does not exist or the bot is not in it."""

    async def missing_rights(self, room: Room, needed: tuple[str, ...]) -> list[str]:
        """Which of `needed` the bot lacks there (all of them when it is no admin)."""

    async def join_link(self, room: Room, name: str) -> str:
        """A new invite link that asks for approval, named `name` (at most 32 chars)."""
