"""The XML reader refuses every way of smuggling a DTD in: another encoding (UTF-16 with
no BOM is also valid UTF-8, NULs and all), a declared encoding other than UTF-8, or a
plain DOCTYPE; through the live webhook such a message is a clean 400 that changes
nothing, also inside a validly encrypted envelope."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.wechat import xml
from domain.conversations.tables import InboxItem
from domain.members.tables import Member
from domain.points.tables import Checkin
from tests.support.fake_wechat import ACCOUNT, Bot, FakeWeChat, signed_query


def smuggled(content: str = "EXPANDED-ENTITY", encoding: str = "UTF-16") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>'
            f'<!DOCTYPE xml [<!ENTITY e "{content}">]>'
            f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>oSmuggler</FromUserName>"
            "<CreateTime>1700000000</CreateTime><MsgType>text</MsgType>"
            "<Content>&e;</Content><MsgId>424242</MsgId></xml>")


UTF16LE_NO_BOM = smuggled().encode("utf-16-le")


def test_utf16le_without_bom_is_valid_utf8_yet_refused():
    UTF16LE_NO_BOM.decode("utf-8")  # what fooled a byte search for "<!DOCTYPE"
    with pytest.raises(xml.Unsafe):
        xml.parse(UTF16LE_NO_BOM)


@pytest.mark.parametrize("body", [
    smuggled().encode("utf-16"),  # with a BOM
    smuggled().encode("utf-16-be"),
    smuggled(encoding="UTF-32").encode("utf-32-le"),
    b'<xml><a>1</a>\x00</xml>',
], ids=["utf16-bom", "utf16be", "utf32le", "nul"])
def test_nul_bytes_are_refused_before_parsing(body):
    with pytest.raises(xml.Unsafe, match="NUL"):
        xml.parse(body)


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "GBK", "UTF-7", "ascii"])
def test_a_declared_encoding_other_than_utf8_is_refused(encoding):
    body = f'<?xml version="1.0" encoding="{encoding}"?><xml><a>1</a></xml>'.encode()
    with pytest.raises(xml.Unsafe, match="only UTF-8"):
        xml.parse(body)


@pytest.mark.parametrize("body", [
    smuggled(encoding="UTF-8").encode(),
    b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml><a>1</a></xml>',
    b'<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1/x.dtd"> %p;]><xml><a>1</a></xml>',
    b'<!DOCTYPE xml [<!NOTATION n SYSTEM "x">]><xml><a>1</a></xml>',
    b'<!DOCTYPE xml><xml><a>1</a></xml>',
], ids=["internal-entity", "external-dtd", "parameter-entity", "notation", "bare"])
def test_the_parser_refuses_any_dtd(body):
    with pytest.raises(xml.Unsafe, match="document type"):
        xml.parse(body)


def test_utf8_and_character_references_still_read():
    body = ('<?xml version="1.0" encoding="utf-8"?><xml><a><![CDATA[签到]]></a>'
            '<b>&amp;&#20013;</b><c><d>x</d></c></xml>').encode()
    assert xml.parse(body) == {"a": "签到", "b": "&中", "c.d": "x", "c": ""}


def test_an_undeclared_entity_is_malformed():
    with pytest.raises(xml.Unsafe, match="malformed"):
        xml.parse(b"<xml><a>&e;</a></xml>")


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


async def _nothing_happened(db) -> None:
    async with db.uow() as uow:
        for model in (InboxItem, Member, Checkin):
            assert await uow.session.scalar(select(func.count()).select_from(model)) == 0


async def test_smuggled_checkin_inside_a_valid_envelope_is_refused(db, programme, fake):
    """Live: wechatpy encrypts and signs the UTF-16 message exactly as WeChat would; the
    entity says /checkin. Refused with a 400 in our words, and nobody is checked in."""
    async with Bot(db, programme, fake, safe=True) as bot:
        query = signed_query()
        crypto = bot.server.crypto
        # wechatpy encrypts text; our bytes go through its cipher the way it encodes.
        inner = smuggled("/checkin").encode("utf-16-le").decode("utf-8")
        envelope = crypto.encrypt_message(inner, query["nonce"], query["timestamp"])
        signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        query.update(encrypt_type="aes", msg_signature=signature)
        async with aiohttp.ClientSession() as http, http.post(
                f"{bot.url}/wechat", params=query, data=envelope.encode()) as resp:
            status, text = resp.status, await resp.text()
    assert status == 400 and "UTF-8" in text
    await _nothing_happened(db)


@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_smuggled_outer_body_with_only_the_url_signature_is_refused(db, programme,
                                                                         fake, safe):
    """The outer body is read before msg_signature is checked: the URL signature alone
    reaches the parser, so the parser must hold."""
    async with Bot(db, programme, fake, safe=safe) as bot:
        query = signed_query()
        if safe:
            query.update(encrypt_type="aes", msg_signature="0" * 40)
        async with aiohttp.ClientSession() as http, http.post(
                f"{bot.url}/wechat", params=query,
                data=smuggled("/checkin").encode("utf-16-le")) as resp:
            status, text = resp.status, await resp.text()
    assert status == 400 and "UTF-8" in text
    await _nothing_happened(db)
