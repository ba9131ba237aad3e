"""/warn, /warns, /unwarn, /resetwarns, /mute, /unmute, /ban, /unban and /kick in a
group: by its admins (and memberbot's staff) they act on the platform, are recorded and
audited; by anyone else, or against an admin or the bot, they change nothing and say
why in our words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.community import restrictions
from handlers.community.moderation.events import DELETE, RESTRICT, SETTINGS
from tests.handlers.community import someone
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    BOT,
    TEA_ID,
    FakeGroupChat,
    Group,
    Person,
    action_of,
    audited,
    group_in,
    moderation_for,
    restricted,
    warns_of,
)

ADMIN = f"telegram:{BOSS.user_id}"
ANN_AT = f"user:telegram:{TEA_ID}:{ANN.user_id}"


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


@pytest.fixture
async def group(db, programme, clock, chat) -> Group:
    return Group(moderation_for(db, programme, clock), chat)


@pytest.fixture
async def english(group) -> Group:
    await group_in(group, "en")
    return group


# ------------------------------------------------------------------ who may

MODERATOR_COMMANDS = ["/warn spam", "/unwarn", "/resetwarns", "/mute 2h", "/unmute",
                      "/ban", "/unban", "/kick", "/setwarnlimit 5", "/setwarnmode ban",
                      "/setlog -1001000000999", "/admincache", "/grouplang en",
                      "/cleancommands on", "/setrules Be kind.", "/resetrules"]


@pytest.mark.parametrize("command", MODERATOR_COMMANDS)
async def test_a_member_who_is_no_admin_is_refused_and_nothing_changes(
        db, group, chat, command):
    said = await group.say(ANN, command, reply_to=BEN)
    name = command.split()[0]
    assert said.keys == ["moderation.not_admin"]
    assert said.text == f"只有群管理员才能使用 {name}。"
    assert chat.actions == [] and said.elsewhere == []
    assert await audited(db) == [] and await warns_of(db, BEN) == []


async def test_the_refusal_speaks_the_groups_language(english, chat):
    said = await english.say(ANN, "/ban", reply_to=BEN)
    assert said.text == "Only the group's admins can use /ban."
    assert chat.actions == []


async def test_memberbot_staff_moderate_a_group_they_do_not_administer(
        db, engine, boss, clock, english, chat):
    await someone(db, engine, clock, "3001", role="moderator")
    mod = Person("3001", "Mo Derator", "mo")
    said = await english.say(mod, "/warn off topic", reply_to=ANN)
    assert said.keys == ["moderation.warned"]
    assert await warns_of(db, ANN) == ["off topic"]
    # A member without a role is no moderator.
    await someone(db, engine, clock, "3002")
    said = await english.say(Person("3002", "Plain Member"), "/warn", reply_to=ANN)
    assert said.keys == ["moderation.not_admin"]


RESTRICTING = ["/warn spam", "/unwarn", "/resetwarns", "/mute 2h", "/unmute", "/ban",
               "/unban", "/kick", "/setwarnlimit 5", "/setwarnmode ban"]
SETTING = ["/setlog -1001000000999", "/grouplang en", "/cleancommands on",
           "/setrules Be kind.", "/resetrules", "/setwelcome Hi {first}", "/welcome off"]


@pytest.mark.parametrize("command", RESTRICTING)
async def test_an_admin_without_the_ban_right_of_their_own_is_refused(
        db, english, chat, command):
    """The bot would otherwise ban for an admin the chat's owner only let pin."""
    chat.admin_ids.add(ANN.user_id)
    chat.admin_rights[ANN.user_id] = {DELETE, SETTINGS}
    before = await audited(db)
    said = await english.say(ANN, command, reply_to=BEN)
    name = command.split()[0]
    assert said.text == (f"To use {name} here you need the “Ban users” right in this "
                         "group yourself. Ask the group's owner for it.")
    assert chat.actions == [] and await audited(db) == before
    assert await warns_of(db, BEN) == []


