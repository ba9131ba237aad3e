"""The member card: activation links it; points and tier changes reach it once each."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.wechat.programme import WeChat
from domain.members import members
from domain.points import ledger
from tests.support.fake_wechat import APP_ID, SECRET, TOKEN, Bot, FakeWeChat, message_xml

CARD = "pCARD123"
UPDATE = "/card/membercard/updateuser"


@pytest.fixture
def card_programme(programme):
    return programme.model_copy(update={"wechat": WeChat(card_id=CARD)})


async def test_activation_links_the_card_and_changes_are_pushed_once(db, card_programme):
    async with FakeWeChat() as fake, Bot(db, card_programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        event = message_xml("oCard", event="submit_membercard_user_info",
                            extra={"CardId": CARD, "UserCardCode": "CODE0001"})
        for _ in range(2):  # WeChat's retry of the same event
            status, text = await bot.server.post(http, event)
            assert (status, text) == (200, "success")
        assert [c["code"] for c in fake.sent("/card/membercard/activate")] == ["CODE0001"]
        assert await bot.server.say(http, "oCard", "/checkin", 7001)
        assert await bot.cards.sync() == 1
        first = fake.sent(UPDATE)[-1]
        assert (first["code"], first["card_id"], first["bonus"]) == ("CODE0001", CARD, 5)
        assert first["custom_field_value1"] == "普通会员"
        assert await bot.cards.sync() == 0  # nothing new: nothing sent
        async with db.uow() as uow:
            member = await members.by_identity(uow, "wechat", "oCard")
            await ledger.post(uow, ledger.Post(member_id=member.id, delta=600, kind="earn",
                                               reason="purchase", key="order-1",
                                               qualifying=600), datetime.now(UTC))
            from domain.tiers import tiers
            await tiers.reevaluate(uow, card_programme.tiers, member.id, datetime.now(UTC))
            await uow.commit()
        assert await bot.cards.sync() == 1
        second = fake.sent(UPDATE)[-1]
        assert (second["bonus"], second["add_bonus"]) == (605, 600)
        assert second["custom_field_value1"] == "白银会员"
        assert await bot.cards.sync() == 0
    assert len(fake.sent(UPDATE)) == 2


async def test_another_programmes_card_is_ignored(db, card_programme):
    async with FakeWeChat() as fake, Bot(db, card_programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        status, _ = await bot.server.post(http, message_xml(
            "oCard", event="user_get_card", extra={"CardId": "pOTHER", "UserCardCode": "C2"}))
        assert status == 200
        assert await bot.cards.sync() == 0
    assert fake.calls == []


async def test_a_failed_update_is_retried_on_the_next_pass(db, card_programme):
    async with FakeWeChat() as fake, Bot(db, card_programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        await bot.server.post(http, message_xml(
            "oCard", event="user_get_card", extra={"CardId": CARD, "UserCardCode": "C3"}))
        await bot.server.say(http, "oCard", "/checkin", 7101)
        fake.fail(UPDATE, -1)
        assert await bot.cards.sync() == 0
        assert await bot.cards.sync() == 1
    assert len(fake.sent(UPDATE)) == 1


async def test_menu_command_pushes_the_programme_menu(tmp_path):
    import asyncio
    async with FakeWeChat() as fake:
        env = {**os.environ, "MEMBERBOT_WECHAT_APP_ID": APP_ID,
               "MEMBERBOT_WECHAT_APP_SECRET": SECRET, "MEMBERBOT_WECHAT_TOKEN": TOKEN,
               "MEMBERBOT_WECHAT_API_URL": fake.url,
               "MEMBERBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"}
        env.pop("MEMBERBOT_REDIS_URL", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "wechat", "menu", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        menu = fake.sent("/cgi-bin/menu/create")
    assert len(menu) == 1 and fake.token_fetches == 1
    club = menu[0]["button"][0]
    assert club["name"] == "会员中心"
    assert {b["key"] for b in club["sub_button"]} >= {"/points", "/tier"}
    assert "menu pushed" in out.decode()
    assert json.dumps(menu, ensure_ascii=False)
