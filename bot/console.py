"""The console adapter: a terminal chat that runs exactly the handlers the platforms run.

Buttons are printed as numbered options and answered by typing the number, as on
WeChat. When stdin is not a terminal it reads a script of lines, echoing each.

Outside the conversation the console is a platform like the others. A notice or a
campaign message for a console member goes to their outbox (bot/console_outbox.py),
which every process on this machine using the same database shares, and their
session shows it as its own block: as it arrives, or when they next chat. Where the
console is the only chat, a session runs the notifier and the campaign dispatcher
for the console while it lasts. A QR code is drawn in the terminal and its picture
saved to a file whose path is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import segno

from bot import metrics
from bot.campaign_dispatch import Dispatcher, Edit
from bot.console_outbox import Outbox, scratch
from bot.notifier import Notifier, Push
from handlers.engine import i18n
from handlers.engine.engine import Engine
from handlers.engine.types import Inbound, Rendered, Text

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)
PLATFORM = "console"
IMAGES = scratch("memberbot-images")
LOOK_EVERY = 0.25  # seconds between looks at the outbox while waiting for input
SEND_EVERY = 1.0  # seconds between the console's notifier and dispatcher passes
SETTLE_WITHIN = 10.0  # seconds a scripted line waits for the campaigns it started


class Courier:
    """The notifier and the campaign dispatcher for the console: they put what is for
    a console member, and an operator's campaign progress, in the outbox."""

    def __init__(self, app: App, outbox: Outbox, every: float = SEND_EVERY) -> None:
        self.app = app
        self.every = every
        self.pushers: dict[str, Push] = {PLATFORM: self.push}
        self.editors: dict[str, Edit] = {PLATFORM: self.edit}
        self.outbox = outbox
        self.notifier = Notifier(app.db, app.programme, self.pushers)

    async def push(self, user: str, message: Rendered) -> str:
        if message.image is not None:  # a photo of megabytes: encoded and written aside
            await asyncio.to_thread(self.outbox.put, user, message)
        else:
            self.outbox.put(user, message)
        return "sent"

    async def edit(self, chat: str, message: Rendered, message_id: str | None) -> str:
        """A terminal cannot change what it printed: the update is a new block."""
        shown = self.outbox.put(chat, message)
        return message_id or shown

    def dispatcher(self, **options: float) -> Dispatcher:
        # Not alone: another console on the same database may be sending too.
        return Dispatcher(self.app.db, self.app.programme, self.pushers, self.editors,
                          **{"every": self.every, **options})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(self.notifier.run(every=self.every)),
                 asyncio.create_task(self.dispatcher().run())]
        try:
            yield
        finally:
            await _stop(tasks)

    async def settle(self, campaigns: bool = True) -> None:
        """Send what is due now: the notices, then (when `campaigns`) every campaign
        that is due or being sent, until it is done or SETTLE_WITHIN has passed."""
        while await self.notifier.run_once() > 0:
            pass
        if campaigns:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_WITHIN):
                    await self.dispatcher(every=0.05, progress_every=0.0).run_until_idle()
            while await self.notifier.run_once() > 0:  # what the campaigns caused
                pass


