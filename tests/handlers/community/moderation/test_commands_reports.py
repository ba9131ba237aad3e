"""/report: anyone replies to a message with it; the admins are told, in the group or
in its log chat, with buttons that only they may press: each action once, until one of
them marks it resolved."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.community.tables import GroupReport
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    BOT,
    LOG_ID,
    TEA_ID,
    FakeGroupChat,
    Group,
    Person,
    action_of,
    group_in,
    moderation_for,
    restricted,
    warns_of,
)

SPAM_ID = "9001"  # Ben's message that Ann reports


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


@pytest.fixture
def log_chat() -> FakeGroupChat:
    # Its own admins count for nothing in the group (Bea, who set it, is one of them).
    return FakeGroupChat(chat_id=LOG_ID, admin_ids={"8008", BOSS.user_id})


@pytest.fixture
async def group(db, programme, clock, chat, log_chat) -> Group:
    moderation = moderation_for(db, programme, clock, {TEA_ID: chat, LOG_ID: log_chat})
    return Group(moderation, chat)


@pytest.fixture
def log_room(group, log_chat) -> Group:
    """The same Moderation, as the log chat's buttons reach it."""
    return Group(group.moderation, log_chat, title="Tea admins")


async def statuses(db) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(GroupReport.status)
                                              .order_by(GroupReport.id)))


async def report(group: Group) -> object:
    return await group.say(ANN, "/report", reply_to=BEN, reply_to_message_id=SPAM_ID)


async def test_a_report_in_the_group_with_its_buttons(db, group):
    said = await report(group)
    assert said.text == ("🚩 Ann Lee 举报了 Ben Wu 在“Tea Lovers”中的一条消息。\n"
                         "请管理员选择处理方式：")
    assert said.buttons == [("删除消息", "report:1:delete"), ("警告", "report:1:warn"),
                            ("禁言", "report:1:mute"), ("封禁", "report:1:ban"),
                            ("已处理", "report:1:resolved")]
    await group_in(group, "en")
    said = await report(group)
    assert said.text == "That message has already been reported; the admins will look at it."
    assert await statuses(db) == ["open"]


async def test_what_cannot_be_reported(db, group):
    await group_in(group, "en")
    said = await group.say(ANN, "/report")
    assert said.text == "To report a message to the admins, reply to it with /report."
    said = await group.say(ANN, "/report", reply_to=ANN)
    assert said.text == "You can't report your own message."
    for admin in (BOSS, BOT):
        said = await group.say(ANN, "/report", reply_to=admin)
        assert said.text == "That message is from an admin of this group, so it can't be reported."
    assert await statuses(db) == []


@pytest.mark.parametrize(("what", "action", "line"), [
    ("delete", ("delete", SPAM_ID), "✔️ Message deleted (Bea Boss)"),
    ("mute", ("mute", BEN.user_id, None), "✔️ Muted (Bea Boss)"),
    ("ban", ("ban", BEN.user_id, None), "✔️ Banned (Bea Boss)"),
])
async def test_each_action_on_a_report_is_taken_once(db, group, chat, what, action, line):
    """Only admins act; each action once (a second press of it changes nothing), and
    the notice is edited to say who did what (until Resolved closes it)."""
    await group_in(group, "en")
    await group.say(BEN, "buy cheap followers")  # seen, so his name is known
    notice = await report(group)
    button = action_of(notice, f"report:1:{what}")
    said = await group.press(ANN, button)
    assert said.replies == [] and said.outcome.toast is not None  # told privately
    assert chat.actions == [] and await statuses(db) == ["open"]
    said = await group.press(BOSS, button)
    assert said.replies[0].edit and line in said.replies[0].text
    assert chat.actions == [action]
    again = await group.press(BOSS, button)
    assert again.replies == [] and chat.actions == [action]


async def test_a_report_warn_counts_towards_the_limit(db, group, chat):
    await group.say(BOSS, "/setwarnlimit 1")
    notice = await report(group)
    said = await group.press(BOSS, action_of(notice, "report:1:warn"))
    assert "⛔ Ben Wu 的警告已达本群上限 1 次。\n" \
        "🔇 已将 Ben Wu 禁言，直到管理员解除禁言。" in said.text
    assert "原因：/report" not in said.text
    assert chat.actions == [("mute", BEN.user_id, None)]
    assert await restricted(db, BEN) == {"mute": None} and await warns_of(db, BEN) == []


async def test_with_a_log_chat_the_admins_are_told_there(db, group, log_room, chat, log_chat):
    await group.say(BOSS, f"/setlog {LOG_ID}")
    await group.say(BEN, "spam spam")
    said = await report(group)
    assert said.text == "谢谢，已通知管理员。"
    assert said.buttons == []
    assert said.logged() == ["🚩 Ann Lee 举报了 Ben Wu 在“Tea Lovers”中的一条消息。\n"
                             "请管理员选择处理方式："]
    buttons = [b for _, r in said.elsewhere for row in r.buttons for b in row]
    mute = next(action for _, action in buttons if action.endswith(":mute"))
    # An admin of the log chat only, or anyone else there, changes nothing.
    for who in ("8008", ANN.user_id):
        pressed = await log_room.press(Person(who, "Someone"), mute)
        assert pressed.replies == [] and pressed.outcome.toast is not None
    assert chat.actions == []
    # The group's admin presses it in the log chat: the group is acted on.
    pressed = await log_room.press(BOSS, mute)
    assert "✔️ 已禁言（Bea Boss）" in pressed.text and pressed.replies[0].edit
    assert chat.actions == [("mute", BEN.user_id, None)] and log_chat.actions == []
    assert pressed.logged(TEA_ID) == [
        "🔇 已将 Ben Wu 禁言，直到管理员解除禁言。\n原因：被举报的消息"]
    assert await restricted(db, BEN) == {"mute": None}


async def test_a_report_button_from_another_chat_does_nothing(db, programme, clock, group):
    await report(group)
    stranger = FakeGroupChat(chat_id="-1001000000555")
    elsewhere = Group(group.moderation, stranger, title="Other")
    said = await elsewhere.press(BOSS, "report:1:ban")
    assert said.replies == [] and stranger.actions == [] and group.chat.actions == []
    for forged in ("report:x:ban", "report:1:explode", "report:", "report:99:ban"):
        assert (await group.press(BOSS, forged)).replies == []
    assert await statuses(db) == ["open"]
