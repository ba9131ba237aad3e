"""Starting Telegram when it does not go to plan, on both libraries against the local
Bot API server: out of reach, it is waited for with growing pauses and one line per
attempt, in the background, while the rest of the web app serves (notices and campaigns
for Telegram accounts wait for it); a token it refuses ends the run in one line."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from dataclasses import replace

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from bot import notifier, web
from bot.api import signing
from bot.app import App
from bot.campaign_dispatch import Dispatcher
from bot.notifier import Notifier
from bot.settings import Settings, SettingsError
from bot.telegram import service
from domain.campaigns.campaigns import Draft
from domain.campaigns.segments import Segment
from domain.notices import notices
from domain.notices.tables import Notice
from handlers.routers import build_engine
from tests.adapters.cli.live import Memberbot
from tests.adapters.test_campaign_dispatch import Platform, make, people, statuses
from tests.domain.notices.test_notices import Platform as NoticePlatform
from tests.domain.notices.test_notices import a_member, queue
from tests.support.fake_telegram import FakeBotAPI
from tests.support.transcript import Clock

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


API_KEY = "k" * 32


async def _until_served(client: ClientSession, url: str, bot: Memberbot) -> None:
    """The banner comes before migrations: wait until the web app answers."""
    for _ in range(300):
        try:
            async with client.get(url) as response:
                assert response.status == 200, await response.text()
                return
        except OSError:
            await asyncio.sleep(0.2)
    raise AssertionError(f"nothing answers at {url}:\n{bot.output()}")


@pytest.mark.parametrize("library", LIBRARIES)
async def test_the_web_app_serves_while_telegram_is_out_of_reach_then_telegram_starts(
        library, tmp_path):
    port = closed_port()
    late = FakeBotAPI()  # comes up later, on the port the bot keeps trying
    env = {"MEMBERBOT_TELEGRAM_TOKEN": late.token,
           "MEMBERBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
           "MEMBERBOT_API_KEY": API_KEY,
           "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": "0"}
    async with Memberbot("run", "--telegram-library", library, cwd=tmp_path, env=env) as bot:
        web_row = await bot.line("^  web app:")
        base = "http://" + web_row.split(":", 1)[1].strip()
        await bot.line("retrying in 1 s", stream="stderr")
        async with ClientSession() as client:
            await _until_served(client, f"{base}/healthz", bot)
            async with client.get(f"{base}/api/v1/openapi.json") as response:
                assert response.status == 200
            body = json.dumps({"order_id": "A-1", "member": {"number": "00000042"},
                               "amount": 100, "currency": "CNY"}).encode()
            async with client.post(f"{base}/api/v1/purchases", data=body,
                                   headers=signing.headers(API_KEY, int(time.time()), body)
                                   ) as response:  # a signed call, through the database
                assert response.status == 404
                assert (await response.json())["error"]["code"] == "unknown_member"
        await bot.line("retrying in 2 s", stream="stderr")  # the retries go on meanwhile
        assert not any("answers again" in line for line in bot.stderr)
        assert bot.proc is not None and bot.proc.returncode is None
        assert all(RETRY.match(line) for line in bot.stderr), bot.output()
        await late.start(port)
        try:
            late.message(1001, "/start")
            (welcome,) = await late.wait_for(1, method="sendMessage", chat_id=1001, timeout=90)
            assert "Welcome" in welcome.text
            await bot.line(f"^Telegram API at 127.0.0.1:{port} answers again$", stream="stderr")
            assert await bot.stop() == 0
        finally:
            await late.stop()
    assert not any("Traceback" in line for line in bot.stdout + bot.stderr)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_in_webhook_mode_the_route_answers_503_until_telegram_is_connected(
        library, db, programme):
    port = closed_port()
    late = FakeBotAPI()
    sock = web.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/tg/hook"
    settings = replace(Settings(), telegram_token=late.token,
                       telegram_api_url=f"http://127.0.0.1:{port}", telegram_library=library,
                       telegram_rate=1000.0, telegram_webhook_url=url,
                       telegram_webhook_secret="s3cret")
    app = App(settings, programme, db, build_engine(db, programme))
    web_app = web.build(db)
    update = {"update_id": 5, "message": {
        "message_id": 1, "date": 1, "chat": {"id": 1001, "type": "private"}, "text": "/start",
        "from": {"id": 1001, "is_bot": False, "first_name": "Ann", "language_code": "en"}}}
    async with service.connecting(app, web_app) as connected, \
            web.serving(web_app, "127.0.0.1", 0, sock=sock), ClientSession() as client:
        async def post(secret: str | None) -> tuple[int, dict, str | None]:
            headers = {service.SECRET_HEADER: secret} if secret else {}
            async with client.post(url, json=update, headers=headers) as response:
                return response.status, await response.json(), \
                    response.headers.get("Retry-After")

        status, body, retry_after = await post("s3cret")
        assert (status, body["error"]["code"], retry_after) == (503, "starting", "5")
        assert (await post("wrong"))[0] == 401  # the secret is checked all the same
        assert app.pushers["telegram"] is notifier.connecting  # in Telegram's place
        assert "telegram" not in app.editors and not connected.done()
        await late.start(port)
        try:
            await asyncio.wait_for(connected, 60)
            assert late.webhook is not None and late.webhook["url"] == url
            assert app.pushers["telegram"] is not notifier.connecting
            assert "telegram" in app.editors
            assert (await post("s3cret"))[0] == 200
            (welcome,) = await late.wait_for(1, method="sendMessage", chat_id=1001)
            assert "Welcome" in welcome.text
        finally:
            await late.stop()


async def test_a_token_refused_after_a_wait_ends_the_run_in_one_line(tmp_path):
    port = closed_port()
    late = FakeBotAPI(token="999999:AAH-right")  # the bot holds a revoked one
    env = {"MEMBERBOT_TELEGRAM_TOKEN": "999999:AAH-revoked",
           "MEMBERBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{port}",
           "MEMBERBOT_API_KEY": API_KEY,
           "MEMBERBOT_HTTP_HOST": "127.0.0.1", "MEMBERBOT_HTTP_PORT": "0"}
    async with Memberbot("run", cwd=tmp_path, env=env) as bot:
        await bot.line("^  web app:")
        await bot.line("retrying in 1 s", stream="stderr")
        await late.start(port)
        try:
            assert await bot.ended(within=90) == 2
        finally:
            await late.stop()
    assert bot.stderr[-1] == ("Telegram refused MEMBERBOT_TELEGRAM_TOKEN (401 Unauthorized): "
                              "the token is mistyped or was revoked; copy the current one "
                              "from @BotFather"), bot.output()
    assert all(RETRY.match(line) for line in bot.stderr[:-1]), bot.output()


async def test_notices_for_telegram_accounts_wait_for_telegram_and_the_others_go(
        db, programme, now):
    telegram_only = await a_member(db, programme, now, ("telegram", "42"))
    both = await a_member(db, programme, now, ("telegram", "43"), ("wechat", "oB"))
    wechat_only = await a_member(db, programme, now, ("wechat", "oW"))
    for member_id in (telegram_only, both, wechat_only):
        await queue(db, member_id, f"k{member_id}", now, tier={"$tier": "gold"})
    clock = Clock(now)
    wechat = NoticePlatform()
    pushers = {"telegram": notifier.connecting, "wechat": wechat}
    sender = Notifier(db, programme, pushers, clock=clock)
    assert await sender.run_once() == 3
    assert [external for external, _ in wechat.got] == ["oW"]
    for _ in range(5):  # however long Telegram takes, nothing is given up
        clock.advance(seconds=20)
        assert await sender.run_once() == 2
    async with db.uow() as uow:
        waiting = {m: (s, a) for m, s, a in await uow.session.execute(
            select(Notice.member_id, Notice.status, Notice.attempts))}
    assert waiting == {telegram_only: ("pending", 0), both: ("pending", 0),
                       wechat_only: ("sent", 1)}
    telegram = NoticePlatform()
    pushers["telegram"] = telegram  # connected: in its place, first
    clock.advance(seconds=notices.WAIT_AGAIN.total_seconds() + 1)
    assert await sender.run_once() == 2
    assert sorted(external for external, _ in telegram.got) == ["42", "43"]
    assert len(wechat.got) == 1
    async with db.uow() as uow:
        assert set(await uow.session.scalars(select(Notice.status))) == {"sent"}


async def test_a_campaign_sent_on_telegram_waits_for_it_and_one_on_wechat_goes(db, programme):
    groups = await people(db)
    telegram, wechat = Platform(), Platform()
    pushers = {"telegram": notifier.connecting, "wechat": wechat.push}
    on_wechat = await make(db, programme, Draft(Segment(platforms=("wechat",)), ("WeChat",)),
                           key="w")
    everyone = await make(db, programme, Draft(Segment(), ("Everyone",)), key="e")
    dispatcher = Dispatcher(db, programme, pushers, every=0.01)
    for _ in range(3):
        await dispatcher.tick()
        await asyncio.sleep(0.05)
    await dispatcher.flush()
    assert await statuses(db, on_wechat) == {"sent": len(groups["both"])}
    assert (await statuses(db, everyone)).keys() == {"pending"}  # not given up on
    assert telegram.handed == []
    pushers["telegram"] = telegram.push
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    assert await statuses(db, everyone) == {"sent": len(groups["both"]) + len(groups["telegram"])}
    assert sorted(telegram.handed) == ["t0", "t1", "t10", "t11", "t2"]
