"""The first hour, tried again from a fresh clone, at the command line: the banner
before the Telegram library is imported; `member show` in the programme's zone and with
consent "not set" as the chat says it; the purchases import's reasons as sentences, the
header as written, a phone no line can have refused as not a phone, and the progress
bar on a terminal only."""

from __future__ import annotations

import argparse
import asyncio
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot import importing, member_cli
from bot import run as running
from bot.app import App
from bot.csv_file import Unreadable
from bot.settings import Settings
from domain.members import members
from domain.members.profile import parse_phone
from domain.tiers import tiers
from handlers.routers import build_engine

# 02:30 on 11 March in Shanghai, still the 10th in UTC.
LATE = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# ------------------------------------------------------------------ the banner comes first

class Stop(Exception):
    """Ends the run where the test has seen what it needed."""


async def test_the_banner_is_out_before_the_telegram_library_is_imported(tmp_path,
                                                                         monkeypatch):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}",
                        telegram_token="123456:" + "A" * 35, http_host="127.0.0.1",
                        http_port=0)
    out = io.StringIO()
    seen: list[str] = []

    def services(chosen: Settings) -> list:
        seen.append(out.getvalue())  # what was printed when the SDKs start to load
        raise Stop

    monkeypatch.setattr(running, "services", services)
    with pytest.raises(Stop):
        await asyncio.wait_for(running.run(settings, asyncio.Event(), stdin=io.StringIO(),
                                           stdout=out), 60)
    assert seen and seen[0].startswith("memberbot run\n"), seen
    assert "telegram (aiogram, long polling)" in seen[0]
    host, _, port = [line for line in seen[0].splitlines()
                     if "web app:" in line][0].split()[-1].partition(":")
    assert host == "127.0.0.1" and int(port) > 0  # still bound before the banner


# ------------------------------------------------------------------ member show

async def show(db, programme, capsys) -> str:
    app = SimpleNamespace(db=db, programme=programme)
    args = argparse.Namespace(number="1", member_command="show")
    assert await member_cli._act(args, app) == 0  # type: ignore[arg-type]
    return capsys.readouterr().out


async def test_member_show_gives_days_in_the_programmes_zone(db, programme, capsys):
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", "alice", LATE)).member
        await tiers.set_floor(uow, programme.tiers, member.id, "gold", LATE)
        member.tier_valid_until = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 Jan there
        await uow.commit()
    out = await show(db, programme, capsys)
    assert "joined: 2026-03-11" in out, out
    assert "valid until: 2027-01-01" in out, out
    assert "on 2026-03-11" in out, out  # the tier change
    assert "2026-03-10" not in out and "2026-12-31" not in out, out


async def test_member_show_says_not_set_for_consent_never_given(db, programme, capsys):
    async with db.uow() as uow:
        await members.register(uow, programme, "console", "alice", LATE)
        await uow.commit()
    out = await show(db, programme, capsys)
    assert "marketing consent: not set\n" in out and "marketing consent: no\n" not in out, out


# ------------------------------------------------------------------ the purchases import

async def app_with_members(db, programme) -> App:
    async with db.uow() as uow:
        for user, phone in (("a", None), ("b", "+8613800138000")):
            member = (await members.register(uow, programme, "console", user,
                                             datetime.now(UTC))).member
            member.phone = phone and parse_phone(phone, programme.phone_country_code)
        await uow.commit()
    return App(Settings(), programme, db, build_engine(db, programme))


async def test_import_reasons_are_sentences_and_an_impossible_phone_is_not_a_phone(
        db, programme, tmp_path):
    app = await app_with_members(db, programme)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,member,phone,amount,currency\n"
                    "A1,00000001,,100,CNY\n"
                    "A7,,12,100,CNY\n"
                    "A8,,00000002,100,CNY\n"
                    "A9,,13500135000,100,CNY\n"
                    "A10,,138 0013 8000,100,CNY\n", encoding="utf-8")
    out = io.StringIO()
    tally = await importing.run(app, path, out=out, err=io.StringIO())
    report = out.getvalue().splitlines()
    assert (tally.imported, len(tally.rejected)) == (2, 3)
    phone = ("Phone must be a phone number, with + and its country code or, for one in +86, "
             "without; got {}.")
    assert f"line 3 (order A7): {phone.format('12')}" in report, report
    assert f"line 4 (order A8): {phone.format('00000002')}" in report, report
    # A possible Chinese mobile nobody gave is still looked for, and said so.
    assert "line 5 (order A9): No member gave phone +8613500135000." in report, report


async def test_a_header_is_quoted_as_written(db, programme, tmp_path):
    app = await app_with_members(db, programme)
    path = tmp_path / "headless.csv"
    path.write_text("G1,1000,CNY,00000002\nG2,500,CNY,00000001\n", encoding="utf-8")
    with pytest.raises(Unreadable, match="it has G1, 1000, CNY, 00000002 "):
        await importing.run(app, path, out=io.StringIO(), err=io.StringIO())


async def test_the_progress_bar_is_drawn_on_a_terminal_only(db, programme, tmp_path):
    app = await app_with_members(db, programme)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,member,amount,currency\nB1,00000001,100,CNY\n", encoding="utf-8")
    piped = io.StringIO()
    await importing.run(app, path, out=io.StringIO(), err=piped)
    assert piped.getvalue() == ""
    terminal = Terminal()
    await importing.run(app, path, out=io.StringIO(), err=terminal)
    assert terminal.getvalue().endswith("] 1/1 rows\n")
