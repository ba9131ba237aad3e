"""A staff member's photo in a member's topic reaches the member, end to end through
aiogram and python-telegram-bot against the local Bot API server, on a real database:
a Telegram member gets it by the same file_id (nothing downloaded or uploaded), a
console member gets the bytes (getFile, then the file) saved where they can open
it. A photo that cannot be had leaves the words with a line saying so; while
Telegram, which holds the photo, is still connecting, the notice waits for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import notice_pictures, notifier
from bot.console import Courier, format_reply
from bot.console_outbox import Outbox
from bot.notifier import Notifier
from bot.telegram import support_photos
from bot.telegram.transport import Rejected, plan
from domain.members import members
from domain.notices.tables import Notice
from domain.support import conversations as support
from handlers.engine.render import dump, load
from handlers.engine.types import Rendered
from tests.adapters.telegram.test_support_topics import (
    ALICE,
    DESK,
    OWNER,
    acknowledged,
    bot,  # noqa: F401 - the fixture
    desk,
    in_chat,
)

ANSWER = "💬 Our answer (#1), with a photo:\nHere is the map\n\nReply with /support."
LINE = "(The photo sent with this answer could not be shown here.)"
# Carol, in the console, reads the programme's own language.
ZH_ANSWER = "💬 客服回复（#1），附图片：\nHere is the map\n\n如需继续沟通，请发送 /support。"
ZH_LINE = "（这条回复所附的图片无法在此显示。）"


async def staff_photo(api, thread: int) -> str:
    """Staff send a photo with words in the member's topic; its file_id."""
    sent = api.message(OWNER, "Here is the map", photo=True, chat_id=DESK,
                       chat_type="supergroup", topic=thread, first_name="Olga")
    await api.wait_for(lambda _: acknowledged(api, sent))
    return f"photo{sent['message']['message_id']}"


async def alice_asks(api) -> int:
    """Alice opens a conversation and asks; the thread of her topic."""
    await desk(api)
    api.message(ALICE, "/support", first_name="Alice")
    await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    api.message(ALICE, "Where is the shop?")
    await api.wait_for(2, method="sendMessage", chat_id=ALICE)
    (made,) = await api.wait_for(1, method="createForumTopic")
    return made.result["message_thread_id"]


async def carol_asks(api, db, programme) -> int:
    """Carol, a console member, asks; the thread of her topic."""
    await desk(api)
    async with db.uow() as uow:
        carol = (await members.register(uow, programme, "console", "carol",
                                        datetime.now(UTC))).member
        await support.open_(uow, programme, carol, datetime.now(UTC))
        await support.member_says(uow, programme, carol, "Where is the shop?",
                                  datetime.now(UTC))
        await uow.commit()
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    await api.wait_for(lambda _: len(in_chat(api, DESK, thread)) >= 2)  # card, question
    return thread


async def notice_status(db) -> tuple[str, int]:
    async with db.uow() as uow:
        notice = await uow.session.scalar(select(Notice).where(
            Notice.key == "support.reply_photo"))
        assert notice is not None
        return notice.status, notice.attempts


async def test_a_telegram_member_gets_the_photo_by_its_file_id(api, bot, db,  # noqa: F811
                                                              programme):
    thread = await alice_asks(api)
    file_id = await staff_photo(api, thread)
    assert not api.sent("sendPhoto", ALICE)  # the notice is what carries it
    await Notifier(db, programme, bot.pushers).run_once()
    (shown,) = await api.wait_for(1, method="sendPhoto", chat_id=ALICE)
    assert shown.params["photo"] == file_id  # the same file, named: no bytes through us
    assert not shown.files
    assert shown.params["caption"] == ANSWER
    assert not any(c.method == "getFile" for c in api.calls) and api.downloads == []
    assert await notice_status(db) == ("sent", 1)
    # The words went once, as the caption.
    assert not any("Here is the map" in c.params["text"]
                   for c in api.sent("sendMessage", ALICE))


