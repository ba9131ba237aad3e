"""A group's settings from the group: /setwarnlimit, /setwarnmode, /setlog and what the
log chat then hears, /admincache, /grouplang, /cleancommands, /setrules and /rules."""

from __future__ import annotations

import pytest

from domain.community import group_settings
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    LOG_ID,
    TEA_ID,
    FakeGroupChat,
    Group,
    audited,
    group_in,
    moderation_for,
)


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


@pytest.fixture
def log_chat() -> FakeGroupChat:
    return FakeGroupChat(chat_id=LOG_ID, admin_ids={BOSS.user_id})


@pytest.fixture
async def group(db, programme, clock, chat, log_chat) -> Group:
    return Group(moderation_for(db, programme, clock, {TEA_ID: chat, LOG_ID: log_chat}),
                 chat)


async def rules_of(db):
    async with db.uow() as uow:
        return await group_settings.read(uow, "telegram", TEA_ID)


# ------------------------------------------------------------------ language

async def test_grouplang_switches_the_groups_replies(db, group):
    said = await group.say(BOSS, "/grouplang")
    assert said.text == ("请选择本群语言：/grouplang en（英文）或 /grouplang zh（中文）。"
                         "当前：中文。")
    said = await group.say(BOSS, "/grouplang en")
    assert said.text == "✅ I'll speak English in this group from now on."
    assert said.outcome.locale == "en"
    said = await group.say(ANN, "/rules")
    assert said.text == "This group has no rules yet."
    said = await group.say(BOSS, "/grouplang 中文")
    assert said.text == "✅ 之后我在本群会使用中文。"
    said = await group.say(ANN, "/rules")
    assert said.text == "本群还没有设置群规。"
    assert (await rules_of(db)).language == "zh_Hans"
    said = await group.say(BOSS, "/grouplang klingon")
    assert said.keys == ["moderation.grouplang_usage"]
    assert [a for _, a, _ in await audited(db)] == ["group.settings"] * 2


# ------------------------------------------------------------------ warn settings

@pytest.mark.parametrize("typed", ["0", "101", "abc", "５", "-3", "3.5", "", "9" * 30])
async def test_a_warn_limit_out_of_range_is_refused(db, group, typed):
    said = await group.say(BOSS, f"/setwarnlimit {typed}")
    assert said.text == "请写 1 到 100 之间的数字作为警告上限，例如 /setwarnlimit 5。当前：3。"
    assert (await rules_of(db)).warn_limit == 3 and await audited(db) == []


async def test_warn_limit_and_mode(db, group):
    await group_in(group, "en")
    said = await group.say(BOSS, "/setwarnlimit 100")
    assert said.text == "✅ Warn limit set to 100."
    said = await group.say(BOSS, "/setwarnmode Kick")
    assert said.text == ("✅ At the warn limit (100): kick. Their warns then start again "
                         "from zero.")
    said = await group.say(BOSS, "/setwarnmode delete")
    assert said.text == "What happens at the warn limit: /setwarnmode mute, kick or ban. Now: kick."
    rules = await rules_of(db)
    assert (rules.warn_limit, rules.warn_mode) == (100, "kick")


# ------------------------------------------------------------------ log chat

async def test_the_log_chat_hears_every_moderation_action(db, group, chat, log_chat):
    said = await group.say(BOSS, "/setlog -1001000000999")
    assert said.text == "✅ 管理操作也会记录到日志群 -1001000000999。"
    assert [text.text for _, text in log_chat.posted] == ["📋 本群开始接收“Tea Lovers”的管理日志。"]
    assert (await rules_of(db)).log_chat == LOG_ID
    said = await group.say(BOSS, "/mute 2h 刷屏", reply_to=ANN)
    assert said.logged() == ["🔇 禁言 · Tea Lovers\n操作人：Bea Boss（1001）\n"
                             "对象：Ann Lee（2001）\n时长：2 小时\n原因：刷屏"]
    await group.say(BOSS, "/grouplang en")
    for command, entry in [
        ("/warn spam", "⚠️ Warn · Tea Lovers\nBy: Bea Boss (1001)\nUser: Ben Wu (2002)\n"
                       "Warns: 1/3\nReason: spam"),
        ("/ban", "🚫 Ban · Tea Lovers\nBy: Bea Boss (1001)\nUser: Ben Wu (2002)\n"
                 "Length: permanent"),
        ("/unban", "✅ Unban · Tea Lovers\nBy: Bea Boss (1001)\nUser: Ben Wu (2002)"),
        ("/kick", "👢 Kick · Tea Lovers\nBy: Bea Boss (1001)\nUser: Ben Wu (2002)"),
        ("/unwarn", "↩️ Warn removed · Tea Lovers\nBy: Bea Boss (1001)\nUser: Ben Wu (2002)"),
    ]:
        said = await group.say(BOSS, command, reply_to=BEN)
        assert said.logged() == [entry], command
    said = await group.say(BOSS, "/setwarnlimit 5")
    assert said.logged() == ["⚙️ Settings changed · Tea Lovers\nBy: Bea Boss (1001)\n"
                             "Warn limit: 5"]
    # Refused or mistaken commands log nothing.
    for command in ("/ban 9999w", "/warn @ghost"):
        assert (await group.say(BOSS, command, reply_to=BEN)).elsewhere == []
    assert (await group.say(ANN, "/ban", reply_to=BEN)).elsewhere == []


