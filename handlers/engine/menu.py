"""The command menu a platform shows next to the text box (Telegram's "/" list),
derived from the same catalog lines /help prints, so the two never disagree."""

from __future__ import annotations

from handlers.engine.i18n import translate
from handlers.engine.routing import Router
from handlers.engine.types import Text

SEPARATOR = " — "  # every catalog line reads "{command} — what it does"


def commands(router: Router, locale: str) -> list[tuple[str, str]]:
    names = [*router.menu, "help", "cancel"]
    return [(name, describe(name, locale)) for name in names]


def describe(name: str, locale: str) -> str:
    line = translate(Text(f"command.{name}", {"command": f"/{name}"}), locale)
    return line.split(SEPARATOR, 1)[-1].strip()
