"""The /wechat webhook end to end: real wechatpy signs and encrypts, our aiohttp app
answers over HTTP on 127.0.0.1, and replies are decrypted and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select, update

from domain.members.tables import Member
from domain.notices import notices
from domain.notices.tables import Notice
from domain.points.tables import Checkin, LedgerEntry
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml, signed_query


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


@pytest.fixture(params=["safe", "plain"])
async def bot(request, db, programme, fake):
    async with Bot(db, programme, fake, safe=request.param == "safe") as running:
        yield running


async def _count(db, model) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def test_server_verification_echoes_only_when_signed(bot):
    async with aiohttp.ClientSession() as http:
        good = {**signed_query(), "echostr": "hello-123"}
        async with http.get(f"{bot.url}/wechat", params=good) as resp:
            assert resp.status == 200 and await resp.text() == "hello-123"
        forged = {**good, "signature": "0" * 40}
        async with http.get(f"{bot.url}/wechat", params=forged) as resp:
            assert resp.status == 403 and "hello-123" not in await resp.text()


async def test_a_text_gets_a_passive_reply_and_numbers_press_buttons(bot, fake):
    async with aiohttp.ClientSession() as http:
        first = await bot.server.say(http, "oUser1", "/start", 1001)
        assert first is not None and "1. " in first and "2. " in first
        checked = await bot.server.say(http, "oUser1", "1", 1002)  # "check in" on the card
        assert checked and "+5" in checked
        points = await bot.server.say(http, "oUser1", "/points", 1003)
        assert points
    assert fake.texts() == []  # everything went back as passive replies


async def test_chinese_member_gets_chinese(bot):
    async with aiohttp.ClientSession() as http:
        reply = await bot.server.say(http, "oZh", "/help", 2001)
    assert reply and any("\u4e00" <= ch <= "\u9fff" for ch in reply)


async def test_same_msgid_three_times_is_one_effect(bot, fake):
    # WeChat retries only a callback whose response it never got, so each retry carries
    # the recorded answer again, word for word; nothing happens twice.
    async with aiohttp.ClientSession() as http:
        replies = [await bot.server.say(http, "oRetry", "/checkin", 3001) for _ in range(3)]
    assert replies[0] is not None and replies[1:] == [replies[0], replies[0]]
    assert await _count(bot.db, Checkin) == 1
    assert fake.texts() == []


async def test_media_gets_the_text_only_answer(bot):
    async with aiohttp.ClientSession() as http:
        status, text = await bot.server.post(http, message_xml(
            "oPic", msg_type="image", msg_id=4001, extra={"PicUrl": "http://x/y.jpg"}))
    assert status == 200
    assert bot.server.open_reply(text)


async def test_subscribe_with_referral_scene_and_unsubscribe(bot):
    async with aiohttp.ClientSession() as http:
        await bot.server.say(http, "oReferrer", "/start", 5001)
        async with bot.db.uow() as uow:
            referrer_id, code = (await uow.session.execute(
                select(Member.id, Member.referral_code))).one()
        status, text = await bot.server.post(http, message_xml(
            "oFriend", event="subscribe", event_key=f"qrscene_ref_{code}"))
        assert status == 200 and bot.server.open_reply(text)
        status, text = await bot.server.post(http, message_xml("oFriend", event="unsubscribe"))
        assert status == 200 and text == "success"
    async with bot.db.uow() as uow:
        friend = (await uow.session.execute(select(Member.referred_by_id, Member.status)
                                            .where(Member.id != referrer_id))).one()
    assert friend == (referrer_id, "unreachable")


async def test_menu_click_is_the_command_and_view_needs_no_answer(bot):
    async with aiohttp.ClientSession() as http:
        status, text = await bot.server.post(http, message_xml(
            "oMenu", event="CLICK", event_key="/checkin"))
        assert status == 200 and bot.server.open_reply(text)
        status, text = await bot.server.post(http, message_xml(
            "oMenu", event="VIEW", event_key="https://example.com"))
        assert status == 200 and text == "success"
        status, text = await bot.server.post(http, message_xml(
            "oMenu", event="LOCATION", extra={"Latitude": "31.2", "Longitude": "121.5"}))
        assert status == 200 and text == "success"
    assert await _count(bot.db, Checkin) == 1


async def test_long_answers_are_split_within_wechat_limits(bot, fake):
    from bot.wechat import render
    pieces = render.split("\n".join(f"第{i}行：" + "积分" * 40 for i in range(60)))
    assert len(pieces) > 1 and all(len(p.encode()) <= render.MAX_BYTES for p in pieces)
    single = render.split("长" * 3000)
    assert "".join(single) == "长" * 3000 and all(len(p.encode()) <= 2048 for p in single)


async def test_nothing_changes_for_refused_requests(bot):
    assert await _count(bot.db, LedgerEntry) == 0


async def test_a_notice_deferred_for_a_closed_window_is_due_again_when_the_member_writes(bot):
    """WeChat takes no message outside the 48-hour window, so a notice for a member who
    has been quiet is deferred; their next message reopens the window and wakes it."""
    async with aiohttp.ClientSession() as http:
        await bot.server.say(http, "oQuiet", "/start", 6001)
    async with bot.db.uow() as uow:
        member = await uow.session.scalar(select(func.max(Member.id)))
        now = datetime.now(UTC)
        await notices.queue(uow, member, "tier.upgraded", {"tier": {"$tier": "gold"}},
                            "test:deferred", now)
        await uow.session.execute(update(Notice).where(
            Notice.idempotency_key == "test:deferred").values(status="deferred"))
        await uow.commit()
    async with aiohttp.ClientSession() as http:
        await bot.server.say(http, "oQuiet", "hello", 6002)
    async with bot.db.uow() as uow:
        status = await uow.session.scalar(select(Notice.status).where(
            Notice.idempotency_key == "test:deferred"))
    assert status in ("pending", "sending", "sent")  # due again, perhaps sent already
