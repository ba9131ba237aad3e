"""What crosses the line between a platform's group updates and the moderation handlers.

The platform's side turns a group update into a `GroupEvent` and hands the handlers a
`GroupChat`, the port through which they act on that chat (restrict, ban, delete, say
elsewhere); the handlers answer with a `GroupOutcome`: replies for the group, in the
group's language, which the platform's side sends through its rate-limited sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from handlers.engine.types import Reply

# GroupEvent.kind
MESSAGE = "message"  # anything said in the group: text, a command, media
JOINED = "joined"  # `person` came in (one event per newcomer)
LEFT = "left"  # `person` went, or was taken out
BUTTON = "button"  # `person` pressed `action` under message `message_id`


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str  # as the platform shows them ("Ann Lee"), for {first} and mentions
    username: str | None = None  # without "@"
    is_bot: bool = False
    locale: str | None = None  # their app's language, a hint only


@dataclass(frozen=True)
class GroupEvent:
    platform: str
    chat_id: str
    chat_title: str
    kind: str
    person: Person
    text: str = ""
    message_id: str | None = None
    reply_to: Person | None = None  # the author of the message this one answers
    reply_to_message_id: str | None = None
    # People named in the text without a username (a "text mention"), in order.
    mentioned: tuple[Person, ...] = ()
    album: str | None = None  # an album's id: its photos count once against flooding
    action: str | None = None  # a pressed button's data
    members: int | None = None  # the chat's member count, when the platform said
    key: str | None = None  # the platform's delivery id: one answer per delivery


@dataclass
class GroupOutcome:
    """replies: to the group. elsewhere: (chat id, reply, locale) for another chat, such
    as the log chat or an admin's private chat. delete_command: take the command
    message away once answered (/cleancommands). toast: for whoever pressed a button
    alone (Telegram's callback notice), never said in the chat: a refusal or "already
    done" is theirs to know, and a group would otherwise hear every stray press."""

    replies: list[Reply] = field(default_factory=list)
    elsewhere: list[tuple[str, Reply, str]] = field(default_factory=list)
    delete_command: bool = False
    locale: str = ""  # the group's language, for `replies`: set by the dispatcher
    toast: Reply | None = None  # short: a platform may cut it (Telegram: 200 characters)


class ChatActionError(Exception):
    """The platform refused an action. `reason` is one of: "rights" (the bot lacks the
    right), "admin" (the target administers the chat), "gone" (no such user or
    message), "failed" (anything else); `detail` is the platform's words, for logs."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


# What an admin's own rights in a chat allow them to have the bot do, as Rose and Marie
# hold them: restrict (warn, mute, ban, kick, and the rules that lead to them), delete
# messages, change the group's settings (welcome, rules, language, log chat).
RESTRICT, DELETE, SETTINGS = "restrict", "delete", "settings"
RIGHTS = (RESTRICT, DELETE, SETTINGS)


class GroupChat(Protocol):
    """The chat the event happened in, as the platform lets us act on it. Every action
    raises ChatActionError when the platform refuses it.

    A platform that can name a chat's admins may also offer `async def admin_people()
    -> list[Person]` (humans only, usernames included): a report mentions them."""

    platform: str
    chat_id: str

    async def admins(self) -> frozenset[str]:
        """User ids of the chat's admins (cached by the platform's side; refreshed on
        promotions and demotions it sees, and by `refresh_admins`)."""

    async def refresh_admins(self) -> frozenset[str]:
        """Ask the platform again (/admincache)."""

    async def rights(self, user_id: str) -> frozenset[str]:
        """Which of RIGHTS this admin holds in the chat (cached as `admins` is); none
        for someone who is not an admin."""

    async def mute(self, user_id: str, until: datetime | None) -> None:
        """No sending until `until` (None: until unmuted)."""

    async def unmute(self, user_id: str) -> None: ...

    async def ban(self, user_id: str, until: datetime | None) -> None:
        """Out, and kept out until `until` (None: until unbanned)."""

    async def unban(self, user_id: str) -> None: ...

    async def kick(self, user_id: str) -> None:
        """Out, free to come back (ban then unban)."""

    async def delete(self, message_id: str) -> None: ...

    async def post(self, reply: Reply, locale: str) -> str:
        """Say something in this chat now, when its message id is needed (a captcha, to
        take it away later): the message id."""
