"""A staff member's photo in a WeChat member's topic reaches the member, end to end:
the member writes through our real webhook (signed and encrypted with wechatpy, as
WeChat posts), staff answer with a photo in the Telegram staff chat (aiogram and
python-telegram-bot against the local Bot API server), and the notice goes out as
customer-service messages: the words, then the photo, downloaded from Telegram
(getFile, then the file) and uploaded as temporary media. Only inside the 48-hour
window: outside it the notice waits for the member's next message, as every notice
does. A photo that cannot be fetched leaves the words with a line saying so."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from bot.notifier import Notifier
from bot.wechat.store import service_window
from domain.notices.tables import Notice
from tests.adapters.telegram.test_support_topics import DESK, OWNER, acknowledged, desk
from tests.adapters.wechat.test_support_photos import (
    WENDY,
    telegram,  # noqa: F401 - the fixture
)
from tests.support.fake_wechat import UPLOAD, Bot, FakeWeChat

WORDS = "💬 客服回复（#1），附图片：\nHere is the map\n\n如需继续沟通，请发送 /support。"
LINE = "（这条回复所附的图片无法在此显示。）"


async def answered_with_a_photo(api, fake: FakeWeChat, bot: Bot,
                                http: aiohttp.ClientSession) -> str:
    """Wendy asks on WeChat; staff answer in her topic with a photo: its file_id."""
    await desk(api)
    assert await bot.server.say(http, WENDY, "/support", msg_id=1) is not None
    await bot.server.say(http, WENDY, "Where is the shop?", msg_id=2)
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    sent = api.message(OWNER, "Here is the map", photo=True, chat_id=DESK,
                       chat_type="supergroup", topic=thread, first_name="Olga")
    await api.wait_for(lambda _: acknowledged(api, sent))
    return f"photo{sent['message']['message_id']}"


async def status(db) -> str:
    async with db.uow() as uow:
        notice = await uow.session.scalar(select(Notice).where(
            Notice.key == "support.reply_photo"))
        assert notice is not None
        return notice.status


async def test_a_wechat_member_gets_the_words_then_the_photo(api, telegram, db,  # noqa: F811
                                                             programme):
    async with FakeWeChat() as fake, Bot(db, programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        file_id = await answered_with_a_photo(api, fake, bot, http)
        pushers = {"telegram": telegram.pushers["telegram"], "wechat": bot.pusher.notify}
        before = len(fake.sent())

        # The window closed (WeChat said so): the notice waits, nothing is sent.
        async with db.uow() as uow:
            await service_window.close(uow, "wechat", WENDY, datetime.now(UTC))
            await uow.commit()
        await Notifier(db, programme, pushers).run_once()
        assert await status(db) == "deferred"
        assert len(fake.sent()) == before

        # Wendy writes again: the window is open, the notice due, the photo goes.
        await bot.server.say(http, WENDY, "Thanks", msg_id=3)
        await Notifier(db, programme, pushers).run_once()
        assert await status(db) == "sent"
        pushed = fake.sent()[before:]
        assert [p["msgtype"] for p in pushed] == ["text", "image"]
        assert pushed[0]["text"]["content"] == WORDS
        assert fake.images() == [api.files[file_id]]  # Telegram's file, uploaded as is
        assert file_id in api.downloads
        (upload,) = fake.sent(UPLOAD)
        assert upload["content_type"] == "image/jpeg"


async def test_a_photo_that_cannot_be_fetched_leaves_the_words_and_the_line(
        api, telegram, db, programme):  # noqa: F811
    async with FakeWeChat() as fake, Bot(db, programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        await answered_with_a_photo(api, fake, bot, http)
        before = len(fake.sent())
        api.fail_next("getFile", 400, "Bad Request: invalid file_id")
        pushers = {"telegram": telegram.pushers["telegram"], "wechat": bot.pusher.notify}
        await Notifier(db, programme, pushers).run_once()
        pushed = fake.sent()[before:]
        assert [p["msgtype"] for p in pushed] == ["text"]
        assert pushed[0]["text"]["content"] == f"{WORDS}\n{LINE}"
        assert fake.images() == [] and fake.sent(UPLOAD) == []
        assert await status(db) == "sent"
