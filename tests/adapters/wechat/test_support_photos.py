"""Photos of WeChat members in the support inbox, end to end: a signed (and, in safe
mode, encrypted) image message posted to our real webhook, as WeChat sends it, with
its MediaId and PicUrl; the conversation keeps the reference, and the Telegram staff
chat (through aiogram and python-telegram-bot against the local Bot API server)
shows the photo in the member's topic, fetched from the PicUrl and uploaded. A photo
that cannot be fetched still leaves the member's words with a note."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from domain.staff import roles
from domain.support.tables import SupportMessage
from tests.adapters.telegram.test_support_topics import DESK, OWNER, desk
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started
from tests.support.fake_wechat import Bot, FakeWeChat, message_xml

JPEG = b"\xff\xd8\xff\xe0" + b"receipt" * 200
WENDY = "o_wendy_photo"


@pytest.fixture(params=LIBRARIES)
async def telegram(request, api, db, programme):
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"telegram:{OWNER}", datetime.now(UTC))
        await uow.commit()
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def photo_xml(url: str, msg_id: int, media_id: str = "MEDIA_wendy_1") -> str:
    return message_xml(WENDY, msg_type="image", msg_id=msg_id,
                       extra={"PicUrl": url, "MediaId": media_id})


async def test_a_wechat_members_photo_reaches_the_staff_topic(api, telegram, db, programme):
    await desk(api)
    async with FakeWeChat() as fake, Bot(db, programme, fake) as bot, \
            aiohttp.ClientSession() as http:
        opened = await bot.server.say(http, WENDY, "/support", msg_id=1)
        assert opened is not None and "#1" in opened
        url = fake.photo("wendy.jpg", JPEG)
        status, answer = await bot.server.post(http, photo_xml(url, 2))
        assert status == 200 and bot.server.open_reply(answer) == "✓ 已发送，我们会在这里回复您。"
        status, again = await bot.server.post(http, photo_xml(url, 2))  # WeChat's retry
        assert status == 200
        missing = f"{fake.url}/mmbiz/gone.jpg"
        status, _ = await bot.server.post(http, photo_xml(missing, 3, "MEDIA_gone"))
        assert status == 200
        (made,) = await api.wait_for(1, method="createForumTopic")
        thread = made.result["message_thread_id"]
        assert made.params["name"].endswith(" · wechat")
        (shown,) = await api.wait_for(1, method="sendPhoto", chat_id=DESK)
        assert shown.params["message_thread_id"] in (thread, str(thread))
        assert shown.files["photo"][1] == JPEG  # fetched from the PicUrl, uploaded
        assert shown.params["caption"].startswith("📷 #1 会员 ")
        await api.wait_for(lambda _: any("（无法获取该图片。）" in c.params.get("text", "")
                                         for c in api.sent("sendMessage", DESK)))
    async with db.uow() as uow:
        rows = list(await uow.session.scalars(select(SupportMessage).order_by(
            SupportMessage.id)))
        kept = [(m.picture_platform, m.picture_ref, m.picture_url) for m in rows]
    assert kept == [("wechat", "MEDIA_wendy_1", url), ("wechat", "MEDIA_gone", missing)]
    assert len(api.sent("sendPhoto", DESK)) == 1  # the retry posted nothing twice
