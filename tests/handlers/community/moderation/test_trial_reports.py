"""Trial findings on moderation buttons and /report: a stray press is answered to the
presser alone (a toast), an admin lacking the right is told which; a report names the
group's admins, keeps its reason, takes several actions until resolved, and speaks the
group's language in the log chat too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.community.tables import GroupReport
from handlers.engine.render import render
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
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
EVE = Person("2005", "Eve Moss", "eve")
CARL = Person("1002", "Carl Admin", "carl")  # an admin without "Ban users"


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat(admin_ids={BOSS.user_id, CARL.user_id, "7000"},
                         admin_rights={CARL.user_id: {"delete"}})


@pytest.fixture
def log_chat() -> FakeGroupChat:
    return FakeGroupChat(chat_id=LOG_ID, admin_ids={BOSS.user_id})  # /setlog asks it


@pytest.fixture
async def group(db, programme, clock, chat, log_chat) -> Group:
    return Group(moderation_for(db, programme, clock, {TEA_ID: chat, LOG_ID: log_chat}), chat)


@pytest.fixture
def log_room(group, log_chat) -> Group:
    return Group(group.moderation, log_chat, title="Mod log")


def toast(said) -> str | None:
    """The presser's private notice, as the platform would show it."""
    toasted = said.outcome.toast
    return render(toasted, said.outcome.locale).text if toasted is not None else None


async def statuses(db) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(GroupReport.status)
                                              .order_by(GroupReport.id)))


async def seen(group: Group) -> None:
    """Everyone writes once, so their names and usernames are known."""
    for who in (BEN, BOSS, CARL):
        await group.say(who, "hello")


async def test_a_stray_press_on_remove_warn_is_a_toast_and_says_nothing_in_the_group(
        db, group, chat):
    await group_in(group, "en")
    await seen(group)
    warned = await group.say(BOSS, "/warn spam", reply_to=BEN)
    unwarn = action_of(warned, "unwarn:")
    for _ in range(5):
        said = await group.press(EVE, unwarn)
        assert said.replies == [] and said.elsewhere == []
        assert toast(said) == "Only the group's admins can use this button. Nothing was changed."
    said = await group.press(CARL, unwarn)  # an admin, without "Ban users"
    assert said.replies == []
    assert toast(said) == ("To use this button you need the “Ban users” right in this "
                           "group yourself. Nothing was changed.")
    assert await warns_of(db, BEN) == ["spam"]
    said = await group.press(BOSS, unwarn)
    assert said.replies[0].edit and toast(said) is None
    assert await warns_of(db, BEN) == []


async def test_a_report_in_the_group_mentions_its_admins_and_keeps_the_reason(db, group):
    await group_in(group, "en")
    await seen(group)
    said = await group.say(ANN, "/report this is spam", reply_to=BEN,
                           reply_to_message_id=SPAM_ID)
    (notice,) = said.replies
    assert notice.text == ("🚩 Ann Lee reported a message by Ben Wu in Tea Lovers.\n"
                           "Reason: this is spam\nAdmins, what should be done?\n"
                           "@bea @carl")


async def test_a_report_takes_several_actions_until_resolved(db, group, chat):
    await group_in(group, "en")
    await seen(group)
    notice = await group.say(ANN, "/report this is spam", reply_to=BEN,
                             reply_to_message_id=SPAM_ID)
    said = await group.press(BOSS, action_of(notice, "report:1:warn"))
    assert said.replies[0].edit
    assert "✔️ Warned (Bea Boss)" in said.replies[0].text
    assert ("report:1:warn" not in [a for row in said.replies[0].buttons for _, a in row])
    assert "Reason: this is spam" in said.replies[1].text  # the group's warn message
    assert await warns_of(db, BEN) == ["this is spam"]
    again = await group.press(BOSS, action_of(notice, "report:1:warn"))
    assert again.replies == [] and toast(again) == "That was already done for this report."
    assert await warns_of(db, BEN) == ["this is spam"]
    said = await group.press(BOSS, action_of(notice, "report:1:delete"))
    assert ("delete", SPAM_ID) in chat.actions
    assert "✔️ Message deleted (Bea Boss)" in said.replies[0].text
    assert await statuses(db) == ["open"]
    said = await group.press(BOSS, action_of(notice, "report:1:resolved"))
    assert said.replies[0].text == ("✅ Report about Ben Wu closed by Bea Boss.\n"
                                    "✔️ Warned (Bea Boss)\n✔️ Message deleted (Bea Boss)")
    assert await statuses(db) == ["resolved"]
    late = await group.press(BOSS, action_of(notice, "report:1:ban"))
    assert late.replies == [] and toast(late) == "This report was already dealt with."
    assert await restricted(db, BEN) == {}


