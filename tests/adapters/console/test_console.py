"""The console as a place to try everything: notices and campaign messages show in the
member's session, the operator sees the campaign's progress there, and QR codes are
drawn in the terminal with their picture saved where the path shown says."""

from __future__ import annotations

import asyncio
import io
import queue
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segno
from sqlalchemy import select

from bot import console
from bot import programme as programme_file
from bot.app import App, reach
from bot.console_outbox import Outbox
from bot.settings import Settings, SettingsError
from domain.campaigns.segments import Reach
from domain.campaigns.tables import Delivery
from domain.members.tables import Identity
from domain.notices.tables import Notice
from domain.points import purchases
from domain.rewards import rewards
from domain.rewards.tables import Coupon
from domain.staff import roles
from handlers.engine.render import dump, load
from handlers.engine.types import Rendered
from handlers.routers import build_engine
from tests.adapters.wechat.test_wechat_scenes import encodes


def app_of(db, settings: Settings | None = None) -> App:
    settings = settings or Settings()  # no platform configured: the console is the chat
    programme = programme_file.load()  # its own: the shared fixture is never told a reach
    programme.keep_reach(reach(settings))
    return App(settings, programme, db, build_engine(db, programme))


@pytest.fixture
def place(tmp_path) -> dict:
    return {"outbox": Outbox(tmp_path / "outbox"), "images": tmp_path / "images"}


async def member_id(db, user: str) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Identity.member_id).where(
            Identity.platform == "console", Identity.external_id == user))


async def buy(app: App, user: str, amount: int, order: str) -> purchases.Recorded:
    """A purchase from the shop's till (the API's path), as the member's tier counts it."""
    buyer = await member_id(app.db, user)
    async with app.db.uow() as uow:
        done = await purchases.record(uow, app.programme, buyer,
                                      purchases.Order(order, amount, "CNY"), datetime.now(UTC))
        await uow.commit()
    return done


def press(out: str, label: str) -> str:
    """The number the console shows for the button labelled `label`."""
    found = re.search(r"\[(\d+)\] " + re.escape(label), out)
    assert found, f"no button {label!r} in:\n{out}"
    return found.group(1)


async def said(chat: console.ConsoleChat, line: str) -> str:
    return "\n\n".join(await chat.say(line))


