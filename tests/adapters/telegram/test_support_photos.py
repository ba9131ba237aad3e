"""Photos in the support inbox on Telegram, end to end through aiogram and
python-telegram-bot against the local Bot API server, on a real database: a member's
photo reaches their topic in the staff chat by its file_id (no bytes through us),
with or without words; a staff member's photo in the topic is kept and named in the
member's notice; /tickets N marks photos; stickers, voice and photos too big are
refused in our words, and nothing changes."""

from __future__ import annotations

from sqlalchemy import func, select

from domain.notices.tables import Notice
from domain.support import pictures
from domain.support.tables import SupportMessage
from tests.adapters.telegram.test_support_topics import (
    ALICE,
    DESK,
    OWNER,
    acknowledged,
    bot,  # noqa: F401 - the fixture
    desk,
)


async def kept(db) -> list[tuple[str, str, str | None]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(SupportMessage).order_by(SupportMessage.id))
        return [(m.direction, m.text, m.picture_ref) for m in rows]


def photos(api, thread: int):
    return [c for c in api.sent("sendPhoto", DESK)
            if c.params.get("message_thread_id") in (thread, str(thread))]


async def test_member_photos_reach_the_topic_and_staff_photos_the_member(api, bot, db):  # noqa: F811
    await desk(api)
    api.message(ALICE, "/support", first_name="Alice")
    await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    receipt = api.message(ALICE, "My receipt", photo=True, photo_size=150_000)
    await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    bare = api.message(ALICE, None, photo=True)
    await api.wait_for(lambda _: sum(c.params["text"] == "✓ Sent. We will answer here."
                                     for c in api.sent("sendMessage", ALICE)) >= 2)
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    shown = await api.wait_for(lambda _: len(photos(api, thread)) >= 2)
    shown = photos(api, thread)
    # Sent again by the largest size's file_id: Telegram copies it, nothing uploaded.
    assert [c.params["photo"] for c in shown] == [
        f"photo{receipt['message']['message_id']}", f"photo{bare['message']['message_id']}"]
    assert not any(c.files for c in shown)
    # In the staff chat's language (the programme's own, Chinese, here).
    assert shown[0].params["caption"] == "📷 #1 会员 00000002：\nMy receipt"
    assert shown[1].params["caption"].startswith("📷 #1 会员 00000002：")
    assert await kept(db) == [("in", "My receipt", f"photo{receipt['message']['message_id']}"),
                              ("in", "", f"photo{bare['message']['message_id']}")]

    answer = api.message(OWNER, "Here is the map", photo=True, chat_id=DESK,
                         chat_type="supergroup", topic=thread, first_name="Olga")
    await api.wait_for(lambda _: acknowledged(api, answer))
    out = (await kept(db))[-1]
    assert out[:2] == ("out", "Here is the map") and out[2].startswith("photo")
    async with db.uow() as uow:
        notice = await uow.session.scalar(select(Notice).where(
            Notice.key == "support.reply_photo"))
        assert notice is not None and notice.params["text"] == "Here is the map"
        found = await pictures.find(uow, notice.params["picture"])
    assert found is not None and found.platform == "telegram" and found.ref == out[2]

    api.message(OWNER, "/tickets 1")
    (listed,) = await api.wait_for(1, method="sendMessage", chat_id=OWNER)
    assert "member: [photo] My receipt" in listed.params["text"]
    assert "staff: [photo] Here is the map" in listed.params["text"]


async def test_stickers_voice_and_big_photos_are_refused_in_our_words(api, bot, db):  # noqa: F811
    api.message(ALICE, "/support", first_name="Alice", language_code="zh-hans")
    opened = await api.wait_for(lambda calls: any("已为您接通客服" in c.params.get("text", "")
                                                  for c in calls),
                                method="sendMessage", chat_id=ALICE)
    before = len(opened)
    api.message(ALICE, None, sticker=True, language_code="zh-hans")
    api.message(ALICE, None, voice=True, language_code="zh-hans")
    api.message(ALICE, "看", photo=True, photo_size=pictures.MAX_BYTES + 1,
                language_code="zh-hans")
    said = await api.wait_for(before + 3, method="sendMessage", chat_id=ALICE)
    texts = [c.params["text"] for c in said[before:]]
    carried = "我们只接收文字和图片：请输入您的消息或发送图片（表情贴纸、语音和其他文件无法送达）。"
    assert texts[:2] == [carried] * 2
    assert texts[2] == "图片太大：最多 10 MB。请发送小一些的图片。"
    assert await kept(db) == []
    async with db.uow() as uow:  # still in the conversation: the next photo goes
        assert await uow.session.scalar(select(func.count()).select_from(SupportMessage)) == 0
    api.message(ALICE, None, photo=True, language_code="zh-hans")
    await api.wait_for(before + 4, method="sendMessage", chat_id=ALICE)
    assert [m[0] for m in await kept(db)] == ["in"]