@pytest.mark.parametrize("command", SETTING)
async def test_an_admin_without_the_change_info_right_changes_no_setting(
        db, group, chat, command):
    chat.admin_ids.add(ANN.user_id)
    chat.admin_rights[ANN.user_id] = {RESTRICT}
    said = await group.say(ANN, command)
    assert said.keys == ["moderation.lacks_right"]
    assert "“更改群组信息”" in said.text
    assert await audited(db) == []


async def test_the_right_an_admin_holds_is_enough(db, english, chat):
    chat.admin_ids.add(ANN.user_id)
    chat.admin_rights[ANN.user_id] = {RESTRICT}
    said = await english.say(ANN, "/mute 2h", reply_to=BEN)
    assert said.keys == ["moderation.muted"]
    assert said.text == "🔇 Ben Wu is muted for 2 hours."


# ------------------------------------------------------------------ warns

async def test_a_warn_by_reply_in_both_languages_with_a_remove_button(db, group, chat):
    said = await group.say(BOSS, "/warn 刷屏", reply_to=ANN)
    assert said.text == "⚠️ Ann Lee 被警告（1/3）。\n原因：刷屏"
    assert said.buttons == [("撤销警告", "unwarn:1")]
    await group_in(group, "en")
    said = await group.say(BOSS, "/warn", reply_to=ANN)
    assert said.text == "⚠️ Ann Lee has been warned (2/3)."
    assert said.buttons == [("Remove warn", "unwarn:2")]
    assert await warns_of(db, ANN) == ["刷屏", None]
    assert chat.actions == []  # a warn below the limit asks nothing of the platform
    assert [a for _, a, _ in await audited(db, "group.warn")] == ["group.warn"] * 2


@pytest.mark.parametrize(("mode", "action", "line"), [
    ("mute", ("mute", ANN.user_id, None), "🔇 Ann Lee is muted until an admin unmutes them."),
    ("ban", ("ban", ANN.user_id, None), "🚫 Ann Lee is banned until an admin unbans them."),
    ("kick", ("kick", ANN.user_id), "👢 Ann Lee was removed from the group and may join again."),
])
async def test_at_the_warn_limit_the_modes_action_follows_and_the_warns_reset(
        db, english, chat, mode, action, line):
    await english.say(BOSS, "/setwarnlimit 2")
    await english.say(BOSS, f"/setwarnmode {mode}")
    await english.say(BOSS, "/warn one", reply_to=ANN)
    said = await english.say(BOSS, "/warn two", reply_to=ANN)
    assert said.text == (f"⛔ Ann Lee has reached 2 warns, this group's limit.\n{line}\n"
                         "Reason: two")
    assert said.buttons == []
    assert chat.actions == [action]
    assert await warns_of(db, ANN) == []  # a fresh count
    recorded = await restricted(db, ANN)
    assert recorded == ({} if mode == "kick" else {mode: None})
    actions = [a for _, a, _ in await audited(db) if a != "group.settings"]
    assert actions == ["group.warn", "group.warn", f"group.{mode}"]
    # The next warn starts again at one.
    said = await english.say(BOSS, "/warn three", reply_to=ANN)
    assert said.text.startswith("⚠️ Ann Lee has been warned (1/2).")


async def test_the_limit_in_chinese(db, group, chat):
    await group.say(BOSS, "/setwarnlimit 1")
    said = await group.say(BOSS, "/warn 广告", reply_to=ANN)
    assert said.text == ("⛔ Ann Lee 的警告已达本群上限 1 次。\n"
                         "🔇 已将 Ann Lee 禁言，直到管理员解除禁言。\n原因：广告")


