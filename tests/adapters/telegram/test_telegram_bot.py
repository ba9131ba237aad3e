"""memberbot on Telegram, end to end: the real aiogram and python-telegram-bot clients
talk HTTP to the local Bot API server, and the same transcripts hold on both."""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import replace

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from bot import web
from bot.app import App
from bot.settings import Settings
from bot.telegram import service
from domain.members.tables import Identity, Member
from domain.points import ledger
from domain.points.tables import Checkin
from handlers.routers import build_engine

ALICE = 1001
LIBRARIES = ["aiogram", "ptb"]


async def started(api, db, programme, library: str, **extra):
    settings = replace(Settings(), telegram_token=api.token, telegram_api_url=api.root,
                       telegram_library=library, telegram_rate=1000.0, **extra)
    app = App(settings, programme, db, build_engine(db, programme))
    web_app = web.build(db)
    running = service.running(app, web_app)
    await running.__aenter__()
    return app, web_app, running


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def member_row(db, user_id: int):
    async with db.uow() as uow:
        return (await uow.session.execute(
            select(Member.id, Member.status, Member.phone, Member.phone_verified)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.platform == "telegram", Identity.external_id == str(user_id))
        )).one_or_none()


async def test_start_greets_with_buttons_and_a_button_press_is_answered(api, bot):
    api.message(ALICE, "/start")
    (welcome,) = await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    assert "Welcome to Tea House Club!" in welcome.text
    labels = [b["text"] for row in welcome.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Check in", "Points", "Rewards", "Coupons", "Tier & rules",
                      "Invite friends", "Complete profile"]
    api.callback(ALICE, "profile:walk", int(welcome.result["message_id"]))
    await api.wait_for(1, method="answerCallbackQuery")
    asked = await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    # Telegram gave us a name at sign-up, so the walk starts at the phone.
    assert "What is your phone number?" in asked[-1].text
    assert asked[-1].params["reply_markup"]["keyboard"][0][0]["request_contact"] is True


async def test_chinese_phone_gets_chinese_and_html_is_escaped(api, bot):
    api.message(2002, "/start", language_code="zh-hans", first_name="<b>王</b>")
    (welcome,) = await api.wait_for(1, method="sendMessage", chat_id=2002)
    assert "欢迎加入茶馆会员俱乐部" in welcome.text
    assert welcome.params["parse_mode"] == "HTML"
    api.message(2002, "/profile")
    summary = await api.wait_for(2, method="sendMessage", chat_id=2002)
    assert "&lt;b&gt;王&lt;/b&gt;" in summary[-1].text


async def test_a_forged_or_stale_button_gets_a_toast_and_nothing_else(api, bot):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    api.callback(ALICE, "profile:edit:password", 1)
    api.callback(ALICE, "nothing:we:know", 1)
    answers = await api.wait_for(2, method="answerCallbackQuery")
    assert all("expired" in a.params.get("text", "") for a in answers)
    assert len(api.sent("sendMessage")) == 1


async def test_points_pages_edit_the_statement_in_place(api, bot, db, now):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    member = await member_row(db, ALICE)
    async with db.uow() as uow:
        for i in range(7):
            await ledger.post(uow, ledger.Post(member_id=member.id, delta=10, kind="earn",
                                               reason="checkin", key=f"seed{i}",
                                               params={"streak": 1}), now)
        await uow.commit()
    api.message(ALICE, "/points")
    statement = (await api.wait_for(2, method="sendMessage"))[-1]
    older = statement.params["reply_markup"]["inline_keyboard"][0][-1]
    api.callback(ALICE, older["callback_data"], int(statement.result["message_id"]))
    (edit,) = await api.wait_for(1, method="editMessageText")
    assert edit.params["message_id"] == statement.result["message_id"]
    assert "2/2" in edit.text or "page 2" in edit.text.lower()
    assert len(api.sent("sendMessage")) == 2


async def test_only_the_senders_own_contact_sets_a_verified_phone(api, bot, db):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    api.message(ALICE, contact={"phone_number": "+8613800000000", "first_name": "Eve",
                                "user_id": 4242})
    await api.wait_for(2, method="sendMessage")
    assert (await member_row(db, ALICE)).phone is None
    api.message(ALICE, contact="+86 138 0013 8000")
    replies = await api.wait_for(3, method="sendMessage")
    assert "saved and verified" in replies[-1].text
    member = await member_row(db, ALICE)
    assert member.phone == "+8613800138000" and member.phone_verified


