"""The fake Bot API server behaves like Telegram for the real aiogram and PTB clients."""

from __future__ import annotations

import asyncio
import json

import pytest
import telegram
from aiogram import types as ag
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import ClientSession, FormData, web

from tests.support.fake_telegram import FakeBotAPI, aiogram_bot, ptb_bot


@pytest.fixture
async def http():
    async with ClientSession() as session:
        yield session


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def post(http: ClientSession, api: FakeBotAPI, method: str, **kwargs):
    async with http.post(f"{api.api_url}/{method}", **kwargs) as resp:
        return resp.status, await resp.json()


# ---------------------------------------------------------------- protocol


async def test_get_me_parses_in_both_libraries(api):
    async with aiogram_bot(api) as bot:
        me = await bot.get_me()
        assert (me.id, me.is_bot, me.username) == (123456, True, "memberbot")
    async with ptb_bot(api) as bot:
        assert bot.username == "memberbot"  # PTB calls getMe while initializing


async def test_wrong_token_is_401_and_unknown_method_404(api, http):
    async with http.post(f"{api.root}/bot999:nope/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401,
                                     "description": "Unauthorized"}
    status, body = await post(http, api, "sendTelepathy")
    assert status == 404 and body["description"] == "Not Found: method not found"
    status, body = await post(http, api, "GETME")  # Telegram ignores the case
    assert status == 200 and body["result"]["username"] == "memberbot"


@pytest.mark.parametrize("encoding", ["query", "json", "form", "multipart"])
async def test_every_encoding_gives_the_same_decoded_params(api, http, encoding):
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    fields = {"chat_id": "42", "text": "[1] true", "reply_markup": json.dumps(markup),
              "disable_notification": "true"}
    if encoding == "query":
        request = http.get(f"{api.api_url}/sendMessage", params=fields)
    elif encoding == "json":
        request = http.post(f"{api.api_url}/sendMessage",
                            json={**fields, "chat_id": 42, "reply_markup": markup,
                                  "disable_notification": True})
    elif encoding == "form":
        request = http.post(f"{api.api_url}/sendMessage", data=fields)
    else:
        form = FormData(fields)
        form.add_field("unused", b"x", filename="x.bin")  # forces multipart
        request = http.post(f"{api.api_url}/sendMessage", data=form)
    async with request as resp:
        body = await resp.json()
    assert body["ok"] and body["result"]["reply_markup"] == markup
    call = api.sent("sendMessage")[0]
    assert call.params == {"chat_id": 42, "text": "[1] true", "reply_markup": markup,
                           "disable_notification": True}


async def test_messages_are_realistic_and_numbered_per_chat(api):
    async with aiogram_bot(api) as bot:
        keyboard = ag.InlineKeyboardMarkup(inline_keyboard=[[
            ag.InlineKeyboardButton(text="Go", callback_data="go")]])
        first = await bot.send_message(42, "<b>hi</b> &amp; bye", parse_mode="HTML",
                                       reply_markup=keyboard)
        second = await bot.send_message(42, "again")
        other = await bot.send_message(7, "elsewhere")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert first.text == "hi & bye" and first.chat.type == "private"
    assert first.from_user.id == api.bot_id
    assert first.reply_markup.model_dump() == keyboard.model_dump()
    async with ptb_bot(api) as bot:
        msg = await bot.send_message(42, "from ptb")
    assert msg.message_id == 3 and msg.from_user.username == "memberbot"


@pytest.mark.parametrize(("text", "error"), [
    ("a <x> b", 'Unsupported start tag "x"'),
    ("<b>open", "Can't find end tag"),
    ("", "message text is empty"),
    ("é" * 4097, "message is too long"),
    ("😀" * 2049, "message is too long"),  # 4098 UTF-16 units
])
async def test_bad_text_is_a_400(api, text, error):
    async with aiogram_bot(api) as bot:
        with pytest.raises(TelegramBadRequest, match=error):
            await bot.send_message(42, text, parse_mode="HTML")
    assert api.sent() == [] and api.performed == 0


async def test_callback_data_over_64_bytes_is_rejected(api):
    keyboard = ag.InlineKeyboardMarkup(inline_keyboard=[[
        ag.InlineKeyboardButton(text="x", callback_data="é" * 33)]])
    async with aiogram_bot(api) as bot:
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(42, "hi", reply_markup=keyboard)


