"""The staff chat's topics over a member's conversations (trial findings), end to end
through aiogram and python-telegram-bot against the local Bot API server, on a real
database: /setsupport refuses a group without topics, or one whose topics the bot
may not manage, and /setsupport off unsets the staff chat; a member's topic closes
with each conversation and is reopened (renamed when their tier changed, with a
fresh card) for the next, never made twice, and made again when staff deleted it;
a staff reply is acknowledged with 👍 on it (the words only if the reaction fails),
while a refusal stays words; a staff close asks the member with the 1-5 buttons."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.notifier import Notifier
from domain.members.tables import Member
from domain.notices.tables import Notice
from tests.adapters.telegram.test_support_topics import (
    ALICE,
    DESK,
    OWNER,
    acknowledged,
    bot,  # noqa: F401 - the fixture
    desk,
    in_chat,
)

BASIC = -9300


def texts(api, thread: int) -> list[str]:
    return [c.params["text"] for c in in_chat(api, DESK, thread)]


def called(api, method: str) -> list:
    return [c for c in api.calls if c.method == method]


async def said_in(api, chat: int, start: str) -> None:
    await api.wait_for(lambda _: any(c.params["text"].startswith(start)
                                     for c in api.sent("sendMessage", chat)))


async def alice_says(api, text: str, answer: str) -> dict:
    """Alice sends `text` and is answered with words starting `answer`: that message."""
    before = len(api.sent("sendMessage", ALICE))
    api.message(ALICE, text, first_name="Alice")
    await api.wait_for(lambda _: any(c.params["text"].startswith(answer) for c in
                                     api.sent("sendMessage", ALICE)[before:]))
    return next(c for c in api.sent("sendMessage", ALICE)[before:]
                if c.params["text"].startswith(answer))


async def test_setsupport_checks_topics_and_rights_and_off_unsets(api, bot, db):  # noqa: F811
    api.group(BASIC, "Old group", kind="group")
    api.message(OWNER, "/setsupport", chat_id=BASIC, chat_type="group")
    await said_in(api, BASIC, "This group has no topics.")
    api.group(DESK, "Support desk", forum=True)  # the bot a plain member
    api.message(OWNER, "/setsupport", chat_id=DESK, chat_type="supergroup")
    await said_in(api, DESK, "I may not manage this group's topics")
    api.admin(DESK, rights={"can_manage_topics": False})
    api.fail_next("getChatMember", 502, "Bad Gateway")
    api.message(OWNER, "/setsupport", chat_id=DESK, chat_type="supergroup")
    await said_in(api, DESK, "I could not check my rights in this group just now.")
    api.message(OWNER, "/setsupport", chat_id=DESK, chat_type="supergroup")
    await api.wait_for(lambda _: sum("I may not manage" in c.params["text"]
                                     for c in api.sent("sendMessage", DESK)) == 2)
    assert not any("staff chat now" in c.params["text"] for c in api.sent("sendMessage"))
    await desk(api)  # made an admin who may: set

    api.message(OWNER, "/setsupport off", chat_id=DESK, chat_type="supergroup")
    await said_in(api, DESK, "✓ There is no staff chat now")
    await alice_says(api, "/support", "💬 You are talking to us now (#1).")
    await alice_says(api, "Hello?", "✓ Sent.")
    async with db.uow() as uow:  # staff hear in private, as with no staff chat
        told = await uow.session.scalar(select(Notice.key).where(
            Notice.key == "support.staff.waiting"))
    assert told is not None
    assert called(api, "createForumTopic") == []


async def test_a_topic_closes_and_reopens_with_the_conversations(api, bot, db,  # noqa: F811
                                                                 programme):
    await desk(api)
    await alice_says(api, "/support", "💬 You are talking to us now (#1).")
    await alice_says(api, "Do you open on Sundays?", "✓ Sent.")
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    await api.wait_for(lambda _: len(texts(api, thread)) >= 2)  # the card, the message

    closing = await alice_says(api, "/support close", "Conversation #1 is closed.")
    assert [b["text"] for b in closing.params["reply_markup"]["inline_keyboard"][0]] == \
        ["1", "2", "3", "4", "5"]
    await api.wait_for(lambda _: (DESK, thread) in api.closed_topics)
    assert texts(api, thread)[-1] == "✅ 客服 #1（会员 00000002）已由会员结束。"

    async with db.uow() as uow:  # a new tier meanwhile: the topic's name follows
        await uow.session.execute(update(Member).where(Member.id == 2).values(tier="gold"))
        await uow.commit()
    await alice_says(api, "/support", "💬 You are talking to us now (#2).")
    await alice_says(api, "Me again", "✓ Sent.")
    await api.wait_for(lambda _: "Me again" in "".join(texts(api, thread)[-1:]))
    assert (DESK, thread) not in api.closed_topics
    assert [c.params["message_thread_id"] for c in api.sent("reopenForumTopic")] == [thread]
    (renamed,) = api.sent("editForumTopic")
    assert renamed.params["name"] == "00000002 · 黄金会员 · telegram"
    assert api.topics[(DESK, thread)] == renamed.params["name"]
    card = texts(api, thread)[-2]
    assert card.startswith("🪪 ") and "黄金会员" in card  # a fresh card, before the message
    assert len(called(api, "createForumTopic")) == 1

    answer = api.message(OWNER, "Yes, from 10 to 18.", chat_id=DESK, chat_type="supergroup",
                         topic=thread, first_name="Olga")
    await api.wait_for(lambda _: acknowledged(api, answer))
    api.message(OWNER, "/close", chat_id=DESK, chat_type="supergroup", topic=thread)
    await api.wait_for(lambda _: len(api.sent("closeForumTopic")) == 2)
    assert "✅ #2 已由工作人员结束。" in texts(api, thread)
    assert not any(t.startswith("✓ Sent") for t in texts(api, thread))

    await Notifier(db, programme, {"telegram": bot.pushers["telegram"]}).run_once()
    asked = await api.wait_for(lambda _: any(
        c.params["text"].startswith("Your support conversation #2 has been closed.")
        for c in api.sent("sendMessage", ALICE)), method="sendMessage", chat_id=ALICE)
    rating = next(c for c in asked if c.params["text"].startswith("Your support"))
    actions = [b["callback_data"] for b in rating.params["reply_markup"]["inline_keyboard"][0]]
    assert actions == [f"spr:2:{n}" for n in range(1, 6)]
    api.callback(ALICE, "spr:2:4", rating.result["message_id"])
    await said_in(api, ALICE, "Thank you for rating us 4!")

    api.delete_topic(DESK, thread)  # staff deleted it: the next conversation gets one anew
    await alice_says(api, "/support", "💬 You are talking to us now (#3).")
    await alice_says(api, "Hello once more", "✓ Sent.")
    (_, remade) = await api.wait_for(2, method="createForumTopic")
    fresh = remade.result["message_thread_id"]
    await api.wait_for(lambda _: len(texts(api, fresh)) >= 2)
    assert texts(api, fresh)[0].startswith("🪪 ") and "Hello once more" in texts(api, fresh)[1]


async def test_a_topic_deleted_mid_conversation_is_made_again(api, bot, db):  # noqa: F811
    await desk(api)
    await alice_says(api, "/support", "💬 You are talking to us now (#1).")
    await alice_says(api, "First", "✓ Sent.")
    (made,) = await api.wait_for(1, method="createForumTopic")
    await api.wait_for(lambda _: len(texts(api, made.result["message_thread_id"])) >= 2)
    api.delete_topic(DESK, made.result["message_thread_id"])
    await alice_says(api, "Second", "✓ Sent.")
    (_, remade) = await api.wait_for(2, method="createForumTopic")
    fresh = remade.result["message_thread_id"]
    await api.wait_for(lambda _: len(texts(api, fresh)) >= 2)
    assert texts(api, fresh)[0].startswith("🪪 ") and "Second" in texts(api, fresh)[1]
    answer = api.message(OWNER, "Got it", chat_id=DESK, chat_type="supergroup", topic=fresh)
    await api.wait_for(lambda _: acknowledged(api, answer))  # the new topic is hers


async def test_a_reply_is_words_when_the_reaction_fails_and_refusals_stay_words(
        api, bot):  # noqa: F811
    await desk(api)
    await alice_says(api, "/support", "💬 You are talking to us now (#1).")
    await alice_says(api, "Hello", "✓ Sent.")
    (made,) = await api.wait_for(1, method="createForumTopic")
    thread = made.result["message_thread_id"]
    api.fail_next("setMessageReaction", 400, "Bad Request: REACTION_INVALID")
    api.message(OWNER, "Hi Alice", chat_id=DESK, chat_type="supergroup", topic=thread)
    await api.wait_for(lambda _: "✓ Sent to #1." in texts(api, thread))
    api.message(OWNER, "x" * 2001, chat_id=DESK, chat_type="supergroup", topic=thread)
    await api.wait_for(lambda _: any(t.startswith("That message is too long")
                                     for t in texts(api, thread)))
    assert api.reactions == {}
    ok = api.message(OWNER, "Anything else?", chat_id=DESK, chat_type="supergroup",
                     topic=thread)
    await api.wait_for(lambda _: acknowledged(api, ok))
    assert texts(api, thread).count("✓ Sent to #1.") == 1