class ConsoleChat:
    def __init__(self, engine: Engine, user: str, locale: str | None = None, *,
                 outbox: Outbox | None = None, images: Path = IMAGES,
                 courier: Courier | None = None) -> None:
        self.engine = engine
        self.user = user
        self.locale = locale
        self.outbox = outbox
        self.images = images
        self.courier = courier
        self.shown_locale = i18n.negotiate(locale) or engine.programme.default_locale
        self._pushed: list[str] = []  # the buttons of the last message that arrived

    async def say(self, line: str) -> list[str]:
        """Send one line as the simulated member; return what the bot printed. A number
        answers the buttons of a message that arrived since the last reply that had any."""
        action = self._pressed(line)
        began = time.perf_counter()
        answer = await self.engine.handle(Inbound(
            platform=PLATFORM, user_id=self.user, chat_id=self.user,
            text="" if action else line, action=action, locale=self.locale))
        kind = "callback" if action else "update"
        metrics.handled(PLATFORM, kind, "answered" if answer.replies else "silent")
        if answer.replies:
            metrics.replied(PLATFORM, time.perf_counter() - began)
        self.shown_locale = answer.locale
        rendered = answer.rendered()
        if any(r.buttons for r in rendered):
            self._pushed = []
        return [format_reply(r, answer.locale, self.images) for r in rendered]

    def arrived(self) -> list[str]:
        """What arrived for this member outside the conversation, each as a block."""
        if self.outbox is None:
            return []
        try:
            taken = self.outbox.take(self.user)
        except OSError:  # its folder is unusable: log it, and go on chatting
            log.exception("reading the console outbox failed")
            return []
        blocks = []
        for message in taken:
            if message.buttons:
                self._pushed = [action for row in message.buttons for _, action in row]
            heading = i18n.translate(Text("console.arrived"), self.shown_locale)
            blocks.append(f"{heading}\n{format_reply(message, self.shown_locale, self.images)}")
        return blocks

    async def settle(self, campaigns: bool = True) -> list[str]:
        """Send what is due (where this session sends), then what arrived."""
        if self.courier is not None:
            await self.courier.settle(campaigns)
        return self.arrived()

    @asynccontextmanager
    async def live(self, show: Callable[[list[str]], None]) -> AsyncIterator[None]:
        """While it lasts: the sending runs in the background and what arrives is
        handed to `show` as it comes."""
        async def look() -> None:
            while True:
                blocks = self.arrived()
                if blocks:
                    show(blocks)
                await asyncio.sleep(LOOK_EVERY)
        async with contextlib.AsyncExitStack() as stack:
            if self.courier is not None:
                await stack.enter_async_context(self.courier.running())
            task = asyncio.create_task(look())
            stack.push_async_callback(_stop, [task])
            yield

    def _pressed(self, line: str) -> str | None:
        number = line.strip()
        if self._pushed and number.isascii() and number.isdigit() \
                and 1 <= int(number) <= len(self._pushed):
            return self._pushed[int(number) - 1]
        return None


@asynccontextmanager
async def session(app: App, user: str, locale: str | None = None, *,
                  outbox: Outbox | None = None,
                  images: Path = IMAGES) -> AsyncIterator[ConsoleChat]:
    """A console chat as `user`. Where the console is the only chat, the session also
    sends the console's notices and campaigns (Courier) for as long as it lasts; with
    Telegram or WeChat configured, their process does."""
    outbox = outbox or Outbox.of(app.settings.database_url)
    courier = Courier(app, outbox) if app.settings.console_only else None
    yield ConsoleChat(app.engine, user=user, locale=locale, outbox=outbox, images=images,
                      courier=courier)


def register(app: App) -> None:
    """Let this process's notifier and campaign dispatcher deliver to console members
    too, into their outbox, where campaigns reach them (Settings.console_reached). Call
    it after the platforms registered theirs: a member with another account is then
    sent there first."""
    if app.settings.console_reached:
        courier = Courier(app, Outbox.of(app.settings.database_url))
        app.pushers.setdefault(PLATFORM, courier.push)
        app.editors.setdefault(PLATFORM, courier.edit)


def format_reply(rendered: Rendered, locale: str, images: Path = IMAGES) -> str:
    lines = [rendered.text]
    buttons = [(label, action) for row in rendered.buttons for label, action in row]
    if buttons:
        # A button typed as its label (a score) shows that label alone: [0] .. [10].
        lines.append("  ".join(f"[{label}]" if action in rendered.values else f"[{i}] {label}"
                               for i, (label, action) in enumerate(buttons, 1)))
        lines.append(i18n.translate(Text("console.choose"), locale))
    if rendered.image is not None:
        lines.extend(_picture(rendered.image, rendered.qr, locale, images))
    if rendered.file is not None:
        lines.append(_file(*rendered.file, locale, images))
    return "\n".join(lines)