async def test_setlog_off_and_mistakes(db, group, chat, log_chat):
    await group_in(group, "en")
    said = await group.say(BOSS, "/setlog")
    assert said.keys == ["moderation.log_usage"]
    said = await group.say(BOSS, f"/setlog {TEA_ID}")
    assert said.text.startswith("That is this group.")
    said = await group.say(BOSS, "/setlog @mylog")
    assert said.keys == ["moderation.log_usage"]
    await group.say(BOSS, f"/setlog {LOG_ID}")
    said = await group.say(BOSS, "/setlog off")
    assert said.text == ("✅ The log chat is off. Moderation actions are still kept in the "
                         "audit log.")
    assert said.logged() == ["This chat no longer receives the moderation log of Tea Lovers."]
    assert (await rules_of(db)).log_chat is None
    said = await group.say(BOSS, "/mute", reply_to=ANN)
    assert said.elsewhere == []


async def test_a_log_chat_the_bot_cannot_write_in_is_not_kept(db, group, log_chat):
    log_chat.refuse["post"] = "gone"
    said = await group.say(BOSS, f"/setlog {LOG_ID}")
    assert said.text == ("我无法在 -1001000000999 中发消息。请先把我加进去（频道需设为管理员），"
                         "再试一次。没有做任何改动。")
    assert (await rules_of(db)).log_chat is None and await audited(db) == []


async def test_without_a_way_to_other_chats_no_log_chat_is_set(db, programme, clock, chat):
    """Where no other chat can be reached, it cannot be checked that the one who sets
    it administers it: nothing is set, nothing is sent there."""
    group = Group(moderation_for(db, programme, clock), chat)
    said = await group.say(BOSS, f"/setlog {LOG_ID}")
    assert said.keys == ["moderation.log_unchecked"] and said.logged() == []
    assert (await rules_of(db)).log_chat is None


# ------------------------------------------------------------------ admins

async def test_admincache_asks_the_platform_again(db, group, chat):
    await group_in(group, "en")
    chat.fresh_admins = {BOSS.user_id, ANN.user_id, "7000"}
    said = await group.say(BOSS, "/admincache")
    assert said.text == "✅ Admin list refreshed: 3 admins."
    assert chat.calls == [("refresh_admins",)]
    said = await group.say(ANN, "/warn", reply_to=BEN)  # promoted: may moderate now
    assert said.keys == ["moderation.warned"]
    chat.fresh_admins = {ANN.user_id}
    await group.say(ANN, "/admincache")
    said = await group.say(BOSS, "/warn", reply_to=BEN)  # demoted
    assert said.keys == ["moderation.not_admin"]


# ------------------------------------------------------------------ cleanup

async def test_cleancommands_deletes_the_commands_it_answered(db, group):
    said = await group.say(BOSS, "/warn", reply_to=ANN)
    assert said.outcome.delete_command is False
    said = await group.say(BOSS, "/cleancommands on")
    assert said.text == "✅ 之后我处理完命令会自动删除。"
    assert said.outcome.delete_command is True
    assert (await rules_of(db)).clean_commands is True
    for person, command in ((BOSS, "/warns"), (ANN, "/rules"), (ANN, "/ban")):
        said = await group.say(person, command, reply_to=BEN)
        assert said.outcome.delete_command is True, command
    said = await group.say(ANN, "just chatting")
    assert said.outcome.delete_command is False
    said = await group.say(BOSS, "/cleancommands off")
    assert said.text == "✅ 之后命令会保留在群里。"
    said = await group.say(BOSS, "/warns")
    assert said.outcome.delete_command is False
    said = await group.say(BOSS, "/cleancommands maybe")
    assert said.text == ("/cleancommands on：处理完命令后自动删除；/cleancommands off：保留命令。"
                         "当前：关闭。")


# ------------------------------------------------------------------ rules

async def test_setrules_and_rules_for_everyone(db, group):
    said = await group.say(BOSS, "/setrules\n1. 友善交流\x07\n2. 禁止广告   ")
    assert said.text == "✅ 群规已保存，大家可以用 /rules 查看。"
    said = await group.say(ANN, "/rules")
    assert said.text == "📜 “Tea Lovers”群规：\n1. 友善交流\n2. 禁止广告"
    await group_in(group, "en")
    said = await group.say(BEN, "/rules")
    assert said.text == "📜 Rules of Tea Lovers:\n1. 友善交流\n2. 禁止广告"
    said = await group.say(BOSS, "/setrules")
    assert said.keys == ["moderation.setrules_usage"]
    said = await group.say(ANN, "/resetrules")
    assert said.keys == ["moderation.not_admin"]
    said = await group.say(BOSS, "/resetrules")
    assert said.text == "✅ Rules removed."
    assert (await rules_of(db)).rules_text is None
    # Rules that cannot show in one message are refused, not cut without a word.
    said = await group.say(BOSS, f"/setrules {'r' * 5000}")
    assert said.text == ("Those rules are too long to show in one message: at most 3,900 "
                         "characters, and these have 5,000. Nothing was changed.")
    assert (await rules_of(db)).rules_text is None
    await group.say(BOSS, f"/setrules {'r' * 3900}")
    assert len((await rules_of(db)).rules_text or "") == 3900
    said = await group.say(BEN, "/rules")
    assert len(said.text.encode("utf-16-le")) // 2 <= 4096
