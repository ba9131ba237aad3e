"""The console adapter: a terminal chat that runs exactly the handlers the platforms run.

Buttons are printed as numbered options and answered by typing the number, as on
WeChat. When stdin is not a terminal it reads a script of lines, echoing each.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TextIO

from handlers.engine import i18n
from handlers.engine.engine import Engine
from handlers.engine.types import Inbound, Rendered, Text

if TYPE_CHECKING:
    from bot.app import App

PLATFORM = "console"


class ConsoleChat:
    def __init__(self, engine: Engine, user: str, locale: str | None = None) -> None:
        self.engine = engine
        self.user = user
        self.locale = locale

    async def say(self, line: str) -> list[str]:
        """Send one line as the simulated member; return what the bot printed."""
        answer = await self.engine.handle(Inbound(
            platform=PLATFORM, user_id=self.user, chat_id=self.user, text=line,
            locale=self.locale))
        return [format_reply(r, answer.locale) for r in answer.rendered()]


@asynccontextmanager
async def session(app: App, user: str, locale: str | None = None) -> AsyncIterator[ConsoleChat]:
    """A console chat as `user`, with what runs beside it for as long as it lasts."""
    yield ConsoleChat(app.engine, user=user, locale=locale)


def format_reply(rendered: Rendered, locale: str) -> str:
    lines = [rendered.text]
    buttons = [label for row in rendered.buttons for label, _ in row]
    if buttons:
        lines.append("  ".join(f"[{i}] {label}" for i, label in enumerate(buttons, 1)))
        lines.append(i18n.translate(Text("console.choose"), locale))
    if rendered.image is not None:
        lines.append(f"[image: {len(rendered.image)} bytes]")
    if rendered.file is not None:
        lines.append(f"[file: {rendered.file[0]}]")
    return "\n".join(lines)


async def run(chat: ConsoleChat, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
              default_locale: str = "en") -> None:
    """Chat until end of input. Lines are read in a thread so the loop stays free."""
    interactive = stdin.isatty()
    locale = i18n.negotiate(chat.locale) or default_locale
    print(i18n.translate(Text("console.banner", {"user": chat.user}), locale), file=stdout)
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        raw = await asyncio.to_thread(stdin.readline)
        if not raw:
            return
        line = raw.rstrip("\n")
        if not interactive:
            print(f"> {line}", file=stdout)
        if not line.strip():
            continue
        for block in await chat.say(line):
            print(block, file=stdout)
            print(file=stdout)
        stdout.flush()
