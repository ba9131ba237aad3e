"""The 5-second rule: a slow answer is acknowledged with "success" and then sent once as
a customer-service message, also when WeChat retries the same MsgId meanwhile."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sqlalchemy import func, select

from domain.points.tables import Checkin
from handlers.routers import build_engine
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml


class GatedEngine:
    """The real engine behind a gate the test opens: 'slow' without sleeping."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.gate = asyncio.Event()
        self.calls = 0

    async def handle(self, inbound):
        self.calls += 1
        await self.gate.wait()
        return await self.engine.handle(inbound)


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


async def _settled(bot, fake, texts: int) -> None:
    for _ in range(500):
        if not bot.webhook.tasks and len(fake.texts()) >= texts:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still waiting: {len(bot.webhook.tasks)} tasks, {fake.texts()}")


@pytest.mark.parametrize("safe", [True, False])
async def test_slow_answer_is_success_then_one_customer_service_message(db, programme, fake,
                                                                       safe):
    engine = GatedEngine(build_engine(db, programme))
    async with Bot(db, programme, fake, safe=safe, deadline=0.2, engine=engine) as bot, \
            aiohttp.ClientSession() as http:
        xml = message_xml("oSlow", content="/checkin", msg_id=9001)
        status, text = await bot.server.post(http, xml)
        assert (status, text) == (200, "success")
        # WeChat's retries of the same message while the first is still running.
        for _ in range(2):
            status, text = await bot.server.post(http, xml)
            assert (status, text) == (200, "success")
        engine.gate.set()
        await _settled(bot, fake, texts=1)
        assert len(fake.texts()) == 1
        assert fake.sent()[0]["touser"] == "oSlow"
        # A retry after everything was sent gets nothing new either.
        status, text = await bot.server.post(http, xml)
        assert (status, text) == (200, "success")
        await _settled(bot, fake, texts=1)
    assert len(fake.texts()) == 1
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Checkin)) == 1


async def test_fast_answer_never_uses_the_customer_service_api(db, programme, fake):
    engine = GatedEngine(build_engine(db, programme))
    engine.gate.set()
    async with Bot(db, programme, fake, deadline=4.0, engine=engine) as bot, \
            aiohttp.ClientSession() as http:
        assert await bot.server.say(http, "oFast", "/points", 9101)
        await _settled(bot, fake, texts=0)
    assert fake.calls == []
