"""Starting Telegram when it does not go to plan, on both libraries against the local
Bot API server: out of reach, it is waited for with growing pauses and one line per
attempt; a token it refuses ends the start in one line."""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import replace

import pytest

from bot import web
from bot.app import App
from bot.settings import Settings, SettingsError
from bot.telegram import service
from handlers.routers import build_engine
from tests.adapters.cli.live import Memberbot

LIBRARIES = ["aiogram", "ptb"]
RETRY = re.compile(r"^Telegram API unreachable at (\S+) \((.+)\); retrying in (\d+) s$")


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


@pytest.mark.parametrize("library", LIBRARIES)
async def test_an_unreachable_bot_api_is_retried_with_growing_waits_and_the_bot_keeps_running(
        library, tmp_path):
    port = closed_port()
    env = {"MEMBERBOT_TELEGRAM_TOKEN": "123456:AAH-unreachable",
           "MEMBERBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
           "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": "0"}
    async with Memberbot("run", "--telegram-library", library, cwd=tmp_path, env=env) as bot:
        await bot.line("retrying in 4 s", stream="stderr")
        assert bot.proc is not None and bot.proc.returncode is None  # still at it
        attempts = [RETRY.match(line) for line in bot.stderr]
        assert all(attempts), bot.output()  # nothing else: no traceback, no log noise
        assert [m.group(3) for m in attempts if m][:3] == ["1", "2", "4"]
        assert {(m.group(1), m.group(2)) for m in attempts if m} == {
            (f"127.0.0.1:{port}", "connection refused")}
        assert f"telegram ({library}, long polling)" in "\n".join(bot.stdout)
        assert await bot.stop() == 0  # stopping while it waits is an ordinary stop
    assert not any("Traceback" in line for line in bot.stdout + bot.stderr)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_token_telegram_refuses_ends_the_start_in_one_line(library, api, tmp_path):
    env = {"MEMBERBOT_TELEGRAM_TOKEN": "999999:AAH-revoked",
           "MEMBERBOT_TELEGRAM_API_URL": api.root,
           "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": "0"}
    async with Memberbot("run", "--telegram-library", library, cwd=tmp_path, env=env) as bot:
        assert await bot.ended(within=90) == 2
    assert bot.stderr == ["Telegram refused MEMBERBOT_TELEGRAM_TOKEN (401 Unauthorized): the "
                          "token is mistyped or was revoked; copy the current one from "
                          "@BotFather"], bot.output()


async def started(api, db, programme, library: str, **extra):
    settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                       telegram_library=library, telegram_rate=1000.0, **extra)
    app = App(settings, programme, db, build_engine(db, programme))
    running = service.running(app, web.build(db))
    await running.__aenter__()
    return running


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_bot_api_failing_at_first_is_waited_for_then_served(
        library, api, db, programme, capsys):
    api.fail_next("getMe", 502, "Bad Gateway")
    api.fail_next("getMe", 502, "Bad Gateway")
    running = await asyncio.wait_for(started(api, db, programme, library), 60)
    try:
        host = api.root.removeprefix("http://")
        said = capsys.readouterr().err.splitlines()
        assert [line for line in said if line.startswith("Telegram")] == [
            f"Telegram API unreachable at {host} (Bad Gateway); retrying in 1 s",
            f"Telegram API unreachable at {host} (Bad Gateway); retrying in 2 s",
            f"Telegram API at {host} answers again",
        ]
        assert [c.method for c in api.calls[:3]] == ["getMe"] * 3
        api.message(1001, "/start")
        (welcome,) = await api.wait_for(1, method="sendMessage", chat_id=1001)
        assert "Welcome" in welcome.text
    finally:
        await running.__aexit__(None, None, None)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_a_webhook_telegram_refuses_ends_the_start_with_its_reason(
        library, api, db, programme):
    api.fail_next("setWebhook", 400, "Bad Request: bad webhook: Failed to resolve host")
    # PTB rewords the description a little ("Bad webhook: failed to ...").
    with pytest.raises(SettingsError, match=r"(?i)^Telegram refused (setWebhook|a start-up "
                       r"call): (Bad Request: )?bad webhook: failed to resolve host$"):
        await started(api, db, programme, library,
                      telegram_webhook_url="https://nowhere.invalid/tg",
                      telegram_webhook_secret="s3cret")
    assert api.webhook is None