def _file(name: str, content: bytes, locale: str, images: Path) -> str:
    """A document (a CSV export) saved beside the pictures, under its own name with the
    first bytes of its digest, so two exports never overwrite each other."""
    stem, dot, kind = Path(name).name.rpartition(".")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in (stem or kind))[:60]
    path = (images / f"{safe}-{hashlib.sha256(content).hexdigest()[:8]}"
            f"{dot}{kind if stem else ''}").resolve()
    try:
        images.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError:
        return i18n.translate(Text("console.file_unsaved", {"path": str(path)}), locale)
    return i18n.translate(Text("console.file_saved", {"path": str(path)}), locale)


def _picture(image: bytes, qr: str | None, locale: str, images: Path) -> list[str]:
    """A QR code drawn in half blocks (as the reply's own picture has it), and the
    picture saved where the member can open it."""
    lines = []
    if qr is not None:
        drawn = io.StringIO()
        segno.make_qr(qr, error="m").terminal(out=drawn, compact=True)
        lines.append(drawn.getvalue().rstrip("\n"))
    kind = "png" if image.startswith(b"\x89PNG") else "jpg" if image.startswith(b"\xff\xd8") \
        else "bin"
    path = (images / f"{'qr' if qr else 'image'}-{hashlib.sha256(image).hexdigest()[:16]}"
            f".{kind}").resolve()
    try:
        images.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(image)
    except OSError:
        lines.append(i18n.translate(Text("console.image_unsaved", {"path": str(path)}), locale))
        return lines
    key = "console.qr_saved" if qr else "console.image_saved"
    lines.append(i18n.translate(Text(key, {"path": str(path)}), locale))
    return lines


class Screen:
    """The terminal: blocks that arrive while the prompt waits are printed above a
    fresh prompt, not into the line being typed."""

    def __init__(self, out: TextIO, prompting: bool) -> None:
        self.out = out
        self.prompting = prompting  # an interactive chat: a "> " prompt is shown
        self.at_prompt = False

    def prompt(self) -> None:
        if self.prompting:
            self.out.write("> ")
            self.out.flush()
            self.at_prompt = True

    def show(self, blocks: list[str]) -> None:
        if not blocks:
            return
        waiting = self.at_prompt
        if waiting:  # leave the prompt's line: clear it where we can, else end it
            self.out.write("\r\x1b[2K" if _is_terminal(self.out) else "\n")
            self.at_prompt = False
        for block in blocks:
            print(block, file=self.out)
            print(file=self.out)
        self.out.flush()
        if waiting:
            self.prompt()


async def read_line(stdin: TextIO) -> str:
    """`stdin.readline()` on a daemon thread. A pool thread (asyncio.to_thread) would be
    joined at exit, so after Ctrl-C the process would wait for Enter."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str] = loop.create_future()

    def settle(text: str | None, error: BaseException | None) -> None:
        if line.done():  # the chat ended meanwhile
            return
        if error is not None:
            line.set_exception(error)
        else:
            line.set_result(text or "")

    def read() -> None:
        try:
            text, error = stdin.readline(), None
        except Exception as exc:  # noqa: BLE001 - handed to the waiting chat
            text, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, text, error)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return await line


async def run(chat: ConsoleChat, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
              default_locale: str = "en") -> None:
    """Chat until end of input. Lines are read in a thread so the loop stays free.

    At a terminal, what arrives is shown as it comes; a script shows it after the line
    that caused it (its notices, and the campaigns it started, sent first)."""
    interactive = stdin.isatty()
    locale = i18n.negotiate(chat.locale) or default_locale
    print(i18n.translate(Text("console.banner", {"user": chat.user}), locale), file=stdout)
    screen = Screen(stdout, prompting=interactive)
    if interactive:
        async with chat.live(screen.show):
            await _converse(chat, stdin, screen, lambda: chat.settle(campaigns=False))
    else:
        screen.show(await chat.settle())
        await _converse(chat, stdin, screen, chat.settle)


async def _converse(chat: ConsoleChat, stdin: TextIO, screen: Screen,
                    after: Callable[[], Awaitable[list[str]]]) -> None:
    while True:
        screen.prompt()
        raw = await read_line(stdin)
        screen.at_prompt = False
        if not raw:
            return
        line = raw.rstrip("\n")
        if not screen.prompting:
            print(f"> {line}", file=screen.out)
        if not line.strip():
            continue
        screen.show(await chat.say(line))
        screen.show(await after())
        screen.out.flush()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
