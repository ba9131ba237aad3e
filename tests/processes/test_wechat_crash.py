"""A crash at each point of a passive reply's way out, and a restart: the member gets the
answer exactly once, as the passive reply or as a customer-service message, never both.

Each test runs one bot until the crash point, crashes it (`Bot.crash`: its database
writes fail from then on and its tasks stop, as after `kill -9`), and starts another
on the same database, whose clock runs two minutes ahead when recovery is to find the
delivery (past the in-flight window and the lease). The one gap left by design, a
bot down for longer than WeChat's retries after recording an answer whose reply never
left, is in the README and the webhook's docstring.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select

from domain.conversations.tables import InboxItem
from domain.points.tables import Checkin
from handlers.routers import build_engine
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml

LATER = timedelta(minutes=2)


def later() -> datetime:
    return datetime.now(UTC) + LATER


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


class Stalling:
    """The real engine; the first call stalls once its transaction has committed, as a
    process that stops right after recording an answer."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.committed = asyncio.Event()
        self.go = asyncio.Event()
        self.calls = 0

    async def handle(self, inbound):
        self.calls += 1
        answer = await self.engine.handle(inbound)
        if self.calls == 1:
            self.committed.set()
            await self.go.wait()
        return answer


async def _stall() -> None:
    await asyncio.Event().wait()


async def _checkins(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Checkin))


async def _undelivered(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(InboxItem)
                                        .where(InboxItem.delivered_at.is_(None)))


async def _recover(db, programme, fake) -> None:
    async with Bot(db, programme, fake, clock=later) as restarted:
        await restarted.pipeline.recover(restarted.webhook.process)


@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_a_passive_reply_that_left_is_not_sent_again(db, programme, fake, safe):
    """The reported bug: the reply went out in the 200, the process died before marking
    the delivery done, and recovery sent it again as a customer-service message."""
    async with Bot(db, programme, fake, safe=safe) as first, aiohttp.ClientSession() as http:
        first.pipeline.finish = lambda key: _stall()  # the delivered mark never commits
        reply = await first.server.say(http, "oLeft", "/checkin", 7001)
        await first.crash()
    assert reply and "+5" in reply
    await _recover(db, programme, fake)
    assert fake.texts() == []
    assert await _checkins(db) == 1
    assert await _undelivered(db) == 0


async def test_an_answer_recorded_but_not_sent_comes_with_wechats_retry(db, programme, fake):
    """Killed after the answer was recorded, before the reply left: WeChat got nothing
    and retries; the retry carries the recorded answer, and recovery sends nothing."""
    stalling = Stalling(build_engine(db, programme))
    xml = message_xml("oRetried", content="/checkin", msg_id=7002)
    async with Bot(db, programme, fake, engine=stalling, deadline=30) as first, \
            aiohttp.ClientSession() as http:
        request = asyncio.create_task(first.server.post(http, xml))
        await stalling.committed.wait()
        await first.crash()
        await request  # whatever a crashed bot still says, a killed one says nothing
    async with Bot(db, programme, fake) as restarted, aiohttp.ClientSession() as http:
        status, body = await restarted.server.post(http, xml)  # WeChat's retry
        assert status == 200
        reply = restarted.server.open_reply(body)
    assert reply and "+5" in reply
    await _recover(db, programme, fake)
    assert fake.texts() == []
    assert await _checkins(db) == 1
    assert await _undelivered(db) == 0


async def test_a_slow_answer_declined_before_success_is_sent_after_a_crash(db, programme,
                                                                           fake):
    """Too slow: WeChat heard "success" (declined first, durably); killed before the
    customer-service message went: recovery sends the whole answer, once."""
    stalling = Stalling(build_engine(db, programme))
    async with Bot(db, programme, fake, engine=stalling, deadline=0.2) as first, \
            aiohttp.ClientSession() as http:
        sending = asyncio.Event()

        async def send_later(openid, messages):
            sending.set()
            await _stall()

        first.webhook._send_later = send_later
        request = asyncio.create_task(first.server.post(
            http, message_xml("oSlow", content="/checkin", msg_id=7003)))
        await stalling.committed.wait()
        assert await request == (200, "success")
        stalling.go.set()
        await sending.wait()
        await first.crash()
    await _recover(db, programme, fake)
    texts = fake.texts()
    assert len(texts) == 1 and "+5" in texts[0]
    await _recover(db, programme, fake)
    assert len(fake.texts()) == 1
    assert await _undelivered(db) == 0


async def test_a_retry_that_carried_the_answer_keeps_the_first_request_from_sending_it(
        db, programme, fake):
    """The first request is still waiting when WeChat's retry comes and carries the
    recorded answer; the first then may not send it as a customer-service message."""
    stalling = Stalling(build_engine(db, programme))
    xml = message_xml("oRace", content="/checkin", msg_id=7004)
    async with Bot(db, programme, fake, engine=stalling, deadline=0.2) as bot, \
            aiohttp.ClientSession() as http:
        retried = asyncio.Event()
        decline = bot.webhook._decline

        async def decline_after_the_retry(incoming, slot):
            await retried.wait()  # the first gives up only once the retry has answered
            return await decline(incoming, slot)

        bot.webhook._decline = decline_after_the_retry
        first = asyncio.create_task(bot.server.post(http, xml))
        await stalling.committed.wait()
        status, body = await bot.server.post(http, xml)  # the retry
        retried.set()
        assert status == 200
        reply = bot.server.open_reply(body)
        assert await first == (200, "success")
        stalling.go.set()
        for _ in range(500):
            if await _undelivered(db) == 0:
                break
            await asyncio.sleep(0.01)
    assert reply and "+5" in reply
    assert fake.texts() == []
    assert await _checkins(db) == 1
    assert await _undelivered(db) == 0