async def test_edit_message_text_like_telegram(api):
    user_message = api.message(42, "mine")["message"]["message_id"]
    async with aiogram_bot(api) as bot:
        sent = await bot.send_message(42, "one")
        edited = await bot.edit_message_text("two", chat_id=42, message_id=sent.message_id)
        assert edited.text == "two" and edited.edit_date
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("two", chat_id=42, message_id=sent.message_id)
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("two", chat_id=42, message_id=999)
        with pytest.raises(TelegramBadRequest, match="message can't be edited"):
            await bot.edit_message_text("two", chat_id=42, message_id=user_message)
    assert api.messages[(42, sent.message_id)]["text"] == "two"


async def test_uploads_are_recorded_from_both_libraries(api):
    async with aiogram_bot(api) as bot:
        msg = await bot.send_photo(42, ag.BufferedInputFile(b"PNG1", filename="a.png"),
                                   caption="pic")
        assert msg.photo and msg.caption == "pic"
        await bot.send_document(42, ag.BufferedInputFile(b"csv", filename="list.csv"))
    async with ptb_bot(api) as bot:
        await bot.send_photo(42, telegram.InputFile(b"PNG2", filename="b.png"))
        doc = await bot.send_document(42, b"data", filename="b.txt")
        assert doc.document.file_name == "b.txt"
    assert [c.files for c in api.sent()] == [
        {"photo": ("a.png", b"PNG1")}, {"document": ("list.csv", b"csv")},
        {"photo": ("b.png", b"PNG2")}, {"document": ("b.txt", b"data")}]


# ---------------------------------------------------------------- updates


async def test_builders_make_updates_both_libraries_accept(api):
    updates = [
        api.message(42, "/start ref", language_code="zh-hans", username="ann"),
        api.message(42, contact="+8613800000000"),
        api.message(42, sticker=True),
        api.message(42, voice=True),
        api.message(5, "hello all", chat_id=-1001, chat_type="supergroup"),
        api.edited_message(42, "fixed", 1),
        api.channel_post(-1002, "news"),
        api.callback(42, "points:2", 1),
        api.my_chat_member(42, "kicked"),
        api.my_chat_member(42, "member"),
        api.chat_join_request(42, -1003),
    ]
    assert [u["update_id"] for u in updates] == list(range(1, 12))
    async with ptb_bot(api) as ptb:
        for raw in updates:
            aio = ag.Update.model_validate(raw)
            ptu = telegram.Update.de_json(raw, ptb)
            assert aio.update_id == ptu.update_id
    first = ag.Update.model_validate(updates[0]).message
    assert first.entities[0].type == "bot_command" and first.entities[0].length == 6
    assert first.from_user.language_code == "zh-hans"
    assert ag.Update.model_validate(updates[1]).message.contact.phone_number == "+8613800000000"
    assert ag.Update.model_validate(updates[7]).callback_query.data == "points:2"
    assert api.blocked == set()  # blocked, then unblocked


async def test_long_polling_confirms_with_offset(api):
    async with aiogram_bot(api) as bot:
        assert await bot.get_updates(timeout=0) == []
        api.message(42, "a")
        api.message(42, "b")
        got = await bot.get_updates(limit=1)
        assert [u.message.text for u in got] == ["a"]
        got = await bot.get_updates(offset=got[0].update_id + 1)
        assert [u.message.text for u in got] == ["b"]
        # not confirmed yet: asked again, b comes again
        assert len(await bot.get_updates()) == 1
        assert await bot.get_updates(offset=got[0].update_id + 1) == []
        assert await bot.get_updates(offset=1) == []  # confirmed ones are gone for good
    assert api.offsets == [2, 3, 1] and api.pending == []


async def test_long_poll_waits_for_an_update(api):
    async with aiogram_bot(api) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await api.wait_for(lambda calls: calls and calls[-1].method == "getUpdates")
        assert not poll.done()
        api.message(42, "wake up")
        got = await asyncio.wait_for(poll, 10)
    assert [u.message.text for u in got] == ["wake up"]


