"""The whole web app, not only /api/v1, refuses in one JSON shape: an unknown path, a
wrong method, a body too large and a handler's own failure each get
`{"error": {"code", "message"}}`, while /healthz, /wechat and the Telegram webhook go on
answering as they do."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace

import aiohttp
import pytest

from bot import web
from bot.app import App
from bot.settings import Settings
from bot.telegram import service
from handlers.routers import build_engine
from tests.support.fake_wechat import Bot, FakeWeChat, signed_query

NOT_FOUND = {"error": {"code": "not_found", "message": "nothing is served at this path"}}


@pytest.fixture
async def served(db):
    """The web app as every `memberbot run` builds it, with one route that fails."""
    web_app = web.build(db)

    async def broken(request):
        raise RuntimeError("a handler's own bug")

    async def large(request):
        return aiohttp.web.json_response({"size": len(await request.read())})

    web_app.router.add_get("/broken", broken)
    web_app.router.add_post("/large", large)
    async with web.serving(web_app, "127.0.0.1", 0) as port, aiohttp.ClientSession() as client:
        yield client, f"http://127.0.0.1:{port}"


async def answer(client, method: str, url: str, **options) -> tuple[int, dict, dict]:
    async with client.request(method, url, **options) as response:
        assert response.content_type == "application/json", await response.text()
        return response.status, await response.json(), dict(response.headers)


@pytest.mark.parametrize("path", ["/", "/nothing", "/healthz/x", "/wechat", "/api",
                                  "/api/v2/purchases", "/tg/hook", "/%E4%BC%9A%E5%91%98"])
async def test_an_unknown_path_anywhere_is_a_json_404(served, path):
    client, base = served
    for method in ("GET", "POST", "DELETE"):
        status, body, _ = await answer(client, method, base + path)
        assert (status, body) == (404, NOT_FOUND), (method, path)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_a_wrong_method_outside_the_api_is_a_json_405_naming_what_is_allowed(
        served, method):
    client, base = served
    status, body, headers = await answer(client, method, base + "/healthz")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert body == {"error": {"code": "method_not_allowed",
                              "message": f"this path answers GET, HEAD, not {method}"}}


async def test_health_still_answers_as_it_did(served):
    client, base = served
    status, body, _ = await answer(client, "GET", base + "/healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_a_body_past_the_limit_is_a_json_413_on_any_path(served):
    client, base = served
    status, body, _ = await answer(client, "POST", base + "/large",
                                   data=b"x" * (web.MAX_BODY + 1))
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert (await answer(client, "POST", base + "/large", data=b"x" * 10))[:2] == (
        200, {"size": 10})


async def test_a_failing_handler_is_a_json_500_and_its_error_is_logged(served, caplog):
    client, base = served
    with caplog.at_level(logging.ERROR, logger="bot.web"):
        status, body, _ = await answer(client, "GET", base + "/broken")
    assert (status, body["error"]["code"]) == (500, "internal_error")
    assert "a handler's own bug" not in str(body)  # the detail is for the log, not the caller
    (record,) = [r for r in caplog.records if r.name == "bot.web"]
    assert record.exc_info and "a handler's own bug" in str(record.exc_info[1])


async def test_the_wechat_callback_answers_as_before_and_refuses_other_methods_in_json(
        db, programme):
    async with FakeWeChat() as fake, Bot(db, programme, fake) as bot, \
            aiohttp.ClientSession() as client:
        signed = {**signed_query(), "echostr": "hello-123"}
        async with client.get(f"{bot.url}/wechat", params=signed) as response:
            assert response.status == 200 and await response.text() == "hello-123"
        status, body, headers = await answer(client, "PUT", f"{bot.url}/wechat")
        assert (status, body["error"]["code"]) == (405, "method_not_allowed")
        assert headers["Allow"] == "GET, HEAD, POST"
        assert (await answer(client, "GET", f"{bot.url}/wechat/menu"))[:2] == (404, NOT_FOUND)


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


async def test_the_telegram_webhook_refuses_other_methods_in_json(db, programme):
    settings = replace(Settings(), telegram_token="123456:AAH-out-of-reach",
                       telegram_api_url=f"http://127.0.0.1:{closed_port()}",
                       telegram_webhook_url="https://bot.example/tg/hook",
                       telegram_webhook_secret="s3cret")
    app = App(settings, programme, db, build_engine(db, programme))
    web_app = web.build(db)
    async with service.connecting(app, web_app), \
            web.serving(web_app, "127.0.0.1", 0) as port, aiohttp.ClientSession() as client:
        url = f"http://127.0.0.1:{port}/tg/hook"
        status, body, headers = await answer(client, "GET", url)
        assert (status, body["error"]["code"], headers["Allow"]) == (
            405, "method_not_allowed", "POST")
        status, body, _ = await answer(client, "POST", url, json={"update_id": 1},
                                       headers={service.SECRET_HEADER: "wrong"})
        assert (status, body["error"]["code"]) == (401, "unauthorized")
