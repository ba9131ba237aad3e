"""The WeChat menu leads to the member's home card, as a greeting does."""

from __future__ import annotations

import aiohttp
import pytest

from bot.wechat.menu import build
from domain.config import MenuEntry
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml


def entry(label: str, command: str | None = None, items: tuple = ()) -> MenuEntry:
    return MenuEntry(label={"en": label, "zh_Hans": label}, command=command, items=items)


def test_the_example_menu_gets_the_card_beside_its_own_entries(programme):
    buttons = build(programme)["button"]
    assert [b["name"] for b in buttons] == ["会员中心", "签到", "会员卡"]
    assert buttons[-1] == {"type": "click", "name": "会员卡", "key": "/menu"}


def test_no_menu_is_the_card_alone_in_the_programmes_language(programme):
    english = programme.model_copy(update={"menu": (), "default_locale": "en"})
    assert build(english) == {"button": [{"type": "click", "name": "Member card",
                                          "key": "/menu"}]}


def test_a_menu_that_leads_home_already_is_left_alone(programme):
    own = programme.model_copy(update={"menu": (entry("卡", "/start"), entry("签到", "/checkin"))})
    assert [b["key"] for b in build(own)["button"]] == ["/start", "/checkin"]


def test_a_full_top_level_puts_the_card_first_in_a_group(programme):
    full = programme.model_copy(update={"menu": (
        entry("积分", "/points"), entry("更多", items=(entry("等级", "/tier"),)),
        entry("签到", "/checkin"))})
    buttons = build(full)["button"]
    assert len(buttons) == 3
    assert [b["key"] for b in buttons[1]["sub_button"]] == ["/menu", "/tier"]


@pytest.fixture
async def fake():
    async with FakeWeChat() as server:
        yield server


async def test_the_card_click_shows_the_card_with_numbered_options(db, programme, fake):
    async with Bot(db, programme, fake) as bot, aiohttp.ClientSession() as http:
        await bot.server.say(http, "oCard", "/start", 3001)
        status, text = await bot.server.post(http, message_xml(
            "oCard", event="CLICK", event_key="/menu"))
        card = bot.server.open_reply(text)
    assert status == 200 and card
    assert "会员号：00000001" in card and "1. 签到" in card and "7. 完善资料" in card