async def test_a_report_without_a_reason_warns_for_the_report(db, group):
    await group_in(group, "en")
    await seen(group)
    notice = await group.say(ANN, "/report", reply_to=BEN, reply_to_message_id=SPAM_ID)
    await group.press(BOSS, action_of(notice, "report:1:mute"))
    assert await restricted(db, BEN) == {"mute": None}
    said = await group.press(BOSS, action_of(notice, "report:1:warn"))
    assert "/report" not in said.text
    assert await warns_of(db, BEN) == ["reported message"]


async def test_deleting_and_banning_closes_the_report(db, group):
    await group_in(group, "en")
    await seen(group)
    notice = await group.say(ANN, "/report", reply_to=BEN, reply_to_message_id=SPAM_ID)
    said = await group.press(BOSS, action_of(notice, "report:1:ban"))
    left = [a for row in said.replies[0].buttons for _, a in row]
    assert left == ["report:1:delete", "report:1:resolved"]  # warn and mute are moot
    said = await group.press(BOSS, action_of(notice, "report:1:delete"))
    assert said.replies[0].text.startswith("✅ Report about Ben Wu closed by Bea Boss.")
    assert await statuses(db) == ["delete"]


async def test_the_log_chat_hears_the_group_language_and_strays_get_a_toast(
        db, group, log_room, chat, log_chat):
    await group_in(group, "en")  # the programme speaks Chinese; the group English
    await group.say(BOSS, f"/setlog {LOG_ID}")
    await seen(group)
    said = await group.say(ANN, "/report off topic", reply_to=BEN,
                           reply_to_message_id=SPAM_ID)
    (logged,) = said.logged()
    assert logged.startswith("🚩 Ann Lee reported a message by Ben Wu in Tea Lovers.\n"
                             "Reason: off topic")
    mute = "report:1:mute"
    pressed = await log_room.press(EVE, mute)
    assert pressed.replies == [] and pressed.elsewhere == []
    assert toast(pressed) == "Only the group's admins can use this button. Nothing was changed."
    pressed = await log_room.press(CARL, mute)
    assert toast(pressed) == ("To use this button you need the “Ban users” right in this "
                              "group yourself. Nothing was changed.")
    pressed = await log_room.press(BOSS, mute)
    assert pressed.outcome.locale == "en"
    assert pressed.replies[0].edit and "✔️ Muted (Bea Boss)" in pressed.replies[0].text
    (to_group,) = pressed.logged(TEA_ID)
    assert "Ben Wu" in to_group and "Reason: off topic" in to_group
    assert all("Tea Lovers" in text for text in pressed.logged(LOG_ID))
    closed = await log_room.press(BOSS, "report:1:resolved")
    assert closed.replies[0].text.startswith("✅ Report about Ben Wu closed by Bea Boss.")
    late = await log_room.press(BOSS, mute)
    assert late.replies == [] and toast(late) == "This report was already dealt with."


async def test_an_admin_without_a_username_is_named_by_a_mention(db, programme, clock):
    """Re-trial: only @usernames were named, so such an admin was never notified."""
    dee = Person("1003", "Dee Ng")  # no @username
    chat = FakeGroupChat(admin_ids={BOSS.user_id, dee.user_id, "7000"})
    group = Group(moderation_for(db, programme, clock, {TEA_ID: chat}), chat)
    await group_in(group, "en")
    for who in (BEN, BOSS, dee):
        await group.say(who, "hello")
    said = await group.say(ANN, "/report", reply_to=BEN, reply_to_message_id=SPAM_ID)
    (notice,) = said.replies
    assert notice.text.endswith("Admins, what should be done?\n@bea Dee Ng")
    start = notice.text.index("Dee Ng")
    assert notice.mentions == ((start, start + len("Dee Ng"), "1003"),)