async def test_the_remove_warn_button_is_for_admins_only(db, english, chat):
    warned = await english.say(BOSS, "/warn spam", reply_to=ANN)
    unwarn = action_of(warned, "unwarn:")
    for stray in (ANN, BEN):  # told privately (a toast), nothing said in the group
        said = await english.press(stray, unwarn)
        assert said.replies == [] and said.outcome.toast.key == "moderation.admins_only_button"
    assert await warns_of(db, ANN) == ["spam"]
    said = await english.press(BOSS, unwarn)
    assert said.text == "↩️ Bea Boss removed this warn of Ann Lee."
    assert said.replies[0].edit  # in place of the warn, its button gone
    assert await warns_of(db, ANN) == []
    said = await english.press(BOSS, unwarn)  # again: told privately, message kept
    assert said.replies == [] and said.outcome.toast.key == "moderation.unwarn_gone"
    assert [a for _, a, _ in await audited(db, "group.unwarn")] == ["group.unwarn"]


@pytest.mark.parametrize("data", ["unwarn:", "unwarn:x", "unwarn:99", "unwarn:" + "9" * 40])
async def test_a_forged_remove_warn_button_changes_nothing(db, english, data):
    await english.say(BOSS, "/warn spam", reply_to=ANN)
    said = await english.press(BOSS, data)
    assert said.keys in ([], ["moderation.unwarn_gone"])
    assert await warns_of(db, ANN) == ["spam"]


async def test_warns_unwarn_and_resetwarns(db, english):
    said = await english.say(BEN, "/warns")
    assert said.text == "Ben Wu has no warns here."  # anyone sees their own
    await english.say(BOSS, "/setwarnlimit 4")
    for reason in ("spam", "", "links"):
        await english.say(BOSS, f"/warn {reason}", reply_to=ANN)
    said = await english.say(BEN, "/warns", reply_to=ANN)
    assert said.text == ("Ann Lee has 3 warns (the limit is 4):\n"
                         "1. spam\n2. (no reason given)\n3. links")
    said = await english.say(BOSS, "/unwarn", reply_to=ANN)
    assert said.text == "Removed Ann Lee's latest warn. Warns now: 2/4."
    assert await warns_of(db, ANN) == ["spam", None]
    said = await english.say(BOSS, "/resetwarns", reply_to=ANN)
    assert said.text == "Cleared Ann Lee's 2 warns."
    said = await english.say(BOSS, "/resetwarns", reply_to=ANN)
    assert said.text == "Ann Lee has no warns here."
    assert await warns_of(db, ANN) == []


async def test_warns_in_chinese(group):
    await group.say(BOSS, "/warn 刷屏", reply_to=ANN)
    said = await group.say(ANN, "/warns")
    assert said.text == "Ann Lee 有 1 次警告（上限 3 次）：\n1. 刷屏"


# ------------------------------------------------------------------ mute, ban, kick

@pytest.mark.parametrize(("typed", "length", "said_as"), [
    ("/mute ３０m", timedelta(minutes=30), "muted for 30 minutes"),  # a Chinese keyboard
    ("/mute \u202e7d", timedelta(days=7), "muted for 1 week"),  # an invisible mark
    ("/mute \u0663d", timedelta(days=3), "muted for 3 days"),  # an Arabic-Indic 3
])
async def test_a_length_typed_oddly_is_a_length_never_a_reason(english, chat, clock, typed,
                                                                length, said_as):
    """Read as the reason, it made the mute permanent."""
    said = await english.say(BOSS, typed, reply_to=ANN)
    assert said_as in said.text and "Reason" not in said.text
    assert chat.actions == [("mute", ANN.user_id, clock.now + length)]


async def test_an_odd_length_that_is_none_is_refused(english, chat):
    said = await english.say(BOSS, "/ban ３x", reply_to=ANN)
    assert "“3x”" in said.text or "３x" in said.text
    assert chat.actions == []


async def test_mute_for_a_while_then_unmute(db, english, chat, clock):
    said = await english.say(BOSS, "/mute 2h flooding", reply_to=ANN)
    until = clock.now + timedelta(hours=2)
    assert said.text == "🔇 Ann Lee is muted for 2 hours.\nReason: flooding"
    assert chat.actions == [("mute", ANN.user_id, until)]
    assert await restricted(db, ANN) == {"mute": until}
    async with english.moderation.db.uow() as uow:
        kept = await restrictions.active(uow, "telegram", TEA_ID, ANN.user_id, clock.now)
        assert [(r.kind, r.until) for r in kept] == [("mute", until)]
    said = await english.say(BOSS, "/unmute", reply_to=ANN)
    assert said.text == "🔊 Ann Lee can write again."
    assert chat.actions[-1] == ("unmute", ANN.user_id)
    assert await restricted(db, ANN) == {}
    assert [a for _, a, t in await audited(db) if t == ANN_AT] == ["group.mute",
                                                                   "group.unmute"]