async def script(chat: console.ConsoleChat, *lines: str) -> str:
    """`memberbot chat` reading a script: what it prints."""
    out = io.StringIO()
    await console.run(chat, stdin=io.StringIO("".join(f"{line}\n" for line in lines)),
                      stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(("locale", "heading", "upgraded"), [
    ("en", "— A new message —", "Congratulations, you have reached Gold!"),
    ("zh_Hans", "— 新消息 —", "恭喜您升级为黄金会员！"),
])
async def test_a_tier_upgrade_notice_shows_in_the_members_session(db, place, locale, heading,
                                                                  upgraded):
    app = app_of(db)
    async with console.session(app, "alice", locale, **place) as alice:
        await alice.say("/start")
        done = await buy(app, "alice", 300_000, "T-1")
        assert done.upgraded and done.tier == "gold"
        out = await script(alice, "/tier")
    # Shown before the next line is read, as its own block after the banner.
    banner, rest = out.split("\n", 1)
    assert rest.startswith(f"{heading}\n{upgraded}\n\n> /tier\n")
    async with db.uow() as uow:
        [notice] = list(await uow.session.execute(
            select(Notice.key, Notice.status, Notice.platform)))
    assert tuple(notice) == ("tier.upgraded", "sent", "console")
    assert out.count(upgraded) == 1


async def test_a_notice_arriving_while_the_prompt_waits_is_its_own_block(db, place):
    app = app_of(db)
    keyboard, screen = Keyboard(), io.StringIO()
    async with console.session(app, "alice", "en", **place) as alice:
        running = asyncio.create_task(console.run(alice, stdin=keyboard, stdout=screen))
        keyboard.type("/start")
        await until(lambda: "Member number" in screen.getvalue())
        await until(lambda: screen.getvalue().endswith("> "))
        await buy(app, "alice", 300_000, "T-1")  # nothing typed: it comes by itself
        await until(lambda: "reached Gold" in screen.getvalue())
        await until(lambda: screen.getvalue().endswith("> "))
        keyboard.type("")
        await asyncio.wait_for(running, 10)
    after_reply = screen.getvalue().rsplit("Reply with a number to choose.\n\n", 1)[1]
    # The waiting prompt's line is ended, the notice printed whole, and a fresh prompt given.
    assert after_reply == ("> \n— A new message —\nCongratulations, you have reached Gold!\n\n"
                           "> ")


async def test_a_campaign_sent_from_the_console_reaches_a_console_members_session(db, place):
    app = app_of(db)
    async with console.session(app, "alice", "en", **place) as alice:
        await said(alice, "/start")
        out = await said(alice, "/profile")
        out = await said(alice, press(out, "Marketing consent"))
        assert "Marketing messages: Yes" in await said(alice, press(out, "Yes"))
    # The owner, as MEMBERBOT_OWNER=console:boss makes them, in a session of their own.
    async with console.session(app, "boss", "en", **place) as boss:
        await said(boss, "/start")
        async with db.uow() as uow:
            await roles.set_owner(uow, app.programme, "console:boss", datetime.now(UTC))
            await uow.commit()
        out = await said(boss, "/campaign")
        assert "This reaches 1 member" in out  # alice; the owner gave no consent
        out = await said(boss, press(out, "Next"))
        out = await said(boss, "Spring tea has arrived!")
        for choice in ("No offer", "One message", "No holdout", "Now", "Confirm"):
            if f"] {choice}" in out or f"] ✅ {choice}" in out:
                out = await said(boss, press(out, f"✅ {choice}" if f"✅ {choice}" in out
                                           else choice))
        assert "Campaign #1 is confirmed" in out
        *_, last = await boss.settle()  # the progress, shown anew as it moved
        assert "Campaign #1: finished" in last and "Sent 1" in last
        # Its buttons answer by number, though they came outside the conversation.
        assert "delivered 1" in await said(boss, press(last, "📊 Results"))
    async with db.uow() as uow:
        [delivery] = list(await uow.session.execute(select(Delivery.status, Delivery.platform)))
    assert tuple(delivery) == ("sent", "console")
    # Alice was away: it waited, and her next session shows it first.
    async with console.session(app, "alice", "en", **place) as alice:
        out = await script(alice, "/points")
    assert out.split("\n", 1)[1].startswith(
        "— A new message —\nSpring tea has arrived!\n\nReply TD to stop offers.\n\n"
        "> /points\n")
    assert out.count("Spring tea has arrived!") == 1


async def test_a_qr_code_is_drawn_and_its_picture_saved_where_the_path_says(db, place):
    app = app_of(db)
    async with console.session(app, "alice", "en", **place) as alice:
        await alice.say("/start")
        await buy(app, "alice", 30_000, "Q-1")
        me = await member_id(db, "alice")
        async with db.uow() as uow:
            await rewards.redeem(uow, app.programme, me, "free_pot", "tap1", datetime.now(UTC))
            await uow.commit()
        out = await said(alice, "/coupons")
    async with db.uow() as uow:
        code = await uow.session.scalar(select(Coupon.code))
    assert "[image:" not in out
    saved = re.search(r"QR code saved to (\S+\.png)$", out, re.MULTILINE)
    assert saved, out
    path = Path(saved.group(1))
    assert path.is_absolute() and path.parent == place["images"].resolve()
    picture = await asyncio.to_thread(path.read_bytes)
    assert encodes(picture, code)  # the picture a till scans holds the code
    assert drawn(out) == [[bool(v) for v in row] for row in segno.make_qr(code, error="m").matrix]


def test_only_one_session_takes_a_message_and_it_keeps_its_buttons_and_qr(tmp_path):
    outbox = Outbox(tmp_path)
    message = Rendered("Hello", buttons=((("Go", "go:1"),),), qr="ABC", image=b"\x89PNG")
    name = outbox.put("alice", message)
    assert name and outbox.take("bob") == []
    assert outbox.take("alice") == [load(dump(message))] == [message]
    assert outbox.take("alice") == []
    # Every process using the same SQLite file shares one outbox, whatever the spelling.
    assert Outbox.of("sqlite+aiosqlite:///m.db", tmp_path).root == Outbox.of(
        f"sqlite+aiosqlite:///{Path('m.db').resolve()}", tmp_path).root
    assert Outbox.of("sqlite+aiosqlite:///a.db", tmp_path).root != Outbox.of(
        "sqlite+aiosqlite:///b.db", tmp_path).root


async def test_with_telegram_configured_the_platforms_process_sends_not_the_console(db, place):
    settings = Settings(telegram_token="1:a")
    assert reach(settings) == Reach() and not settings.console_reached
    asked = Settings(telegram_token="1:a", console_reachable=True)
    assert asked.console_reached and reach(asked).unsent == frozenset()
    async with console.session(app_of(db, settings), "alice", "en", **place) as alice:
        assert alice.courier is None
    # A platform's process delivers to console members where campaigns reach them, after
    # its own platform in the order of preference.
    for given, reached in ((settings, False), (asked, True)):
        app = app_of(db, given)
        app.pushers["telegram"] = app.editors["telegram"] = object()  # type: ignore[assignment]
        console.register(app)
        assert list(app.pushers) == (["telegram", "console"] if reached else ["telegram"])
        assert list(app.editors) == list(app.pushers)


# ------------------------------------------------------------------ helpers


class Keyboard(io.TextIOBase):
    """A terminal's stdin: lines as they are typed; "" ends the input."""

    def __init__(self) -> None:
        self.lines: queue.Queue[str] = queue.Queue()

    def isatty(self) -> bool:
        return True

    def readline(self, size: int = -1) -> str:
        return self.lines.get(timeout=30)

    def type(self, line: str) -> None:
        self.lines.put(f"{line}\n" if line else "")


async def until(check, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a test deadline
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - it polls
            await asyncio.sleep(0.02)


def drawn(out: str) -> list[list[bool]]:
    """The QR modules the half-block drawing in `out` shows (True = dark), the quiet
    zone around them left out."""
    halves = {" ": (True, True), "▀": (False, True), "▄": (True, False), "█": (False, False)}
    art = [line for line in out.splitlines() if line and set(line) <= set(halves)]
    rows = [row for line in art for row in ([halves[c][0] for c in line],
                                            [halves[c][1] for c in line])]
    if all(rows[-1]):  # the lower half of an odd last line: no modules, drawn dark
        rows.pop()
    dark = [(y, x) for y, row in enumerate(rows) for x, v in enumerate(row) if v]
    top, bottom = min(y for y, _ in dark), max(y for y, _ in dark)
    left, right = min(x for _, x in dark), max(x for _, x in dark)
    return [row[left:right + 1] for row in rows[top:bottom + 1]]


def test_the_console_reachable_setting():
    def reached(**env: str) -> bool:
        return Settings.from_env(env).console_reached

    assert reached() and not reached(MEMBERBOT_CONSOLE_REACHABLE="0")
    assert not reached(MEMBERBOT_TELEGRAM_TOKEN="1:a")
    assert reached(MEMBERBOT_TELEGRAM_TOKEN="1:a", MEMBERBOT_CONSOLE_REACHABLE="1")
    assert reached(MEMBERBOT_TELEGRAM_TOKEN="1:a", MEMBERBOT_CONSOLE_REACHABLE="yes")
    with pytest.raises(SettingsError, match="MEMBERBOT_CONSOLE_REACHABLE must be 1 or 0"):
        Settings.from_env({"MEMBERBOT_CONSOLE_REACHABLE": "sometimes"})
