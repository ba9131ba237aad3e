"""Fixtures for the Telegram tests: a local Bot API server, and a transport on each
library talking to it. Loaded for the whole suite from conftest.py; a test module that
defines its own `api` (the purchases API tests) keeps it."""

from __future__ import annotations

import pytest

from bot.telegram.transport import AiogramTransport, PtbTransport
from tests.support.fake_telegram import FakeBotAPI, aiogram_bot, ptb_bot


@pytest.fixture
async def api():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture(params=["aiogram", "ptb"])
async def transport(request, api):
    if request.param == "aiogram":
        async with aiogram_bot(api) as bot:
            yield AiogramTransport(bot)
    else:
        async with ptb_bot(api) as bot:
            yield PtbTransport(bot)
