"""The support inbox's staff chat on Telegram, end to end through aiogram and
python-telegram-bot against the local Bot API server, on a real database: /setsupport
in a forum, a topic made once per member and opened with the member card, staff
replies in a topic reaching members on Telegram and in the console (never with the
staff member's name), /close in a topic, and anyone else refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.console import Courier
from bot.console_outbox import Outbox
from bot.notifier import Notifier
from domain.feedback import surveys
from domain.members import members
from domain.notices.tables import Notice
from domain.staff import roles
from domain.support import conversations as support
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

DESK, PLAIN = -1009100, -1009200
OWNER, ALICE, STRANGER = 910, 911, 912


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"telegram:{OWNER}", datetime.now(UTC))
        await surveys.keep_from_file(uow, programme, datetime.now(UTC))
        await uow.commit()
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def in_chat(api, chat_id: int, thread: int | None = None):
    return [c for c in api.sent("sendMessage", chat_id)
            if thread is None or c.params.get("message_thread_id") in (thread, str(thread))]


async def notices(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Notice))


def acknowledged(api, update: dict) -> bool:
    """Whether the bot put 👍 on the message of `update` (a reply that went)."""
    msg = update["message"]
    return api.reactions.get((msg["chat"]["id"], msg["message_id"])) == ["👍"]


async def desk(api) -> None:
    api.group(DESK, "Support desk", forum=True)
    api.admin(DESK)  # the bot, with the right to manage topics among the others
    api.message(OWNER, "/setsupport", chat_id=DESK, chat_type="supergroup")
    await api.wait_for(lambda _: any(
        c.params["text"].startswith("✓ This group is the staff chat now")
        for c in in_chat(api, DESK)))


async def test_setsupport_needs_a_forum_and_an_operator(api, bot, db):
    api.group(PLAIN, "No topics")
    api.message(OWNER, "/setsupport", chat_id=PLAIN, chat_type="supergroup")
    (said,) = await api.wait_for(1, method="sendMessage", chat_id=PLAIN)
    assert said.params["text"].startswith("This group has no topics.")
    api.group(DESK, "Support desk", forum=True)
    api.message(STRANGER, "/setsupport", chat_id=DESK, chat_type="supergroup")
    (refused,) = await api.wait_for(1, method="sendMessage", chat_id=DESK)
    assert refused.params["text"] == \
        "Only the owner, admins and operators may make this the staff chat."
    async with db.uow() as uow:  # nobody was made a member by it
        assert await members.by_identity(uow, "telegram", str(STRANGER)) is None
    await desk(api)


async def test_topics_once_per_member_and_replies_back_on_each_platform(api, bot, db,
                                                                       programme, tmp_path):
    await desk(api)
    api.message(ALICE, "/support", first_name="Alice")
    await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    api.message(ALICE, "Do you open on Sundays?")
    api.message(ALICE, "And on holidays?")
    await api.wait_for(3, method="sendMessage", chat_id=ALICE)
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    assert made.params["name"].startswith("00000002 · ")  # member number, tier, platform
    assert made.params["name"].endswith(" · telegram")
    posted = await api.wait_for(lambda _: len(in_chat(api, DESK, thread)) >= 3)
    texts = [c.params["text"] for c in in_chat(api, DESK, thread)]
    assert texts[0].startswith("🪪 ") and "00000002" in texts[0]  # the card comes first
    assert "Do you open on Sundays?" in texts[1] and "And on holidays?" in texts[2]
    assert len(api.sent("createForumTopic")) == 1 and posted

    async with db.uow() as uow:  # a console member writes too: a topic of their own
        carol = (await members.register(uow, programme, "console", "carol",
                                        datetime.now(UTC))).member
        await support.open_(uow, programme, carol, datetime.now(UTC))
        await support.member_says(uow, programme, carol, "Hello from the terminal",
                                  datetime.now(UTC))
        await uow.commit()
    (_, second) = await api.wait_for(2, method="createForumTopic")
    carol_thread = second.result["message_thread_id"]
    await api.wait_for(lambda _: len(in_chat(api, DESK, carol_thread)) >= 2)

    answers = [api.message(OWNER, "Yes, from 10 to 18.", chat_id=DESK,
                           chat_type="supergroup", topic=thread, first_name="Olga"),
               api.message(OWNER, "Hi Carol!", chat_id=DESK, chat_type="supergroup",
                           topic=carol_thread, first_name="Olga")]
    await api.wait_for(lambda _: all(acknowledged(api, a) for a in answers))
    assert not any("✓ Sent" in c.params["text"] for c in in_chat(api, DESK))
    outbox = Outbox(tmp_path)
    pushers = {"telegram": bot.pushers["telegram"], "console": Courier(bot, outbox).push}
    await Notifier(db, programme, pushers).run_once()
    answer = (await api.wait_for(4, method="sendMessage", chat_id=ALICE))[-1]
    assert answer.params["text"].startswith("💬 Our answer (#1):\nYes, from 10 to 18.")
    assert "Olga" not in answer.params["text"]
    (carols,) = outbox.take("carol")
    assert "Hi Carol!" in carols.text and "Olga" not in carols.text
    assert len(api.sent("createForumTopic")) == 2  # no topic made twice

    before = await notices(db)
    api.message(STRANGER, "I am not staff", chat_id=DESK, chat_type="supergroup",
                topic=thread)
    await api.wait_for(lambda _: any(c.params["text"] == "Only staff may answer members here."
                                     for c in in_chat(api, DESK, thread)))
    assert await notices(db) == before  # nothing reached the member

    api.message(OWNER, "/close", chat_id=DESK, chat_type="supergroup", topic=thread)
    await api.wait_for(lambda _: any(c.params["text"].startswith("✓ #1 is closed")
                                     for c in in_chat(api, DESK, thread)))
    async with db.uow() as uow:
        assert (await support.get(uow, 1)).status == support.CLOSED
    api.message(OWNER, "anyone there?", chat_id=DESK, chat_type="supergroup", topic=thread)
    await api.wait_for(lambda _: any("no open conversation" in c.params["text"]
                                     for c in in_chat(api, DESK, thread)))