async def test_a_file_telegram_no_longer_holds_leaves_the_words_and_the_line(
        api, bot, db, programme):  # noqa: F811
    thread = await alice_asks(api)
    file_id = await staff_photo(api, thread)
    del api.files[file_id]  # Telegram refuses it now: wrong file identifier
    await Notifier(db, programme, bot.pushers).run_once()
    said = [c.params["text"] for c in api.sent("sendMessage", ALICE)
            if "Here is the map" in c.params["text"]]
    assert said == [f"{ANSWER}\n{LINE}"]
    assert not api.sent("sendPhoto", ALICE)
    refused = [c for c in api.calls if c.method == "sendPhoto" and c.chat_id == ALICE]
    assert [c.status for c in refused] == [400]  # tried once by reference, then words
    assert await notice_status(db) == ("sent", 1)


async def test_a_console_member_gets_the_photo_saved(api, bot, db, programme,  # noqa: F811
                                                     tmp_path):
    thread = await carol_asks(api, db, programme)
    file_id = await staff_photo(api, thread)
    outbox = Outbox(tmp_path / "outbox")
    courier = Courier(bot, outbox)

    # Telegram, which holds the photo, still connecting: the notice waits, uncounted.
    waiting = {"telegram": notifier.connecting, "console": courier.push}
    await Notifier(db, programme, waiting).run_once()
    assert outbox.take("carol") == []
    assert await notice_status(db) == ("pending", 0)

    later = datetime.now(UTC) + timedelta(minutes=1)
    pushers = {"telegram": bot.pushers["telegram"], "console": courier.push}
    await Notifier(db, programme, pushers, clock=lambda: later).run_once()
    (message,) = outbox.take("carol")
    assert message.text == ZH_ANSWER
    assert message.image == api.files[file_id]  # getFile, then the file itself
    assert api.downloads == [file_id]
    shown = format_reply(message, "zh_Hans", tmp_path / "pictures")
    saved = Path(shown.rsplit("图片已保存到 ", 1)[1])
    assert await asyncio.to_thread(saved.read_bytes) == api.files[file_id]
    assert await notice_status(db) == ("sent", 1)


async def test_a_photo_that_cannot_be_fetched_leaves_the_words_and_the_line(
        api, bot, db, programme, tmp_path):  # noqa: F811
    thread = await carol_asks(api, db, programme)
    await staff_photo(api, thread)
    api.fail_next("getFile", 400, "Bad Request: invalid file_id")
    outbox = Outbox(tmp_path)
    pushers = {"telegram": bot.pushers["telegram"], "console": Courier(bot, outbox).push}
    await Notifier(db, programme, pushers).run_once()
    (message,) = outbox.take("carol")
    assert message.text == f"{ZH_ANSWER}\n{ZH_LINE}"
    assert message.image is None and api.downloads == []
    assert await notice_status(db) == ("sent", 1)


async def test_a_download_is_streamed_within_its_cap(api, transport):
    size = 300_000
    sent = api.message(ALICE, None, photo=True, photo_size=size)
    file_id = f"photo{sent['message']['message_id']}"
    assert await support_photos.download(transport, file_id) == api.files[file_id]
    # Over the cap by getFile's own count: nothing is downloaded.
    assert await support_photos.download(transport, file_id, most=size - 1) is None
    assert api.downloads == [file_id]
    # Over the cap by what the link answers: cut short, nothing kept.
    link, _ = await transport.file_link(file_id)
    assert await notice_pictures.fetch(link, most=size - 1) is None
    with pytest.raises(Rejected):
        await transport.file_link("no-such-file")


def test_a_photo_by_reference_is_kept_in_a_recorded_answer():
    message = Rendered("Here is the map", image_ref="photo7")
    assert load(dump(message)) == message
    (part,) = plan(message)  # one sendPhoto naming the file, the words its caption
    assert (part.kind, part.remote, part.upload, part.text) == \
        ("photo", "photo7", None, "Here is the map")
