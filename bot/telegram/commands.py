"""The "/" menu: member commands for private chats in English and Chinese, and, for
operators' own chats, the operator commands as well. Planned once here; each
adapter publishes the plan through its own library."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.engine import menu
from handlers.engine.routing import Router

LANGUAGES = {"en": "en", "zh_Hans": "zh"}  # our locale -> Telegram's language_code
# The staff commands each permission (domain.staff.roles.PERMISSIONS) opens.
STAFF_COMMANDS = {"purchase": ["purchase"], "award": ["award"], "stock": ["stock"],
                  "verify": ["verify"],
                  "audit": ["audit"], "grant": ["grant", "revoke"],
                  "campaign": ["campaign", "campaigns", "tag"], "jobs": ["jobs"],
                  "rewards": ["reward"], "gates": ["gate", "gates"],
                  "support": ["tickets", "reply", "close"], "support_chat": ["setsupport"],
                  "insight": ["stats", "segments", "report"], "member_data": ["member"],
                  "subscribers": ["subscribers"], "refund": ["refund"]}
Entry = tuple[list[tuple[str, str]], dict, str | None]  # (commands, scope, language)


def listing(router: Router, locale: str, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    names = [name for name, _ in menu.commands(router, locale)] + list(extra)
    return [(name, menu.describe(name, locale)[:256]) for name in names]


def staff_menus(accounts: dict[str, set[str]]) -> dict[str, list[str]]:
    """Chat id -> the staff commands to add there, in a stable order."""
    return {chat: [c for perm in STAFF_COMMANDS if perm in perms for c in STAFF_COMMANDS[perm]]
            for chat, perms in accounts.items() if chat.lstrip("-").isdigit()}


def plan(router: Router, default_locale: str,
         operators: dict[str, list[str]] | None = None) -> list[Entry]:
    """`operators` maps an operator's chat id to the extra commands their role allows."""
    entries: list[Entry] = [(listing(router, locale), {"type": "all_private_chats"}, language)
                            for locale, language in LANGUAGES.items()]
    entries.append((listing(router, default_locale), {"type": "default"}, None))
    for chat_id, extra in (operators or {}).items():
        entries += [(listing(router, locale, extra), {"type": "chat", "chat_id": int(chat_id)},
                     language) for locale, language in LANGUAGES.items()]
    return entries