@pytest.mark.parametrize(("command", "kind", "length"), [
    ("/mute 10s", "mute", None), ("/mute 29s", "mute", None), ("/ban 367d", "ban", None),
    ("/ban 2w", "ban", timedelta(weeks=2)), ("/mute 30s", "mute", timedelta(seconds=30)),
    ("/mute 366d", "mute", timedelta(days=366)),
])
async def test_a_length_the_platform_takes_as_for_ever_is_said_to_be_permanent(
        db, english, chat, clock, command, kind, length):
    said = await english.say(BOSS, command, reply_to=ANN)
    until = clock.now + length if length else None
    assert chat.actions == [(kind, ANN.user_id, until)]
    assert await restricted(db, ANN) == {kind: until}
    note = ("Telegram treats a length under 30 seconds or over 366 days as permanent, "
            "so this one is permanent.")
    assert (note in said.text) == (length is None)


async def test_the_permanent_notice_in_chinese(group):
    said = await group.say(BOSS, "/ban 5s 广告机器人", reply_to=ANN)
    assert said.text == ("🚫 已将 Ann Lee 封禁，直到管理员解封。\n"
                         "Telegram 会把短于 30 秒或长于 366 天的时长当作永久，所以这次是永久的。\n"
                         "原因：广告机器人")


async def test_zero_or_no_length_is_permanent_without_a_notice(english, chat):
    said = await english.say(BOSS, "/ban 0 spam bot", reply_to=ANN)
    assert said.text == "🚫 Ann Lee is banned until an admin unbans them.\nReason: spam bot"
    said = await english.say(BOSS, "/mute", reply_to=BEN)
    assert said.text == "🔇 Ben Wu is muted until an admin unmutes them."
    assert chat.actions == [("ban", ANN.user_id, None), ("mute", BEN.user_id, None)]


@pytest.mark.parametrize("typed", ["99999w", "3651d", "2x", "30", "1h30", "0h-1", "-5m", "+5m",
                                   "5n"])
async def test_an_absurd_or_mistyped_length_is_refused(db, english, chat, typed):
    said = await english.say(BOSS, f"/mute {typed} reason", reply_to=ANN)
    assert said.keys == ["moderation.bad_length"]
    assert f"“{typed}” is not a length I understand" in said.text
    assert chat.actions == [] and await restricted(db, ANN) == {}


async def test_ban_unban_and_kick(db, english, chat):
    said = await english.say(BOSS, "/ban 7d", reply_to=ANN)
    assert said.text == "🚫 Ann Lee is banned for 1 week."
    said = await english.say(BOSS, "/unban", reply_to=ANN)
    assert said.text == "✅ Ann Lee is unbanned and may join again."
    said = await english.say(BOSS, "/kick being rude", reply_to=BEN)
    assert said.text == ("👢 Ben Wu was removed from the group and may join again.\n"
                         "Reason: being rude")
    assert [c[0] for c in chat.actions] == ["ban", "unban", "kick"]
    assert await restricted(db, ANN) == {} and await restricted(db, BEN) == {}
    said = await english.say(BOSS, "/kick 2h", reply_to=BEN)
    assert said.keys == ["moderation.kick_no_length"]
    assert len(chat.actions) == 3
    assert [a for _, a, _ in await audited(db) if a != "group.settings"] == [
        "group.ban", "group.unban", "group.kick"]
    assert {actor for actor, _, _ in await audited(db)} == {ADMIN}


# ------------------------------------------------------------------ whom

