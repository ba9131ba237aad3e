"""Campaigns on WeChat: a member whose 48-hour window is open gets a customer-service
message; one whose window is closed (and no template stands in) is deferred, which the
progress counts as unreachable; the operator hears the start and the end only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from bot.campaigns import Dispatcher
from bot.wechat.api import Api, fetcher
from bot.wechat.push import Pusher
from bot.wechat.tokens import DatabaseTokens
from domain import campaigns, service_window
from domain.campaign_models import Delivery
from domain.campaigns import Draft, Operator
from domain.config import WeChat
from domain.segments import Segment
from tests import crowd
from tests.fake_wechat import APP_ID, SECRET, FakeWeChat


async def test_open_windows_are_sent_and_closed_ones_deferred(db, programme):
    now = datetime.now(UTC)
    await crowd.add(db, [crowd.Person(consent=False, accounts=(("wechat", "oBoss"),))], now)
    await crowd.plain(db, 2, now, first_id=2, accounts=None)  # Telegram only: not in the segment
    await crowd.add(db, [crowd.Person(accounts=(("wechat", f"o{i}"),)) for i in range(4)], now,
                    first_id=10)
    async with db.uow() as uow:
        for openid in ("oBoss", "o0", "o1"):
            await service_window.opened(uow, "wechat", openid, now, 48, 20)
        made = await campaigns.create(uow, programme, Operator(1, "wechat", "oBoss", "zh_Hans"),
                                      Draft(Segment(platforms=("wechat",)), ("新茶到店",)), "w",
                                      now)
        await uow.commit()
    async with FakeWeChat() as fake, aiohttp.ClientSession() as session:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           lambda: datetime.now(UTC)))
        pusher = Pusher(db, Api(session, fake.url, tokens), WeChat(), "zh_Hans")
        dispatcher = Dispatcher(db, programme, {"wechat": pusher.notify}, every=0.05,
                                progress_every=0.0)
        await asyncio.wait_for(dispatcher.run_until_idle(), 30)
        texts = fake.sent()
    async with db.uow() as uow:
        outcome = dict((await uow.session.execute(
            select(Delivery.member_id, Delivery.status)
            .where(Delivery.campaign_id == made.campaign.id))).all())
    assert outcome == {10: "sent", 11: "sent", 12: "deferred", 13: "deferred"}
    to_members = [t for t in texts if t["touser"] != "oBoss"]
    assert sorted(t["touser"] for t in to_members) == ["o0", "o1"]
    assert all(t["text"]["content"] == "新茶到店" for t in to_members)
    progress = [t["text"]["content"] for t in texts if t["touser"] == "oBoss"]
    assert len(progress) == 2  # the start, and the end
    assert "发送中" in progress[0] and "已完成" in progress[1]
    assert "已发送 2 · 失败 0 · 无法送达 2 · 剩余 0" in progress[1]
