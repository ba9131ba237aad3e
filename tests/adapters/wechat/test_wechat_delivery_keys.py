"""What makes two WeChat deliveries the same one: a retry shares everything, a real
second message does not. Messages are keyed by (sender, MsgId); events by sender, time,
event and EventKey. Deliveries recorded under the old keys are rekeyed by migration 0010,
so neither a retry nor recovery after the upgrade handles one of them again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from bot.wechat.messages import delivery_key, read
from domain.conversations.tables import InboxItem
from domain.members.tables import Member
from domain.points.tables import Checkin
from domain.storage import schema
from handlers.engine.engine import Answer
from handlers.engine.types import Rendered
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


async def _count(db, model) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


def test_keys_name_the_sender_and_the_event_key():
    click = {"FromUserName": "oA", "ToUserName": "gh", "CreateTime": "1700000000",
             "MsgType": "event", "Event": "CLICK", "EventKey": "/points"}
    assert delivery_key(click) != delivery_key({**click, "EventKey": "/tier"})
    assert delivery_key(click) == delivery_key(dict(click))
    text = {"FromUserName": "oA", "ToUserName": "gh", "CreateTime": "1", "MsgType": "text",
            "Content": "hi", "MsgId": "77"}
    assert delivery_key(text) != delivery_key({**text, "FromUserName": "oB"})
    long_key = {**click, "FromUserName": "o" * 64, "CreateTime": "9" * 12,
                "Event": "E" * 40, "EventKey": "https://example.com/" + "x" * 1000}
    assert len(delivery_key(long_key)) <= 128  # the inbox key column
    assert read(click).key == delivery_key(click)


@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_two_different_clicks_in_one_second_are_both_answered(db, programme, fake,
                                                                   safe):
    second = int(datetime.now(UTC).timestamp())
    async with Bot(db, programme, fake, safe=safe) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oClicker", "/start", 1)
        replies = []
        for key in ("/checkin", "/points"):
            status, text = await bot.server.post(http, message_xml(
                "oClicker", event="CLICK", event_key=key, created=second))
            assert status == 200
            replies.append(bot.server.open_reply(text))
        assert replies[0] and replies[1] and replies[0] != replies[1]
        assert "5" in replies[1]  # the balance after the check-in, not the check-in again
        # A retry of the first CLICK (same second, same key) changes nothing.
        status, text = await bot.server.post(http, message_xml(
            "oClicker", event="CLICK", event_key="/checkin", created=second))
        assert status == 200 and bot.server.open_reply(text) == replies[0]
    assert await _count(db, Checkin) == 1


async def test_another_members_message_with_a_seen_msgid_is_handled(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        first = await bot.server.say(http, "oFirst", "/checkin", 5150)
        second = await bot.server.say(http, "oSecond", "/checkin", 5150)
    assert first and second
    assert await _count(db, Checkin) == 2
    assert await _count(db, Member) == 2


# -- the upgrade ------------------------------------------------------------------------

def _legacy_key(fields: dict[str, str]) -> str:
    """How deliveries were keyed before revision 0010."""
    msg_id = fields.get("MsgId", "")
    if msg_id.isdigit():
        return msg_id
    return f"{fields['FromUserName']}:{fields['CreateTime']}:{fields.get('Event', '')[:32]}"


def _fields(openid: str, **parts: str) -> dict[str, str]:
    return {"ToUserName": "gh_memberbot", "FromUserName": openid, "CreateTime": "1700000000",
            **parts}


_INBOX_0009 = sa.table("inbox", sa.column("platform"), sa.column("key"),
                       sa.column("payload", sa.JSON), sa.column("received_at", sa.DateTime),
                       sa.column("handled_at", sa.DateTime), sa.column("answer", sa.JSON),
                       sa.column("lease_until", sa.DateTime),
                       sa.column("delivered_at", sa.DateTime))


async def test_deliveries_recorded_before_the_upgrade_are_not_handled_again(backend,
                                                                            programme, fake):
    """Before 0010: one message handled and answered (a retry may still come), one handled
    but its answer not yet sent (a crash), one long delivered. After it, the retry changes
    nothing, recovery sends the recorded answer once, and the old row stays as it was."""
    db = await backend.empty()
    try:
        await schema.upgrade(db.engine, "0009")
        now = datetime.now(UTC).replace(tzinfo=None)
        answered = _fields("oOld", MsgType="text", Content="/checkin", MsgId="9001")
        pending = _fields("oOld", MsgType="event", Event="CLICK", EventKey="/checkin")
        ancient = _fields("oAncient", MsgType="text", Content="/points", MsgId="9002")
        said = Answer("en", [], (Rendered("recorded answer"),)).dump()
        rows = [
            {"fields": answered, "handled": now, "delivered": now, "received": now},
            {"fields": pending, "handled": now, "delivered": None,
             "received": now - timedelta(minutes=5)},
            {"fields": ancient, "handled": now - timedelta(days=9),
             "delivered": now - timedelta(days=9), "received": now - timedelta(days=9)},
        ]
        async with db.engine.begin() as conn:
            await conn.execute(sa.insert(_INBOX_0009), [{
                "platform": "wechat", "key": _legacy_key(r["fields"]),
                "payload": {"fields": r["fields"], "received": r["received"].replace(
                    tzinfo=UTC).isoformat()},
                "received_at": r["received"], "handled_at": r["handled"], "answer": said,
                "lease_until": None, "delivered_at": r["delivered"]} for r in rows])
        await schema.upgrade(db.engine)
        async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
            status, _ = await bot.server.post(http, message_xml(
                "oOld", content="/checkin", msg_id=9001, created=1700000000))
            assert status == 200
            assert await bot.pipeline.recover(bot.webhook.process) == 1
            assert await bot.pipeline.recover(bot.webhook.process) == 0
        assert await _count(db, Member) == 0  # neither was handled again
        assert fake.texts() == ["recorded answer"]
        async with db.uow() as uow:
            keys = set(await uow.session.scalars(select(InboxItem.key)))
        assert keys == {delivery_key(answered), delivery_key(pending), "9002"}
    finally:
        await db.dispose()