async def test_admins_and_the_bot_itself_are_never_targets(db, english, chat):
    for command in ("/warn", "/mute", "/ban", "/kick"):
        said = await english.say(BOSS, command, reply_to=BOSS)
        assert said.text == ("Bea Boss moderates this group, so I won't do that: admins "
                             "can't be warned, muted, banned or kicked.")
        said = await english.say(BOSS, command, reply_to=BOT)
        assert said.text == "I won't do that to myself."
    said = await english.say(BOSS, "/ban @memberbot")
    assert said.text == "I won't do that to myself."
    assert chat.actions == [] and await audited(db, "group.warn") == []


async def test_nobody_named_or_an_unknown_username(db, english, chat):
    said = await english.say(BOSS, "/mute 2h")
    assert said.text == ("Whom do you mean? Reply to their message with /mute, or write "
                         "/mute @username (or their numeric id).")
    said = await english.say(BOSS, "/ban @ghost spam")
    assert said.text == ("I don't know who @ghost is yet: I learn usernames as people write "
                         "in a group. Reply to one of their messages instead, or use their "
                         "numeric id.")
    said = await group_said_in_chinese(english, "/ban @ghost")
    assert said == ("我还不认识 @ghost：我只认得在群里发过言的人的用户名。"
                    "请改为回复对方的消息，或使用对方的数字 ID。")
    assert chat.actions == []


async def group_said_in_chinese(group: Group, text: str) -> str:
    await group_in(group, "zh")
    return (await group.say(BOSS, text)).text


async def test_a_numeric_id_names_someone_never_seen(db, english, chat):
    said = await english.say(BOSS, "/ban 987654321 spam bot")
    assert said.text == "🚫 987654321 is banned until an admin unbans them.\nReason: spam bot"
    assert chat.actions == [("ban", "987654321", None)]


async def test_a_text_mention_names_someone_without_a_username(english, chat):
    nameless = Person("4004", "Dora Chen")
    said = await english.say(BOSS, "/mute Dora Chen 1h noise", mentioned=(nameless,))
    assert said.text == "🔇 Dora Chen is muted for 1 hour.\nReason: noise"
    assert chat.actions[0][:2] == ("mute", "4004")


async def test_a_huge_reason_is_cut_and_control_characters_go(db, english):
    reason = "spam\x00\x1b[31m\u202e" + "x" * 5000
    said = await english.say(BOSS, f"/warn {reason}", reply_to=ANN)
    kept = (await warns_of(db, ANN))[0]
    assert kept is not None and len(kept) == 200 and kept.endswith("…")
    assert kept.startswith("spam [31m x")
    assert all(c.isprintable() for c in said.text.replace("\n", ""))
    assert len(said.text) < 300


async def test_an_odd_name_is_shown_on_one_line(english):
    odd = Person("5005", "Eve\n\u202eBad\x07" + "y" * 200, "eve")
    said = await english.say(BOSS, "/warn", reply_to=odd)
    first = said.text.split("\n")[0]
    assert first.startswith("⚠️ Eve Bad yyy") and "…" in first and len(first) < 120


async def test_a_platform_refusal_is_said_and_nothing_is_recorded(db, programme, clock):
    chat = FakeGroupChat(refuse={"mute": "rights", "ban": "admin"})
    group = Group(moderation_for(db, programme, clock), chat)
    said = await group.say(BOSS, "/mute 1h", reply_to=ANN)
    assert said.text == ("我在这里做不到：请把我设为管理员，并给我限制成员、封禁成员和删除消息的"
                         "权限。没有做任何改动。")
    await group_in(group, "en")
    said = await group.say(BOSS, "/ban", reply_to=ANN)
    assert said.text == ("That person is an admin of this group, and Telegram doesn't let me "
                         "do that to admins. Nothing was changed.")
    await group.say(BOSS, "/setwarnlimit 1")
    said = await group.say(BOSS, "/warn", reply_to=ANN)
    assert said.keys == ["moderation.refused.rights"]
    assert await restricted(db, ANN) == {} and await warns_of(db, ANN) == []
    assert [a for _, a, _ in await audited(db) if a != "group.settings"] == []