async def test_blocking_and_unblocking_mark_the_member(api, bot, db):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    api.my_chat_member(ALICE, "kicked")
    await api.wait_for(lambda calls: len(api.offsets) >= 2 and api.pending == [])
    await _settled(api)
    assert (await member_row(db, ALICE)).status == "unreachable"
    api.my_chat_member(ALICE, "member")
    await _settled(api)
    assert (await member_row(db, ALICE)).status == "active"
    api.my_chat_member(9999, "kicked")  # a stranger blocking us creates nobody
    await _settled(api)
    assert await member_row(db, 9999) is None


async def test_a_redelivered_update_changes_nothing_twice(api, bot, db):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    update = api.message(ALICE, "/checkin")
    await api.wait_for(2, method="sendMessage")
    api.push(copy.deepcopy(update))  # Telegram sends the same update_id again
    api.message(ALICE, "/points")
    replies = await api.wait_for(3, method="sendMessage")
    await _settled(api)
    assert len(api.sent("sendMessage")) == 3
    assert "Points balance: 5" in replies[-1].text
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Checkin)) == 1


async def test_noise_is_ignored_or_answered_politely_and_changes_nothing(api, bot, db):
    api.message(ALICE, "/start")
    await api.wait_for(1, method="sendMessage")
    api.message(ALICE, "hello from a bot", is_bot=True)
    api.channel_post(-100123, "/checkin")
    api.edited_message(ALICE, "/checkin", message_id=1)
    api.message(7, "/checkin@memberbot", chat_id=-500, chat_type="supergroup")
    api.message(7, "/checkin@otherbot", chat_id=-500, chat_type="supergroup")
    api.message(7, "just chatting", chat_id=-500, chat_type="group")
    api.message(ALICE, sticker=True)
    api.message(ALICE, "x" * 4096 + "y")
    await api.wait_for(4, method="sendMessage")
    await _settled(api)
    texts = [c.text for c in api.sent("sendMessage")]
    assert len(texts) == 4, texts
    # Said in the group, so in its language: the programme's (Chinese) until /grouplang.
    assert texts[1] == "请在私聊中发送该指令。"
    assert api.sent("sendMessage")[1].chat_id == -500
    assert "only read text" in texts[2] and "too long" in texts[3]
    assert await member_row(db, 7) is None
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Checkin)) == 0


# A command typed in a forum topic, as Telegram delivers it: the topic's id is the id of
# the service message that created it, which the message answers.
FORUM_TOPIC_UPDATE = """{
  "update_id": 620003,
  "message": {
    "message_id": 52,
    "from": {"id": 7, "is_bot": false, "first_name": "Mei", "language_code": "en"},
    "chat": {"id": -1001234567890, "title": "Tea House Regulars", "is_forum": true,
             "type": "supergroup"},
    "date": 1760000000,
    "message_thread_id": 48,
    "reply_to_message": {
      "message_id": 48,
      "from": {"id": 7, "is_bot": false, "first_name": "Mei", "language_code": "en"},
      "chat": {"id": -1001234567890, "title": "Tea House Regulars", "is_forum": true,
               "type": "supergroup"},
      "date": 1759990000,
      "message_thread_id": 48,
      "forum_topic_created": {"name": "Points", "icon_color": 7322096},
      "is_topic_message": true
    },
    "text": "/points@memberbot",
    "entities": [{"offset": 0, "length": 17, "type": "bot_command"}],
    "is_topic_message": true
  }
}"""


async def test_replies_to_a_forum_topic_stay_in_that_topic(api, bot):
    forum = -1001234567890
    api.push(json.loads(FORUM_TOPIC_UPDATE))
    (pointed,) = await api.wait_for(1, method="sendMessage", chat_id=forum)
    assert pointed.text == "请在私聊中发送该指令。"  # the group's language: the programme's
    assert pointed.params["message_thread_id"] == 48
    # General has no thread id, and the reply does not invent one.
    general = json.loads(FORUM_TOPIC_UPDATE)
    general["update_id"] += 1
    message = general["message"]
    for field in ("message_thread_id", "reply_to_message", "is_topic_message"):
        del message[field]
    api.push(general)
    replies = await api.wait_for(2, method="sendMessage", chat_id=forum)
    assert "message_thread_id" not in replies[-1].params
    # A private chat with topics: every reply goes to the topic it answers.
    api.message(ALICE, "/start", topic=9)
    replies = await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    assert [r.params.get("message_thread_id") for r in replies] == [9]
    api.message(ALICE, "/checkin")
    replies = await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    assert "message_thread_id" not in replies[-1].params