async def test_a_newer_poll_terminates_a_waiting_one(api):
    async with aiogram_bot(api) as first, aiogram_bot(api) as second:
        old = asyncio.create_task(first.get_updates(timeout=30))
        await api.wait_for(lambda calls: len(calls) == 1)
        new = asyncio.create_task(second.get_updates(timeout=30))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
            await asyncio.wait_for(old, 10)
        api.message(1, "x")
        assert len(await asyncio.wait_for(new, 10)) == 1


async def test_updates_not_allowed_are_dropped(api):
    api.my_chat_member(42, "kicked")
    api.message(42, "hi")
    async with ptb_bot(api) as bot:
        got = await bot.get_updates(allowed_updates=["message"])
    assert [u.message.text for u in got] == ["hi"] and len(api.pending) == 1


async def test_webhook_blocks_polling_and_delivers_with_secret(api):
    received: list[tuple[str | None, dict]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == "s3cret" else 401)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiogram_bot(api) as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret",
                                  allowed_updates=["message"])
            info = await bot.get_webhook_info()
            assert info.url.endswith("/hook") and info.allowed_updates == ["message"]
            with pytest.raises(TelegramConflictError, match="webhook is active"):
                await bot.get_updates()
            update = api.message(42, "via hook")
            assert (await api.deliver_webhook(update))[0] == 200
            assert api.pending == []  # answered 2xx: confirmed
            second = api.message(42, "forged")
            assert (await api.deliver_webhook(second, secret="wrong"))[0] == 401
            assert (await api.deliver_webhook(second, secret=None))[0] == 401
            assert api.pending == [second]
            await bot.delete_webhook(drop_pending_updates=True)
            assert api.webhook is None and api.pending == []
            assert await bot.get_updates() == []
    finally:
        await runner.cleanup()
    assert [s for s, _ in received] == ["s3cret", "wrong", None]
    assert received[0][1]["message"]["text"] == "via hook"


# ---------------------------------------------------------------- chats and commands


async def test_commands_are_kept_per_scope_and_language(api):
    async with aiogram_bot(api) as bot:
        en = [ag.BotCommand(command="points", description="Your points")]
        zh = [ag.BotCommand(command="points", description="我的积分")]
        await bot.set_my_commands(en)
        await bot.set_my_commands(zh, language_code="zh")
        chat = ag.BotCommandScopeChat(chat_id=42)
        await bot.set_my_commands(en[:0] + [ag.BotCommand(command="admin", description="x")],
                                  scope=chat)
        assert [c.description for c in await bot.get_my_commands()] == ["Your points"]
        assert [c.description for c in await bot.get_my_commands(language_code="zh")] == [
            "我的积分"]
        assert [c.command for c in await bot.get_my_commands(scope=chat)] == ["admin"]
        await bot.delete_my_commands(language_code="zh")
        assert await bot.get_my_commands(language_code="zh") == []
    async with ptb_bot(api) as bot:  # PTB sees what aiogram stored
        assert [c.description for c in await bot.get_my_commands()] == ["Your points"]


async def test_invite_links_join_requests_and_member_control(api):
    async with aiogram_bot(api) as bot:
        link = await bot.create_chat_invite_link(-1003, name="vip", creates_join_request=True)
        assert link.invite_link.startswith("https://t.me/+") and link.creates_join_request
        with pytest.raises(TelegramBadRequest, match="HIDE_REQUESTER_MISSING"):
            await bot.approve_chat_join_request(-1003, 42)
        api.chat_join_request(42, -1003)
        api.chat_join_request(43, -1003)
        assert await bot.approve_chat_join_request(-1003, 42) is True
        assert await bot.decline_chat_join_request(-1003, 43) is True
        assert api.members[-1003] == {42}
        assert await bot.restrict_chat_member(
            -1003, 42, ag.ChatPermissions(can_send_messages=False)) is True
        assert api.restrictions[(-1003, 42)] == {"can_send_messages": False}
        assert await bot.ban_chat_member(-1003, 42) is True
        assert (-1003, 42) in api.banned and api.members[-1003] == set()
        assert await bot.unban_chat_member(-1003, 42, only_if_banned=True) is True
        with pytest.raises(TelegramBadRequest, match="private chats"):
            await bot.ban_chat_member(42, 42)
    assert api.banned == set()


