"""Campaigns on WeChat: an operator builds one by answering numbered options through the
real webhook; a member whose 48-hour window is open gets a customer-service message;
one whose window is closed (and no template stands in) is deferred, which the progress
counts as unreachable, and their coupon is withdrawn; the operator hears the start and
the end only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from bot.campaign_dispatch import Dispatcher
from bot.wechat.api import Api, fetcher
from bot.wechat.programme import WeChat
from bot.wechat.push import Pusher
from bot.wechat.store import service_window
from bot.wechat.tokens import DatabaseTokens
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Delivery
from domain.members.tables import Identity
from domain.rewards import coupons
from domain.rewards.tables import Coupon
from domain.staff import roles
from tests.support import crowd
from tests.support.fake_wechat import APP_ID, SECRET, Bot, FakeWeChat


async def test_open_windows_are_sent_and_closed_ones_deferred(db, programme):
    now = datetime.now(UTC)
    await crowd.add(db, [crowd.Person(consent=False, accounts=(("wechat", "oBoss"),))], now)
    await crowd.plain(db, 2, now, first_id=2, accounts=None)  # Telegram only: not in the segment
    await crowd.add(db, [crowd.Person(accounts=(("wechat", f"o{i}"),)) for i in range(4)], now,
                    first_id=10)
    async with db.uow() as uow:
        for openid in ("oBoss", "o0", "o1"):
            await service_window.opened(uow, "wechat", openid, now, 48, 20)
        made = await campaigns.create(uow, programme, Author(1, "wechat", "oBoss", "zh_Hans"),
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
    # No button under a pushed message here (a number would answer another): TD is typed.
    assert all(t["text"]["content"] == "新茶到店\n\n回复 TD 退订" for t in to_members)
    progress = [t["text"]["content"] for t in texts if t["touser"] == "oBoss"]
    assert len(progress) == 2  # the start, and the end
    assert "发送中" in progress[0] and "已完成" in progress[1]
    assert "已发送 2 · 失败 0 · 无法送达 2 · 剩余 0" in progress[1]


async def test_an_operator_builds_a_coupon_campaign_with_numbers_and_it_goes_out(db, programme):
    now = datetime.now(UTC)
    async with FakeWeChat() as fake, Bot(db, programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        seen, msg_ids = 0, iter(range(7000, 8000))

        async def say(text: str) -> str:
            """The passive reply and the customer-service messages that followed it."""
            nonlocal seen
            first = await bot.server.say(http, "oBoss", text, next(msg_ids))
            await bot.webhook.drain(grace=10)
            later, seen = fake.texts()[seen:], len(fake.texts())
            return "\n".join([first or "", *later])

        await say("/start")  # member 1
        async with db.uow() as uow:
            await roles.set_owner(uow, programme, "wechat:oBoss", now)
            await uow.commit()
        await crowd.add(db, [crowd.Person(accounts=(("wechat", f"o{i}"),)) for i in range(3)],
                        now, first_id=10)
        await crowd.plain(db, 2, now, first_id=20)  # Telegram only
        async with db.uow() as uow:
            for openid in ("o0", "o1"):
                await service_window.opened(uow, "wechat", openid, now, 48, 20)
            await uow.commit()
        out = await say("/campaign")
        assert "第 1 步" in out and "共覆盖 5 位会员" in out and "4. 平台" in out
        assert "1. Telegram\n2. 微信\n3. 完成" in await say("4")
        assert "2. ✓ 微信" in await say("2")
        out = await say("3")
        assert "平台：微信" in out and "共覆盖 3 位会员" in out
        assert "第 2 步" in await say("12")
        assert "第 3 步" in await say("新茶上市")
        assert "1. 免费一壶茶" in await say("2")  # a coupon
        assert "第 4 步" in await say("1")
        assert "对照组" in await say("1")  # one message
        assert "第 5 步" in await say("1")  # no holdout
        out = await say("1")  # now
        assert "使用中文的会员将看到：" in out and "券码 ABCD-EFGH-JKMN-PQRS" in out
        assert "当前会员数：3" in out and "1. ✅ 确认" in out
        assert "已确认" in await say("1")
        assert "已确认" not in await say("1")  # a repeated "1" makes nothing more
        dispatcher = Dispatcher(db, programme, {"wechat": bot.pusher.notify}, every=0.05,
                                progress_every=0.0)
        await asyncio.wait_for(dispatcher.run_until_idle(), 30)
        texts = fake.sent()[seen:]
    async with db.uow() as uow:
        outcome = dict((await uow.session.execute(
            select(Identity.external_id, Delivery.status)
            .join(Identity, Identity.member_id == Delivery.member_id))).all())
        kept = {m: c for m, c in await uow.session.execute(select(Coupon.member_id,
                                                                  Coupon.code))}
        assert await campaigns.count(uow) == 1
    assert outcome == {"o0": "sent", "o1": "sent", "o2": "deferred"}
    assert sorted(kept) == [10, 11]  # o2 never heard of theirs: withdrawn
    got = {t["touser"]: t["text"]["content"] for t in texts if t["touser"] != "oBoss"}
    assert sorted(got) == ["o0", "o1"]
    for openid, member_id in (("o0", 10), ("o1", 11)):
        assert got[openid].startswith("新茶上市\n\n🎟 您的优惠券：免费一壶茶，券码 "
                                      f"{coupons.display(kept[member_id])}，")
    progress = [t["text"]["content"] for t in texts if t["touser"] == "oBoss"]
    assert len(progress) == 2 and "已发送 2 · 失败 0 · 无法送达 1 · 剩余 0" in progress[1]
