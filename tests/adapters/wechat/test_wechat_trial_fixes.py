"""What a new-user trial (issue 14, "the first hour") found on WeChat, each through the
real webhook (wechatpy signs and encrypts) or the real API client against the fake.

- A campaign's operator on WeChat hears the start, a few milestones at most, and the
  end, in their language; pushed, the progress names /campaign N instead of numbered
  options a typed number would not answer; an end WeChat would not take (the service
  window's quota spent) arrives once the window opens again. (The trial saw no end:
  its driver printed only what came within a second of each message, and the end came
  about a second after the confirmation. The end did arrive; the first test shows it at
  the dispatcher's own pace, not ticked by hand.)
- A text of only spaces is an empty text, not "I can only read text messages".
- A menu CLICK from an older menu opens the home card, saying the item is out of date.
- `memberbot wechat menu` names the setting to check for WeChat's common refusals.
- Control characters in a message's Content: WeChat sends them raw in CDATA (other
  WeChat libraries met U+0002, U+0010, U+001D from members' pasted text), though XML
  1.0 allows them nowhere, so a 400 would leave a real member's signed message without
  an answer and WeChat retrying it in vain. They are dropped and the message answered.
  What is still malformed gets a 400 in our words, not expat's.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.campaign_dispatch import Dispatcher
from bot.wechat import xml
from bot.wechat.api import Api, fetcher
from bot.wechat.cli import refusal
from bot.wechat.programme import WeChat
from bot.wechat.push import Pusher
from bot.wechat.store import service_window
from bot.wechat.tokens import DatabaseTokens
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from handlers.engine.types import Rendered
from tests.support import crowd
from tests.support.fake_wechat import (
    ACCOUNT,
    APP_ID,
    SECRET,
    TOKEN,
    Bot,
    FakeWeChat,
    message_xml,
    signed_query,
)

CHOOSE = "回复数字即可选择"  # the line under numbered options


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


async def _campaign(db, programme, members: int, operator_locale: str = "zh_Hans",
                    quota: int = 20) -> int:
    """A campaign for `members` WeChat members, all with an open window, confirmed by
    the WeChat operator oBoss (whose window has `quota` messages)."""
    now = datetime.now(UTC)
    await crowd.add(db, [crowd.Person(consent=False, accounts=(("wechat", "oBoss"),))], now)
    await crowd.add(db, [crowd.Person(accounts=(("wechat", f"o{i}"),)) for i in range(members)],
                    now, first_id=10)
    async with db.uow() as uow:
        await service_window.opened(uow, "wechat", "oBoss", now, 48, quota)
        for i in range(members):
            await service_window.opened(uow, "wechat", f"o{i}", now, 48, 20)
        made = await campaigns.create(uow, programme,
                                      Author(1, "wechat", "oBoss", operator_locale),
                                      Draft(Segment(platforms=("wechat",)), ("新茶到店",)), "w",
                                      now)
        await uow.commit()
    return made.campaign.id


def _to_boss(fake: FakeWeChat) -> list[str]:
    return [p["text"]["content"] for p in fake.sent() if p["touser"] == "oBoss"]


# ------------------------------------------------------------------ 1. campaign progress

async def test_the_operator_hears_the_end_at_the_dispatchers_own_pace(db, programme, fake):
    """`run()` with its default progress pace, as `memberbot run` starts it."""
    number = await _campaign(db, programme, 2)
    async with aiohttp.ClientSession() as session:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           lambda: datetime.now(UTC)))
        pusher = Pusher(db, Api(session, fake.url, tokens), WeChat(), "zh_Hans")
        dispatcher = Dispatcher(db, programme, {"wechat": pusher.notify}, every=0.1)
        running = asyncio.create_task(dispatcher.run())
        try:
            for _ in range(150):
                if len(_to_boss(fake)) == 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    start, end = _to_boss(fake)
    assert "发送中" in start and "已完成" in end and "已发送 2 · 失败 0" in end
    for said in (start, end):  # no numbers that a reply could not press
        assert CHOOSE not in said and "1. " not in said
        assert said.endswith(f"发送 /campaign {number} 查看这次活动及可进行的操作。")


async def test_a_long_campaign_is_heard_at_each_quarter_once_and_at_the_end(db, programme):
    """A WeChat operator cannot see one message move: a push at 25, 50 and 75%, however
    often the dispatcher looks, then the end; in English for an English operator."""
    await _campaign(db, programme, 8, operator_locale="en")
    gate = asyncio.Semaphore(0)
    heard: list[str] = []

    async def wechat(openid: str, message: Rendered) -> str:
        if openid == "oBoss":
            heard.append(message.text)
        else:
            await gate.acquire()
        return "sent"

    dispatcher = Dispatcher(db, programme, {"wechat": wechat}, progress_every=0.0,
                            milestone_every=0.0)
    await dispatcher.tick()  # starts sending; the start is heard at 0%
    for _ in range(4):
        for _ in range(2):
            gate.release()
        await asyncio.sleep(0.05)
        await dispatcher.flush()
        for _ in range(3):  # looking again at the same point says nothing more
            await dispatcher.tick()
            await asyncio.sleep(0.02)
    for _ in range(50):
        if any("finished" in h for h in heard):
            break
        await dispatcher.tick()
        await asyncio.sleep(0.05)
    assert [h.split("\n")[1].split(" ")[-1] for h in heard] == [
        "0%", "25%", "50%", "75%", "100%"]
    assert "sending" in heard[0] and "finished" in heard[-1]
    assert heard[-1].endswith("Send /campaign 1 to see this campaign and what you can do "
                              "with it.")


async def test_an_end_the_window_has_no_room_for_arrives_when_it_opens(db, programme, fake):
    """The operator's window had room for the start only: the end waits, is not lost,
    and goes out once the operator writes (their window opens again)."""
    await _campaign(db, programme, 1, quota=1)
    async with aiohttp.ClientSession() as session:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           lambda: datetime.now(UTC)))
        pusher = Pusher(db, Api(session, fake.url, tokens), WeChat(), "zh_Hans")
        dispatcher = Dispatcher(db, programme, {"wechat": pusher.notify}, every=0.05,
                                progress_every=0.0, owed_every=0.0)
        await asyncio.wait_for(dispatcher.run_until_idle(), 30)
        for _ in range(3):
            await dispatcher.tick()
        assert [("发送中" in t, "已完成" in t) for t in _to_boss(fake)] == [(True, False)]
        async with db.uow() as uow:  # the operator writes: a fresh window
            await service_window.opened(uow, "wechat", "oBoss", datetime.now(UTC), 48, 20)
            await uow.commit()
        await dispatcher.tick()
        await dispatcher.tick()
    said = _to_boss(fake)
    assert len(said) == 2 and "已完成" in said[1] and "已发送 1 · 失败 0" in said[1]


# ------------------------------------------------------------------ 2. blank texts

async def test_a_text_of_spaces_is_an_empty_text_not_a_picture(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oBlank", "/start", 5001)
        for msg_id, blank in enumerate(("   ", "\u3000", " \u3000\t"), 5002):
            said = await bot.server.say(http, "oBlank", blank, msg_id)
            assert said is not None and "这条消息是空白的" in said, said
            assert "只能读取文字" not in said
        await bot.server.say(http, "oBlank", "/language en", 5010)
        said = await bot.server.say(http, "oBlank", "  ", 5011)
        assert said is not None and said.startswith("That message was empty.")
        # A picture still gets the text-only answer.
        status, body = await bot.server.post(http, message_xml(
            "oBlank", msg_type="image", msg_id=5012, extra={"PicUrl": "http://x/p.jpg"}))
        assert status == 200 and "I can only read text" in (bot.server.open_reply(body) or "")


async def test_a_blank_text_inside_a_flow_is_left_to_the_flow(db, programme, fake):
    """A flow that waits gets an empty answer as it gets a picture: it asks again, and
    still waits (the next real answer goes on)."""
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oFlow", "/start", 5101)
        await bot.server.say(http, "oFlow", "/profile", 5102)
        asked = await bot.server.say(http, "oFlow", "1", 5103)  # the name: typed
        blank = await bot.server.say(http, "oFlow", "\u3000", 5104)
        status, body = await bot.server.post(http, message_xml(
            "oFlow", msg_type="image", msg_id=5105, extra={"PicUrl": "http://x/p.jpg"}))
        picture = bot.server.open_reply(body)
        named = await bot.server.say(http, "oFlow", "小明", 5106)
    assert asked is not None and "怎么称呼" in asked
    assert blank == picture  # what a picture gets, word for word
    assert blank is not None and "这条消息是空白的" not in blank
    assert named is not None and "姓名：小明" in named  # the flow was still waiting


# ------------------------------------------------------------------ 3. stale menu clicks

@pytest.mark.parametrize("key", ["V1001_POINTS", "menu.2", "会员"])
async def test_a_click_from_an_older_menu_opens_the_card_saying_so(db, programme, fake, key):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oOld", "/start", 6001)
        status, body = await bot.server.post(http, message_xml(
            "oOld", event="CLICK", event_key=key))
        said = bot.server.open_reply(body)
        assert status == 200 and said is not None
        assert said.startswith("这个菜单按钮来自旧版菜单，已经不再可用。以下是您的会员卡：")
        assert "会员号：00000001" in said and "1. 签到" in said
        await bot.server.say(http, "oOld", "/language en", 6002)
        status, body = await bot.server.post(http, message_xml(
            "oOld", event="CLICK", event_key=key, created=1_800_000_000))
        said = bot.server.open_reply(body)
    assert said is not None and said.startswith("That menu button is from an older menu")
    assert "1. Check in" in said


async def test_a_known_click_says_nothing_about_the_menu(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oNew", "/start", 6101)
        _, body = await bot.server.post(http, message_xml("oNew", event="CLICK",
                                                          event_key="/menu"))
        said = bot.server.open_reply(body)
    assert said is not None and "旧版菜单" not in said and "会员号" in said


# ------------------------------------------------------------------ 4. the menu command

@pytest.mark.parametrize(("code", "setting"), [
    (40013, "MEMBERBOT_WECHAT_APP_ID"), (40125, "MEMBERBOT_WECHAT_APP_SECRET"),
    (40001, "MEMBERBOT_WECHAT_APP_SECRET"), (40164, "IP whitelist"),
    (48001, "account's type")])
def test_common_refusals_name_what_to_check_and_keep_wechats_code(code, setting):
    said = refusal(code, "wechat's own words")
    assert setting in said and f"WeChat errcode {code}: wechat's own words" in said


def test_an_unknown_refusal_keeps_wechats_words():
    assert refusal(45009, "reach max api daily quota limit") == (
        "WeChat refused the menu (WeChat errcode 45009: reach max api daily quota limit).")


async def test_the_menu_command_with_a_wrong_app_id_says_which_setting(tmp_path, fake):
    env = {**os.environ, "MEMBERBOT_WECHAT_APP_ID": "wx0000000000000000",
           "MEMBERBOT_WECHAT_APP_SECRET": SECRET, "MEMBERBOT_WECHAT_TOKEN": TOKEN,
           "MEMBERBOT_WECHAT_API_URL": fake.url,
           "MEMBERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"}
    env.pop("MEMBERBOT_REDIS_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "wechat", "menu", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    said = err.decode()
    assert proc.returncode == 1
    assert "check MEMBERBOT_WECHAT_APP_ID" in said and "(WeChat errcode 40013: invalid appid)" \
        in said
    assert "Traceback" not in said and fake.sent("/cgi-bin/menu/create") == []


# ------------------------------------------------------------------ 5. control characters

@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_control_characters_from_a_member_are_dropped_and_answered(db, programme, fake,
                                                                         safe):
    async with Bot(db, programme, fake, safe=safe) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oCtl", "/start", 7001)
        status, body = await bot.server.post(http, message_xml(
            "oCtl", content="/po\x1dints\x02\x10", msg_id=7002))
        said = bot.server.open_reply(body)
    assert status == 200 and said is not None and "积分" in said


def test_only_the_controls_xml_forbids_are_dropped():
    fields = xml.parse(b"<xml><Content><![CDATA[a\x01b\tc\nd\re\x1f\x7f]]></Content></xml>")
    assert fields["Content"] == "ab\tc\nd\ne\x7f"  # expat reads a lone CR as a line feed


@pytest.mark.parametrize("safe", [True, False], ids=["safe", "plain"])
async def test_malformed_xml_is_refused_in_our_words(db, programme, fake, safe):
    broken = (f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>oBad</FromUserName>"
              "<Content>a < b</Content></xml>")
    async with Bot(db, programme, fake, safe=safe) as bot, aiohttp.ClientSession() as http:
        if safe:
            status, text = await bot.server.post_raw_encrypted(broken)
        else:
            async with http.post(f"{bot.url}/wechat", params=signed_query(),
                                 data=broken.encode()) as resp:
                status, text = resp.status, await resp.text()
    assert status == 400 and text.startswith("malformed XML (line 1, column ")
    assert "not well-formed" not in text and "token" not in text
