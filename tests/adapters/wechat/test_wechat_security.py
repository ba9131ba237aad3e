"""Forged, stale, replayed-from-afar or malformed callbacks get a 4xx and change nothing."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from domain.conversations.tables import InboxItem
from domain.members.tables import Member
from tests.support.fake_wechat import AES_KEY, TOKEN, Bot, FakeWeChat, message_xml, signed_query

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                    for i in range(1, 10))
          + ']><xml><ToUserName>gh</ToUserName><FromUserName>oEvil</FromUserName>'
          '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content>'
          '<MsgId>1</MsgId></xml>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
            '<xml><ToUserName>gh</ToUserName><FromUserName>oEvil</FromUserName>'
            '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&ext;</Content></xml>')


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


@pytest.fixture
async def safe(db, programme, fake):
    async with Bot(db, programme, fake, safe=True) as running:
        yield running


@pytest.fixture
async def plain(db, programme, fake):
    async with Bot(db, programme, fake, safe=False) as running:
        yield running


async def _nothing_changed(bot) -> None:
    async with bot.db.uow() as uow:
        for model in (InboxItem, Member):
            assert await uow.session.scalar(select(func.count()).select_from(model)) == 0


async def _raw(bot, query: dict[str, str], body: bytes) -> int:
    async with aiohttp.ClientSession() as http, http.post(
            f"{bot.url}/wechat", params=query, data=body) as resp:
        return resp.status


async def test_forged_url_signature(plain):
    query = {**signed_query(), "signature": "f" * 40}
    assert await _raw(plain, query, message_xml("oX", content="/start", msg_id=1).encode()) == 403
    query = signed_query(token="not-our-token")
    assert await _raw(plain, query, message_xml("oX", content="/start", msg_id=1).encode()) == 403
    await _nothing_changed(plain)


async def test_stale_and_future_timestamps(plain):
    body = message_xml("oX", content="/start", msg_id=2).encode()
    for skew in (-301, 301, -86400):
        assert await _raw(plain, signed_query(timestamp=int(time.time()) + skew), body) == 403
    assert await _raw(plain, {**signed_query(), "timestamp": "soon"}, body) == 400
    await _nothing_changed(plain)


async def test_forged_msg_signature_and_foreign_app(safe):
    query = signed_query()
    body = safe.server.crypto.encrypt_message(message_xml("oX", content="/start", msg_id=3),
                                              query["nonce"], query["timestamp"])
    forged = {**query, "encrypt_type": "aes", "msg_signature": "0" * 40}
    assert await _raw(safe, forged, body.encode()) == 403
    other = WeChatCrypto(TOKEN, AES_KEY, "wxsomeoneelse000000")
    body = other.encrypt_message(message_xml("oX", content="/start", msg_id=4),
                                 query["nonce"], query["timestamp"])
    start = body.index("<MsgSignature><![CDATA[") + len("<MsgSignature><![CDATA[")
    good = {**query, "encrypt_type": "aes", "msg_signature": body[start:start + 40]}
    assert await _raw(safe, good, body.encode()) == 403
    await _nothing_changed(safe)


async def test_plaintext_is_refused_in_safe_mode(safe):
    body = message_xml("oX", content="/start", msg_id=5).encode()
    assert await _raw(safe, signed_query(), body) == 400
    await _nothing_changed(safe)


@pytest.mark.parametrize("body", [
    b"", b"not xml at all", b"<xml><FromUserName>oX</FromUserName>", b"\xff\xfe\x00<xml/>",
    b"<xml><MsgType>text</MsgType></xml>", LAUGHS.encode(), EXTERNAL.encode(),
    # In UTF-16 the declaration's bytes are not "<!DOCTYPE": refused all the same.
    LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
    ("<xml>" + "<a>1</a>" * 5000 + "</xml>").encode(),
    message_xml("o X with spaces", content="hi", msg_id=6).encode(),
    message_xml("oX", content="hi", created=None).replace("<CreateTime><![CDATA[", "<CreateTime>"
                                                           "<![CDATA[x").encode(),
])
async def test_garbage_and_entity_bombs_in_plaintext(plain, body):
    assert await _raw(plain, signed_query(), body) == 400
    await _nothing_changed(plain)


@pytest.mark.parametrize("inner", [LAUGHS, EXTERNAL, "garbage", "<xml><MsgType>x</MsgType>"])
async def test_garbage_and_entity_bombs_inside_the_encryption(safe, inner):
    status, _ = await safe.server.post_raw_encrypted(inner)
    assert status == 400
    await _nothing_changed(safe)


async def test_undecryptable_cipher(safe):
    query = signed_query()
    cipher = "AAAA" * 8
    from bot.wechat.envelope import sign
    query.update(encrypt_type="aes",
                 msg_signature=sign(TOKEN, query["timestamp"], query["nonce"], cipher))
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{cipher}]]></Encrypt></xml>"
    assert await _raw(safe, query, body.encode()) == 400
    await _nothing_changed(safe)


async def test_safe_mode_round_trip_still_works_after_all_that(safe):
    async with aiohttp.ClientSession() as http:
        assert await safe.server.say(http, "oFine", "/points", 7)
