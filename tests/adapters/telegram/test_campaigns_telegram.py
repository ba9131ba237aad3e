"""Campaigns on Telegram, end to end: the real aiogram client talks to the local Bot API
server. An operator builds a campaign with inline buttons; the dispatcher sends it
through the flood-safe Sender, once per recipient, and edits one progress message."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from bot import web
from bot.app import App
from bot.campaign_dispatch import Dispatcher
from bot.settings import Settings
from bot.telegram import service
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.members.tables import Member
from domain.staff import roles
from handlers.routers import build_engine
from tests.support import crowd

BOSS = 9000
FIRST = 2  # member ids of the crowd start here; member 1 is the operator


@pytest.fixture
async def bot(api, db, programme, now):
    settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                       telegram_rate=1000.0)
    app = App(settings, programme, db, build_engine(db, programme))
    running = service.running(app, web.build(db))
    await running.__aenter__()
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"telegram:{BOSS}", now)
        await uow.commit()
    yield app
    await running.__aexit__(None, None, None)


def chat(member_id: int) -> str:
    return str(50_000 + member_id)  # the crowd's Telegram accounts


def dispatcher(app: App, **options) -> Dispatcher:
    return Dispatcher(app.db, app.programme, app.pushers, app.editors,
                      **{"every": 0.05, "progress_every": 0.0, **options})


async def deliveries_of(db, campaign_id: int) -> dict[int, tuple[str, str]]:
    async with db.uow() as uow:
        return {m: (v, s) for m, v, s in await uow.session.execute(
            select(Delivery.member_id, Delivery.variant, Delivery.status)
            .where(Delivery.campaign_id == campaign_id))}


async def test_every_recipient_gets_one_message_and_the_progress_is_edited(api, bot, db,
                                                                          programme, now):
    ids = await crowd.plain(db, 24, now, first_id=FIRST)
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(1, "telegram", str(BOSS), "en"),
                                      Draft(Segment(), ("Spring tea is in!",), holdout=20),
                                      "t1", now)
        c = made.campaign  # a seed that holds out four of them, so there is a holdout
        c.seed = next(s for s in range(1, 10_000)
                      if sum(campaigns.bucket(s, m) < c.holdout for m in ids) == 4)
        await uow.session.execute(update(Campaign).values(seed=c.seed))
        await uow.commit()
    blocked = next(m for m in ids if campaigns.assign(c, m) == "A")
    api.blocked.add(chat(blocked))
    await asyncio.wait_for(dispatcher(bot).run_until_idle(), 60)
    rows = await deliveries_of(db, made.campaign.id)
    held = {m for m, (variant, _) in rows.items() if variant == "holdout"}
    assert sorted(rows) == ids and len(held) == 4 and blocked not in held
    for member_id in ids:
        got = [c for c in api.sent("sendMessage", chat_id=chat(member_id))
               if "Spring tea" in (c.text or "")]
        assert len(got) == (0 if member_id in held or member_id == blocked else 1), member_id
    assert rows[blocked][1] == "unreachable"
    async with db.uow() as uow:
        assert (await uow.session.get(Member, blocked)).status == "unreachable"
    # One progress message, edited in place to the end.
    shown = api.sent("sendMessage", chat_id=BOSS)
    assert len(shown) == 1 and "Campaign #1" in shown[0].text
    edits = api.sent("editMessageText", chat_id=BOSS)
    assert edits and all(e.params["message_id"] == shown[0].result["message_id"] for e in edits)
    final = edits[-1].text
    sent = 24 - len(held) - 1
    assert "finished" in final and f"Sent {sent} · failed 0 · unreachable 1 · remaining 0" in final
    buttons = [b["callback_data"] for row in edits[-1].params["reply_markup"]["inline_keyboard"]
               for b in row]
    assert buttons == ["camp:results:1"]


async def test_an_operator_builds_and_sends_a_campaign_with_buttons_zh(api, bot, db, programme,
                                                                       now):
    await crowd.plain(db, 3, now, first_id=FIRST)
    api.message(BOSS, "/campaign", language_code="zh-hans")
    [menu] = await api.wait_for(1, method="sendMessage", chat_id=BOSS)
    assert "第 1 步" in menu.text and "共覆盖 3 位会员" in menu.text

    def pressed(message, label: str) -> str:
        return next(b["callback_data"] for row in message.params["reply_markup"]
                    ["inline_keyboard"] for b in row if b["text"] == label)

    menu_id = menu.result["message_id"]
    api.callback(BOSS, pressed(menu, "等级"), menu_id, language_code="zh-hans")
    [picker] = await api.wait_for(1, method="editMessageText", chat_id=BOSS)
    assert "普通会员" in picker.text or picker.params["reply_markup"]
    api.callback(BOSS, pressed(picker, "黄金会员"), menu_id, language_code="zh-hans")
    edits = await api.wait_for(2, method="editMessageText", chat_id=BOSS)
    assert "✓ 黄金会员" in [b["text"] for row in edits[-1].params["reply_markup"]
                           ["inline_keyboard"] for b in row]
    api.callback(BOSS, pressed(edits[-1], "✓ 黄金会员"), menu_id,
                 language_code="zh-hans")  # and off again
    edits = await api.wait_for(3, method="editMessageText", chat_id=BOSS)
    api.callback(BOSS, pressed(edits[-1], "完成"), menu_id, language_code="zh-hans")
    edits = await api.wait_for(4, method="editMessageText", chat_id=BOSS)
    assert "全部会员" in edits[-1].text
    api.callback(BOSS, pressed(edits[-1], "下一步 ›"), menu_id, language_code="zh-hans")
    asked = await api.wait_for(2, method="sendMessage", chat_id=BOSS)
    assert "第 2 步" in asked[-1].text
    api.message(BOSS, "新茶上市，欢迎品尝！", language_code="zh-hans")
    steps = [("第 3 步", "不附带"), ("第 4 步", "一条消息"), ("对照组", "不设对照组"),
             ("第 5 步", "立即发送"), ("准备发送", "✅ 确认")]
    seen = len(api.sent("sendMessage", chat_id=BOSS))
    for expect, label in steps:
        asking = await next_saying(api, seen, expect)
        seen = len(api.sent("sendMessage", chat_id=BOSS))
        api.callback(BOSS, pressed(asking, label), asking.result["message_id"],
                     language_code="zh-hans")
    await next_saying(api, seen, "已确认")
    await asyncio.wait_for(dispatcher(bot).run_until_idle(), 60)
    for member_id in range(FIRST, FIRST + 3):
        got = api.sent("sendMessage", chat_id=chat(member_id))
        assert [c.text for c in got] == ["新茶上市，欢迎品尝！\n\n回复 TD 退订"]
        assert got[0].params["reply_markup"]["inline_keyboard"] == [
            [{"text": "停止接收优惠", "callback_data": "privacy:stop"}]]
    progress = api.sent("sendMessage", chat_id=BOSS)[-1]
    assert "营销活动 #1" in progress.text
    told = "\n".join(c.text for c in api.sent("sendMessage", chat_id=BOSS))
    assert "使用中文的会员将看到：" in told


async def next_saying(api, after: int, words: str):
    """The first message to the operator, past the first `after`, that says `words`."""
    def found(_):
        return any(words in (c.text or "") for c in api.sent("sendMessage", chat_id=BOSS)[after:])
    await api.wait_for(found)
    return next(c for c in api.sent("sendMessage", chat_id=BOSS)[after:] if words in c.text)
