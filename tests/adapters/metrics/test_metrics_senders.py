"""The senders' and the inbound pipeline's figures, scraped from /metrics: Telegram's
Sender through aiogram and PTB against the fake Bot API (sent, 429, 403, a refused
message, its queue while paused), WeChat's pusher against the fake WeChat server (the
window closed, the quota spent, an unfollow, a rate limit), and updates and button
presses through the shared inbox pipeline, a redelivery counted as replayed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.pipeline import Pipeline
from bot.telegram.sender import Sender
from bot.wechat.api import Api, fetcher
from bot.wechat.programme import WeChat
from bot.wechat.push import Pusher
from bot.wechat.store import service_window
from bot.wechat.tokens import DatabaseTokens
from domain.members import members
from handlers.engine.types import Inbound, Rendered
from tests.support.fake_wechat import APP_ID, SECRET, FakeWeChat
from tests.support.metrics_scrape import serving

HI = Rendered("hi")


def sends(figures, platform: str) -> dict[str, float | None]:
    return {outcome: figures.get("memberbot_sends_total", platform=platform, outcome=outcome)
            for outcome in ("sent", "429", "403", "window_closed", "quota", "rejected",
                            "failed")}


async def test_telegram_sends_count_by_outcome_and_the_queue_shows_a_pause(
        db, programme, api, transport):
    async with serving(db, programme, telegram_token="123:abc") as served:
        start = await served.scrape()
        assert sends(start, "telegram") == dict.fromkeys(sends(start, "telegram"), 0)
        sender = Sender(transport, private_interval=0)
        api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        paused = asyncio.create_task(sender.send("7", HI))
        witnessed = None
        while not paused.done():
            figures = await served.scrape()
            if figures.get("memberbot_sends_total", platform="telegram", outcome="429") \
                    and not api.sent():  # read after the scrape: still waiting then
                witnessed = figures
                break
            await asyncio.sleep(0.01)
        assert (await paused).status == "sent"
        assert witnessed is not None, "no scrape fell within the one-second pause"
        assert witnessed.get("memberbot_send_queue_depth", platform="telegram",
                             queue="sender") == 1
        api.blocked.add(42)
        assert (await sender.send("42", HI)).status == "unreachable"
        api.fail_next("sendMessage", 400, "Bad Request: chat not found")
        assert (await sender.send("43", HI)).status == "rejected"
        done = await served.scrape()
    assert sends(done, "telegram") == {"sent": 1, "429": 1, "403": 1, "window_closed": 0,
                                       "quota": 0, "rejected": 1, "failed": 0}
    assert done.get("memberbot_send_queue_depth", platform="telegram", queue="sender") == 0


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_wechat_pushes_count_the_window_the_quota_and_refusals(db, programme):
    clock = Clock()

    async def member_writes() -> None:  # a fresh window, a minute after the last
        clock.now += timedelta(minutes=1)
        async with db.uow() as uow:
            await service_window.opened(uow, "wechat", "oMember", clock(), 48, 2)
            await uow.commit()

    async with FakeWeChat() as fake, aiohttp.ClientSession() as session, \
            serving(db, programme) as served:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           clock), clock=clock)
        pusher = Pusher(db, Api(session, fake.url, tokens), WeChat(window_quota=2), "en",
                        clock=clock)
        async with db.uow() as uow:
            await members.register(uow, programme, "wechat", "oMember", clock())
            await uow.commit()
        await member_writes()
        outcomes = [(await pusher.push("oMember", HI)).outcome for _ in range(3)]
        assert outcomes == ["sent", "sent", "deferred"]  # the third: no quota left
        for code in (45015, 45047, 45009, 40003):
            await member_writes()
            fake.fail("/cgi-bin/message/custom/send", code)
            await pusher.push("oMember", HI)
        await member_writes()
        clock.now += timedelta(hours=49)  # by our own record, the window is over
        assert (await pusher.push("oMember", HI)).outcome == "deferred"
        await member_writes()
        fake.fail("/cgi-bin/message/custom/send", 43004)
        assert (await pusher.push("oMember", HI)).outcome == "unreachable"
        figures = await served.scrape()
    assert sends(figures, "wechat") == {"sent": 2, "429": 1, "403": 1, "window_closed": 2,
                                        "quota": 2, "rejected": None, "failed": 1}


@pytest.mark.parametrize("platform", ["telegram", "wechat"])
async def test_updates_and_button_presses_count_through_the_pipeline(db, programme, platform):
    async with serving(db, programme) as served:
        pipeline = Pipeline(db, served.app.engine, platform)
        answered: list[str] = []

        async def deliver(answer) -> None:
            answered.extend(r.text for r in answer.rendered())

        def said(text: str = "", action: str | None = None, key: str | None = None):
            return Inbound(platform=platform, user_id="u1", chat_id="u1", text=text,
                           action=action, key=key, locale="en")
        await pipeline.receive([("d-1", {})])
        await pipeline.handle(said("/start", key="d-1"), deliver)
        await pipeline.handle(said("/start", key="d-1"), deliver)  # delivered again
        await pipeline.handle(said(action="menu:points"), deliver)
        figures = await served.scrape()
    assert answered
    count = {(kind, outcome): figures.get("memberbot_inbound_handled_total", platform=platform,
                                          kind=kind, outcome=outcome)
             for kind in ("update", "callback") for outcome in ("answered", "replayed")}
    assert count == {("update", "answered"): 1, ("update", "replayed"): 1,
                     ("callback", "answered"): 1, ("callback", "replayed"): None}
    assert figures.get("memberbot_reply_seconds_count", platform=platform) == 2
