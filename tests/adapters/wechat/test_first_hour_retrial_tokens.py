"""The first hour, tried again: WeChat's API out of reach at start-up is one clean line
on stderr per attempt, as Telegram's is, never a JSON log line carrying a traceback;
and one more line once WeChat answers again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.wechat.api import ApiError, fetcher
from bot.wechat.store.access_tokens import Token
from bot.wechat.tokens import DatabaseTokens


def closed_port() -> int:
    """A port nobody listens on: connecting to it is refused."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


async def renewing(tokens: DatabaseTokens, seconds: float, **kwargs: float) -> None:
    task = asyncio.create_task(tokens.keep_fresh(**kwargs))
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_wechat_out_of_reach_is_one_clean_line_per_attempt(db, capsys, caplog):
    port = closed_port()
    async with aiohttp.ClientSession() as session:
        fetch = fetcher(session, f"http://127.0.0.1:{port}", "wx-app", "secret",
                        lambda: datetime.now(UTC))
        tokens = DatabaseTokens(db, "wechat:wx-app", fetch)
        with caplog.at_level(logging.INFO):
            await renewing(tokens, 0.6, every=0.2)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2, lines
    for line in lines:
        assert re.fullmatch(rf"WeChat API unreachable at 127\.0\.0\.1:{port} "
                            r"\(connection refused\); retrying in [0-9.]+ s", line), line
    assert "Traceback" not in "\n".join(lines)
    assert not [r for r in caplog.records if r.exc_info], caplog.records


async def test_the_line_says_when_wechat_answers_again_and_what_wechat_refused(db, capsys):
    answers: list[Exception | Token] = []

    async def fetch() -> Token:
        answer = answers.pop(0) if answers else Token("t", datetime.now(UTC) + timedelta(hours=2))
        if isinstance(answer, Exception):
            raise answer
        return answer

    refused = ConnectionRefusedError(111, "Connection refused")
    try:
        raise ApiError(-2, "unreachable: ClientConnectorError") from refused
    except ApiError as unreachable:
        answers += [unreachable, ApiError(40125, "invalid appsecret")]
    tokens = DatabaseTokens(db, "wechat:wx-app", fetch)
    await renewing(tokens, 0.5, every=10.0, first_wait=0.05)
    assert capsys.readouterr().err.splitlines() == [
        "WeChat API unreachable (connection refused); retrying in 0.05 s",
        "WeChat gave no access token (40125: invalid appsecret); retrying in 0.1 s",
        "WeChat API answers again: access token renewed",
    ]
    assert await tokens.get() == "t"
