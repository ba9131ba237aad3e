"""Every message in wechatpy's own test suite (tests/support/wechat_fixtures/) reaches our webhook
signed, and in safe mode encrypted, by wechatpy, and gets what WeChat expects: a 200
with a passive reply to its sender, or "success". A 400 or 500 would make WeChat retry
it three times and tell the member the account cannot answer."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import xmltodict
from sqlalchemy import delete

from bot.wechat import xml
from domain.conversations.tables import InboxItem
from tests.support.fake_wechat import Bot, FakeWeChat

FIXTURES = sorted((Path(__file__).parents[2] / "support" / "wechat_fixtures").glob("*.xml"))
DEEP = ["events_mass_send_job_finish_event", "events_pic_sysphoto_event",
        "events_pic_photo_or_album_event", "events_pic_wechat_event"]


def test_all_of_wechatpys_samples_are_here():
    assert len(FIXTURES) == 51
    assert {f.stem for f in FIXTURES} >= set(DEEP)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_sample_parses(path):
    fields = xml.parse(path.read_bytes())
    assert fields["FromUserName"] and fields["MsgType"]


def test_the_deepest_samples_keep_their_nested_fields():
    pics = xml.parse((FIXTURES[0].parent / "events_pic_sysphoto_event.xml").read_bytes())
    assert pics["SendPicsInfo.PicList.item.PicMd5Sum"] == "1b5f7c23b5bf75682a53e7b6d163e185"
    mass = xml.parse((FIXTURES[0].parent / "events_mass_send_job_finish_event.xml")
                     .read_bytes())
    assert mass["CopyrightCheckResult.ResultList.item.ArticleIdx"] == "2"
    assert mass["Event"] == "MASSSENDJOBFINISH"


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_every_sample_gets_a_passive_reply_or_success(db, programme, fake, safe):
    answers: dict[str, tuple[int, str]] = {}
    async with Bot(db, programme, fake, safe=safe) as bot, aiohttp.ClientSession() as http:
        for path in FIXTURES:
            sent = path.read_text(encoding="utf-8")
            status, body = await bot.server.post(http, sent)
            answers[path.stem] = (status, _what(bot, body, xml.parse(sent.encode())))
            # Several samples share a sender and MsgId; each is to be handled as new.
            async with db.uow() as uow:
                await uow.session.execute(delete(InboxItem))
                await uow.commit()
    wrong = {name: a for name, a in answers.items() if a[0] != 200 or a[1] == "broken"}
    assert wrong == {}
    assert {answers[name][0] for name in DEEP} == {200}
    assert answers["parser_text_message"][1] == "reply"  # "this is a test" gets our help
    assert answers["events_unsubscribe_event"][1] == "success"


def _what(bot, body: str, sent: dict[str, str]) -> str:
    """"success", "reply" (a passive reply WeChat can read, to the sender), or "broken"."""
    if body == "success":
        return "success"
    try:
        opened = bot.server.crypto.decrypt_message(
            body, *(_field(body, n) for n in ("MsgSignature", "TimeStamp", "Nonce"))) \
            if bot.safe else body
        reply = xmltodict.parse(opened)["xml"]
    except Exception:  # noqa: BLE001 - anything unreadable is what we test against
        return "broken"
    ok = (reply["ToUserName"] == sent["FromUserName"]
          and reply["FromUserName"] == sent["ToUserName"]
          and reply["MsgType"] in ("text", "image"))
    return "reply" if ok else "broken"


def _field(body: str, name: str) -> str:
    return xmltodict.parse(body)["xml"][name]