async def test_answer_callback_query_needs_a_live_query(api):
    query = api.callback(42, "go", 1)["callback_query"]
    async with ptb_bot(api) as bot:
        assert await bot.answer_callback_query(query["id"], text="done") is True
        with pytest.raises(telegram.error.BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query(query["id"])  # answered already


# ---------------------------------------------------------------- test controls


async def test_blocked_chats_answer_403(api):
    api.my_chat_member(42, "kicked")
    async with ptb_bot(api) as bot:
        with pytest.raises(telegram.error.Forbidden, match="bot was blocked by the user"):
            await bot.send_message(42, "hi")
        await bot.send_message(43, "hi")
    assert [c.chat_id for c in api.sent()] == [43]


async def test_fail_next_disconnect_next_and_hang(api, http):
    api.fail_next("sendMessage", 500, "Internal Server Error")
    api.disconnect_next("sendMessage")
    assert (await post(http, api, "sendMessage", json={"chat_id": 1, "text": "a"}))[0] == 500
    with pytest.raises(Exception, match="disconnect"):
        await post(http, api, "sendMessage", json={"chat_id": 1, "text": "b"})
    assert (await post(http, api, "sendMessage", json={"chat_id": 1, "text": "c"}))[0] == 200
    assert [c.status for c in api.calls] == [500, 0, 200]

    api.hang("sendMessage")
    held = asyncio.create_task(post(http, api, "sendMessage", json={"chat_id": 1, "text": "d"}))
    await api.wait_for(lambda calls: len(calls) == 4)
    assert api.calls[-1].status is None and len(api.sent()) == 1
    api.release("sendMessage")
    assert (await held)[0] == 200
    assert [c.text for c in api.sent()] == ["c", "d"]


async def test_wait_for_times_out_with_a_clear_message(api):
    with pytest.raises(AssertionError, match="not met within 0.05 s"):
        await api.wait_for(1, timeout=0.05, method="sendMessage")


async def test_global_flood_control_answers_429_and_skips_the_send(http):
    clock = ManualClock()
    async with FakeBotAPI(clock=clock) as api:
        api.rate_limit = 5
        answers = [await post(http, api, "sendMessage", json={"chat_id": i, "text": "x"})
                   for i in range(7)]
        assert [s for s, _ in answers] == [200] * 5 + [429] * 2
        assert answers[-1][1] == {"ok": False, "error_code": 429,
                                  "description": "Too Many Requests: retry after 1",
                                  "parameters": {"retry_after": 1}}
        clock.now += 0.2  # one token back
        assert (await post(http, api, "sendMessage", json={"chat_id": 9, "text": "x"}))[0] \
            == 200
        assert (api.performed, api.too_many_requests) == (6, 2)
        assert len(api.sent()) == 6


async def test_per_chat_flood_control(http):
    clock = ManualClock()
    async with FakeBotAPI(clock=clock) as api:
        api.chat_limit = (1, 1.0)
        api.group_limit = (20, 60.0)
        send = [await post(http, api, "sendMessage", json={"chat_id": 1, "text": "x"}),
                await post(http, api, "sendMessage", json={"chat_id": 2, "text": "x"}),
                await post(http, api, "sendMessage", json={"chat_id": 1, "text": "x"})]
        assert [s for s, _ in send] == [200, 200, 429]
        group = [await post(http, api, "sendMessage", json={"chat_id": -5, "text": "x"})
                 for _ in range(21)]
        assert [s for s, _ in group].count(200) == 20
        assert group[-1][1]["parameters"]["retry_after"] == 3  # 60 s / 20 per token


async def test_a_callback_carries_the_bot_message_it_was_pressed_under(api):
    async with aiogram_bot(api) as bot:
        sent = await bot.send_message(42, "<i>pick</i>", parse_mode="HTML")
    update = api.callback(42, "go", sent.message_id)
    message = update["callback_query"]["message"]
    assert message["text"] == "pick" and message["from"]["id"] == api.bot_id
    assert not any(key.startswith("_") for key in message)
    assert ag.Update.model_validate(update).callback_query.message.message_id == 1