async def test_commands_are_published_for_private_chats_in_both_languages(api, bot):
    scopes = {(scope, lang): [c["command"] for c in cmds]
              for (scope, lang), cmds in api.commands.items()}
    private = '{"type": "all_private_chats"}'
    key_en = next(k for k in scopes if "all_private_chats" in k[0] and k[1] == "en")
    key_zh = next(k for k in scopes if "all_private_chats" in k[0] and k[1] == "zh")
    assert scopes[key_en][:6] == ["start", "menu", "points", "tier", "rules", "checkin"]
    assert scopes[key_en] == scopes[key_zh] and private
    zh = next(c for c in api.commands[key_zh] if c["command"] == "points")
    assert zh["description"] == "积分余额与明细"


@pytest.mark.parametrize("library", LIBRARIES)
async def test_webhook_checks_the_secret_and_takes_updates(api, db, programme, library):
    settings = {"telegram_webhook_url": "https://bot.example/tg/hook",
                "telegram_webhook_secret": "s3cret-Value_1", "http_port": 0}
    app, web_app, running = await started(api, db, programme, library, **settings)
    try:
        async with web.serving(web_app, "127.0.0.1", 0) as port:
            api.webhook["url"] = f"http://127.0.0.1:{port}/tg/hook"
            update = {"update_id": 77, "message": api.message(ALICE, "/checkin")["message"]}
            api.pending.clear()
            assert (await api.deliver_webhook(update, secret="wrong"))[0] == 401
            assert (await api.deliver_webhook(update, secret=None))[0] == 401
            async with ClientSession() as client:
                async with client.post(api.webhook["url"], data=b"{not json",
                                       headers={service.SECRET_HEADER: "s3cret-Value_1"}) as r:
                    assert r.status == 400
            async with db.uow() as uow:
                assert await uow.session.scalar(select(func.count()).select_from(Checkin)) == 0
            assert (await api.deliver_webhook(update))[0] == 200
            replies = await api.wait_for(2, method="sendMessage")
            assert "Welcome" in replies[0].text and "+5" in replies[1].text
            assert (await api.deliver_webhook(update))[0] == 200  # a retry
            future = {"update_id": 78, "some_future_update": {"x": 1}}
            assert (await api.deliver_webhook(future))[0] == 200
            await asyncio.sleep(0.3)
            assert len(api.sent("sendMessage")) == 2
    finally:
        await running.__aexit__(None, None, None)


async def _settled(api, rounds: int = 3) -> None:
    """Wait until the bot has polled past everything pushed and gone idle a moment."""
    for _ in range(rounds):
        target = api._next_update_id
        await api.wait_for(lambda calls, target=target: bool(api.offsets)
                           and api.offsets[-1] >= target
                           or api.webhook is not None)
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("library", LIBRARIES)
async def test_staff_chats_get_their_commands_and_members_do_not(api, db, programme, now,
                                                                library):
    from domain.members import members
    from domain.staff import roles
    async with db.uow() as uow:
        owner = (await members.register(uow, programme, "telegram", "500", now)).member
        clerk = (await members.register(uow, programme, "telegram", "501", now)).member
        await members.register(uow, programme, "telegram", "502", now)
        await roles.set_owner(uow, programme, "telegram:500", now)
        await roles.grant(uow, owner.id, "staff", clerk.id, now)
        await uow.commit()
    _, _, running = await started(api, db, programme, library)
    try:
        menus = {(scope, lang): [c["command"] for c in cmds]
                 for (scope, lang), cmds in api.commands.items()}
        owner_en = next(v for (s, lang), v in menus.items() if '500' in s and lang == "en")
        clerk_zh = next(v for (s, lang), v in menus.items() if '501' in s and lang == "zh")
        assert {"purchase", "stock", "verify", "audit", "grant", "revoke"} <= set(owner_en)
        assert "verify" in clerk_zh and "purchase" not in clerk_zh and "grant" not in clerk_zh
        assert not any('502' in s for s, _ in menus)
        assert "points" in owner_en  # staff keep the member commands too
    finally:
        await running.__aexit__(None, None, None)
