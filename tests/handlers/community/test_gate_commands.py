"""/gate: an operator gates a group where it is typed, or a channel from the private
chat; the bot's rights, the tier, the grace and the chat are checked first, in our
words, and whoever may not gate changes nothing. In a group, what /gate says is said
to the group, in the group's language (/grouplang, else the programme's): the test
groups speak English here (the `english_groups` fixture) unless a test says otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.console import ConsoleChat
from domain.community.tables import Gate
from domain.conversations.tables import Conversation
from domain.members.tables import Identity, Member
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.routers import build_engine
from tests.handlers.community import (
    ALICE,
    GOLD_LOUNGE,
    NEWS,
    OWNER,
    SAM,
    SOMEONE,
    TEA,
    Person,
    all_gates,
    count,
    owner,
    someone,
    waiting,
)

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("english_groups")


async def gate_audits(db) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("gate.%")).order_by(AuditEntry.id)))


# ------------------------------------------------------------------ gating a group

async def test_the_owner_gates_a_group_and_is_told_chat_tier_grace_and_link(db, boss, rooms):
    out = await boss.say("/gate gold 3d", TEA)
    assert out == ("🔒 “Tea Lovers” is now for Gold members and above.\n"
                   "Grace after losing the tier: 3 days. Then: removed from the chat.\n"
                   "Join link (asks for approval): https://t.me/+tea1\n"
                   "Members find it in /groups. People already here are checked the "
                   "next time they write.")
    assert rooms.links == [("join_link", TEA.chat_id, "gold · memberbot")]
    assert ("missing_rights", TEA.chat_id) in rooms.calls
    assert ("look_up", TEA.chat_id) not in rooms.calls  # the group said who it is
    assert await all_gates(db) == [{
        "chat": TEA.chat_id, "kind": "supergroup", "title": "Tea Lovers", "tier": "gold",
        "grace_s": 3 * 86400, "on_lapse": "remove", "dry_run": False,
        "link": "https://t.me/+tea1"}]
    assert await gate_audits(db) == ["gate.open"]


async def test_a_gate_in_chinese(db, boss, group_language):
    await group_language(TEA, "zh_Hans")  # the group's language, not the sender's (en)
    out = await boss.say("/gate 黄金会员 0", TEA)  # a tier by its Chinese name
    assert out.startswith("🔒 “Tea Lovers”现在只对黄金会员及以上会员开放。\n"
                          "降级后的宽限期：无。之后：移出群。")
    assert "入群链接（需审核）：https://t.me/+tea1" in out
    assert (await all_gates(db))[0]["grace_s"] == 0


async def test_without_a_grace_the_programme_default_applies(db, boss):
    assert "Grace after losing the tier: 3 days." in await boss.say("/gate Silver", TEA)
    assert (await all_gates(db))[0]["tier"] == "silver"


async def test_the_missing_right_is_named_exactly(db, boss, rooms):
    rooms.missing = ["can_restrict_members"]
    out = await boss.say("/gate gold", TEA)
    assert out == ("I need more rights in this chat before I can gate it. "
                   "Make me an admin with these turned on:\n• Ban Users")
    rooms.missing = ["can_invite_users", "can_restrict_members"]  # not an admin at all
    assert out.replace("• Ban Users", "• Invite Users via Link\n• Ban Users") \
        == await boss.say("/gate gold", TEA)
    assert await all_gates(db) == [] and rooms.links == [] and await gate_audits(db) == []


async def test_missing_rights_in_chinese(db, boss, rooms, group_language):
    await group_language(TEA, "zh_Hans")
    rooms.missing = ["can_invite_users"]
    assert await boss.say("/gate gold", TEA) == (
        "我在这个群里的权限不够，无法设置门槛。请把我设为管理员，并打开以下权限：\n"
        "• 通过链接邀请用户")


async def test_when_telegram_does_not_answer_nothing_changes(db, boss, rooms):
    rooms.silent = True
    assert await boss.say("/gate gold", TEA) == \
        "Telegram did not answer about this chat just now. Nothing was changed; please try again."
    assert await all_gates(db) == []


@pytest.mark.parametrize("typed", ["platinum", "🥇", "gold🥇", "ゴールド"])
async def test_an_unknown_tier_lists_the_codes(db, boss, rooms, typed):
    assert await boss.say(f"/gate {typed}", TEA) == \
        f"“{typed}” is not one of our tiers. Use one of: member, silver, gold."
    assert await all_gates(db) == [] and rooms.calls == []


async def test_an_unknown_tier_in_chinese(db, boss, group_language):
    await group_language(TEA, "zh_Hans")
    assert await boss.say("/gate 钻石", TEA) == \
        "“钻石”不是会员等级。可用的等级：member, silver, gold。"


@pytest.mark.parametrize("grace", ["5", "3 days", "3days", "-1d", "1.5d", "99999w", "3d-",
                                   "⏰", "0d0"])
async def test_a_bad_grace_is_refused_in_our_words(db, boss, rooms, grace):
    out = await boss.say(f"/gate gold {grace}", TEA)
    if " " in grace:  # more words than a grace: how to write the command
        assert out.startswith("To gate a group, add me to it as an admin")
    else:
        assert out == (f"“{grace}” is not a grace period. Write 0 for none, or a length "
                       "such as 12h, 3d or 1w.")
    assert await all_gates(db) == [] and rooms.calls == []


async def test_a_bad_grace_in_chinese(db, boss, group_language):
    await group_language(TEA, "zh_Hans")
    assert await boss.say("/gate gold 三天", TEA) == \
        "“三天”不是有效的宽限期。不设宽限期请写 0，或写 12h、3d、1w 这样的时长。"


async def test_gating_again_changes_the_tier_and_keeps_the_link(db, boss, rooms):
    first = await boss.say("/gate gold 3d", TEA)
    again = await boss.say("/gate silver 12h", TEA)
    assert again == ("🔒 “Tea Lovers” is now for Silver members and above.\n"
                     "Grace after losing the tier: 12 hours. Then: removed from the chat.\n"
                     "The join link stays the same; members find it in /groups.")
    link = "https://t.me/+tea1"
    assert link in first and link not in again  # a change does not post the link again
    assert len(rooms.links) == 1
    (gate,) = await all_gates(db)
    assert (gate["tier"], gate["grace_s"], gate["link"]) == ("silver", 12 * 3600, link)
    assert await gate_audits(db) == ["gate.open", "gate.open"]


async def test_two_groups_each_get_their_own_gate_and_link(db, boss, rooms):
    await boss.say("/gate silver", TEA)
    await boss.say("/gate gold", GOLD_LOUNGE)
    assert [(g["title"], g["tier"]) for g in await all_gates(db)] == [
        ("Tea Lovers", "silver"), ("Gold Lounge", "gold")]
    assert len({g["link"] for g in await all_gates(db)}) == 2


async def test_gate_off_opens_the_group_again(db, boss):
    await boss.say("/gate gold", TEA)
    assert await boss.say("/gate OFF", TEA) == \
        "🔓 “Tea Lovers” is open again: nobody will be removed from it."
    assert await all_gates(db) == []
    assert await boss.say("/gate off", TEA) == f"Chat {TEA.chat_id} has no gate."
    assert await gate_audits(db) == ["gate.open", "gate.close"]


async def test_dry_run_and_lapse_mode_switch(db, boss):
    await boss.say("/gate gold", TEA)
    assert await boss.say("/gate dryrun on", TEA) == (
        "“Tea Lovers”: dry run on. Nobody is warned or removed; /gates lists who would be. "
        "Once the dry run ends, who no longer qualifies is removed from the chat.")
    assert (await all_gates(db))[0]["dry_run"] is True
    assert await boss.say("/gate lapse warn", TEA) == (
        "“Tea Lovers”: dry run on. Nobody is warned or removed; /gates lists who would be. "
        "Once the dry run ends, who no longer qualifies is warned only.")
    assert await boss.say("/gate dryrun off", TEA) == \
        "“Tea Lovers”: dry run off; who no longer qualifies is warned only."
    assert "removed from the chat" in await boss.say("/gate lapse remove", TEA)
    gate = (await all_gates(db))[0]
    assert (gate["dry_run"], gate["on_lapse"]) == (False, "remove")


async def test_configuring_in_chinese(db, boss, group_language):
    await group_language(TEA, "zh_Hans")
    await boss.say("/gate gold", TEA)
    assert await boss.say("/gate lapse warn", TEA) == \
        "“Tea Lovers”：演练模式已关闭；不再符合条件的人：只提醒。"


@pytest.mark.parametrize("typed", ["/gate dryrun", "/gate dryrun maybe", "/gate lapse ban",
                                   "/gate lapse", "/gate off now", "/gate dryrun on off"])
async def test_a_bad_setting_shows_how_to_write_it(db, boss, typed):
    await boss.say("/gate gold", TEA)
    before = await all_gates(db)
    assert (await boss.say(typed, TEA)).startswith("To gate a group, add me to it as an admin")
    assert await all_gates(db) == before


async def test_settings_of_an_ungated_chat_say_so(db, boss):
    assert await boss.say("/gate dryrun on", TEA) == f"Chat {TEA.chat_id} has no gate."
    assert await all_gates(db) == []


# ------------------------------------------------------------ a channel, from the private chat

async def test_a_channel_is_gated_from_the_private_chat_by_its_id(db, boss, rooms):
    out = await boss.say(f"/gate {NEWS.chat_id} gold 1w")
    assert "🔒 “Tea House News” is now for Gold members" in out and "1 week" in out
    assert ("look_up", NEWS.chat_id) in rooms.calls
    (gate,) = await all_gates(db)
    assert (gate["chat"], gate["kind"]) == (NEWS.chat_id, "channel")
    assert "warned only" in await boss.say(f"/gate {NEWS.chat_id} lapse warn")
    assert "open again" in await boss.say(f"/gate {NEWS.chat_id} off")
    assert await all_gates(db) == []


async def test_a_public_channel_by_its_name_is_kept_under_its_id(db, boss, rooms):
    """Join requests name the chat by its id: a gate kept under @name would never
    be found."""
    assert "Tea House News" in await boss.say("/gate @TeaHouseNews gold")
    assert [g["chat"] for g in await all_gates(db)] == [NEWS.chat_id]
    assert "dry run on" in await boss.say("/gate @teahousenews dryrun on")
    await boss.say(f"/gate {NEWS.chat_id} silver")
    assert len(rooms.links) == 1  # the same gate, its link kept
    assert "open again" in await boss.say("/gate @teahousenews off")
    assert await all_gates(db) == []


async def test_an_unknown_chat_is_named(db, boss, rooms):
    assert await boss.say("/gate -1009999999999 gold") == (
        "I can't find chat -1009999999999. Add me to it as an admin first, then try again.")
    assert await boss.say("/gate @nosuchchannel gold") == (
        "I can't find chat @nosuchchannel. Add me to it as an admin first, then try again.")
    assert await all_gates(db) == [] and rooms.links == []


async def test_an_unknown_chat_in_chinese(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock, locale="zh_Hans")
    assert await boss.say("/gate -1009999999999 gold") == \
        "找不到群 -1009999999999。请先把我加为该群的管理员，再试一次。"


async def test_a_persons_chat_is_not_gated(db, boss, rooms):
    assert await boss.say(f"/gate {SOMEONE.chat_id} gold") == \
        "Chat 4242 is not a group or a channel, so there is nothing to gate."
    assert await all_gates(db) == [] and rooms.links == []


async def test_a_private_gate_without_a_chat_shows_how(db, boss, rooms):
    for typed in ("/gate", "/gate gold", "/gate off"):
        assert (await boss.say(typed)).startswith("To gate a group, add me to it as an admin")
    assert rooms.calls == []


async def test_gates_need_a_platform_with_groups(db, programme, clock):
    """The console (and WeChat) give the engine no rooms: /gate says where gates live."""
    chat = ConsoleChat(build_engine(db, programme, clock=clock), user="olga", locale="en")
    await chat.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:olga", clock.now)
        await uow.commit()
    for typed in ("/gate", "/gate gold", "/gate -1001000000001 gold", "/gate off"):
        assert await chat.say(typed) == [
            "Gated groups live on Telegram: type /gate there, in the group. Groups that "
            "staff keep by hand (joined by a QR code) are set in the programme file; "
            "/gates lists both."]
    zh = ConsoleChat(build_engine(db, programme, clock=clock), user="olga", locale="zh_Hans")
    await zh.say("/language zh_Hans")
    assert "会员群门槛只适用于 Telegram" in (await zh.say("/gate gold"))[-1]
    assert await all_gates(db) == []


# ------------------------------------------------------------------ who may gate

@pytest.mark.parametrize("role", [None, "moderator", "staff"])
async def test_a_member_without_the_role_is_refused_politely(db, engine, boss, clock, rooms,
                                                            role):
    sam = await someone(db, engine, clock, SAM, role)
    for typed in ("/gate gold", "/gate off", "/gate dryrun on"):
        assert await sam.say(typed, TEA) == \
            "Sorry, /gate is for the owner, admins and operators."
    assert await sam.say(f"/gate {NEWS.chat_id} gold") == \
        "Sorry, /gate is for the owner, admins and operators."
    assert await all_gates(db) == [] and rooms.calls == []


async def test_a_refusal_after_the_gate_changes_nothing(db, engine, boss, clock,
                                                      group_language):
    await boss.say("/gate gold", TEA)
    before = await all_gates(db)
    await group_language(TEA, "zh_Hans")  # the refusal is said to the group
    sam = await someone(db, engine, clock, SAM, "moderator")  # who speaks English
    assert await sam.say("/gate off", TEA) == "抱歉，/gate 仅限店主、管理员和运营人员使用。"
    assert await all_gates(db) == before


async def test_an_operator_may_gate(db, engine, boss, clock):
    sam = await someone(db, engine, clock, SAM, "operator")
    assert "now for Gold members" in await sam.say("/gate gold", TEA)


async def test_a_stranger_in_the_group_is_refused_and_not_made_a_member(db, engine, boss,
                                                                       rooms, group_language):
    members_before = await count(db, Member)
    await group_language(TEA, "zh_Hans")  # refused in the group's language, whoever asks
    stranger = Person(engine, "5555", "zh_Hans")
    out = await stranger.say("/gate gold", TEA)
    assert out == "抱歉，/gate 仅限店主、管理员和运营人员使用。"
    assert "会员号" not in out  # no welcome card posted in the group
    english = Person(engine, "5556", "en")
    assert await english.say("/gate@memberbot off", TEA) == \
        "抱歉，/gate 仅限店主、管理员和运营人员使用。"
    out = await stranger.say("/gate gold", GOLD_LOUNGE)  # an English group
    assert out == "Sorry, /gate is for the owner, admins and operators."
    assert await count(db, Member) == members_before
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Identity).where(
            Identity.external_id.in_(["5555", "5556"]))) is None
        assert await uow.session.get(Conversation, ("telegram", "5555")) is None
    assert await all_gates(db) == [] and rooms.calls == []


async def test_a_stranger_in_private_becomes_a_member_then_is_refused(db, engine, boss):
    """Any first message in private makes a member; only the group is passed through."""
    out = await Person(engine, "5557").say("/gate gold")
    assert "Sorry, /gate is for the owner, admins and operators." in out
    assert await count(db, Member) == 2


# ------------------------------------------------------------------ the private chat is left alone

async def test_a_group_gate_leaves_a_private_purchase_waiting(db, engine, boss, clock):
    await someone(db, engine, clock, ALICE)
    assert "How much was spent?" in await boss.say("/purchase 2")
    assert await waiting(db, OWNER) == "purchase.amount"
    assert "now for Gold members" in await boss.say("/gate gold", TEA)
    assert await waiting(db, OWNER) == "purchase.amount"
    out = await boss.say("128.50")
    assert "¥128.50" in out


async def test_a_group_gate_leaves_a_private_confirmation_answerable(db, engine, boss, clock):
    await someone(db, engine, clock, ALICE)
    assert "Record a purchase of ¥88.00" in await boss.say("/purchase 2 88")
    await boss.say("/gate gold", TEA)
    out = await boss.say("yes")
    assert out.startswith("Recorded order") and "Purchase: +88" in out


async def test_a_group_refusal_leaves_a_private_flow_too(db, engine, boss, clock):
    sam = await someone(db, engine, clock, SAM, "staff")
    await sam.press("profile:walk")
    assert await waiting(db, SAM) == "profile.name"
    assert "Sorry, /gate" in await sam.say("/gate gold", TEA)
    assert await waiting(db, SAM) == "profile.name"
    await sam.say("Sam Lee")  # the name the flow waited for
    assert await waiting(db, SAM) == "profile.phone"


# ------------------------------------------------------------------ bad input

GROUP_TYPOS = {
    "/gate -0": "“-0” is not one of our tiers.",
    "/gate @x": "“@x” is not one of our tiers.",
    "/gate \x07gold\x1b": "“\ufffdgold\ufffd” is not one of our tiers.",
    "/gate \u202egold": "“\ufffdgold” is not one of our tiers.",
    "/gate gold\u200b": "“gold\ufffd” is not one of our tiers.",
    "/gate " + "g" * 3000: "“" + "g" * 32 + "” is not one of our tiers.",
    "/gate 🥇🥇🥇": "“🥇🥇🥇” is not one of our tiers.",
    "/gate gold 3d\x00": "Grace after losing the tier: 3 days.",  # NUL is dropped on the way in
    "/gate gold \x07": "“\ufffd” is not a grace period.",
    "/gate gold 3d extra words": "To gate a group, add me to it as an admin",
    "/gate " + "x " * 2000: "To gate a group, add me to it as an admin",
    "/gate " + "x" * 5000: "That message is too long (over 4,096 characters).",
}


@pytest.mark.parametrize("typed", sorted(GROUP_TYPOS), ids=range(len(GROUP_TYPOS)))
async def test_bad_input_in_a_group_is_answered_in_our_words(db, boss, rooms, typed):
    out = await boss.say(typed, TEA)
    assert GROUP_TYPOS[typed] in out
    assert all(c.isprintable() or c == "\n" for c in out)
    if "Grace after" not in out:
        assert await all_gates(db) == [] and rooms.calls == []


PRIVATE_TYPOS = ["/gate -0", "/gate -0 gold", "/gate 0 gold", "/gate @x gold",
                 "/gate 12345678901234567 gold", "/gate -01001000000003 gold",
                 "/gate 1e5 gold", "/gate ١٢٣ gold", "/gate @" + "a" * 40 + " gold",
                 "/gate -100 ", "/gate 🥇 gold"]


@pytest.mark.parametrize("typed", PRIVATE_TYPOS)
async def test_bad_chat_ids_from_the_private_chat_show_how(db, boss, rooms, typed):
    out = await boss.say(typed)
    assert out.startswith("To gate a group, add me to it as an admin") or \
        out.startswith("I can't find chat")
    assert await all_gates(db) == [] and rooms.links == []


async def test_bad_input_never_makes_a_gate(db, boss, rooms):
    for typed in [*GROUP_TYPOS, *PRIVATE_TYPOS]:
        if "3d\x00" not in typed:
            await boss.say(typed, TEA)
            await boss.say(typed)
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Gate)) is None
    assert rooms.links == []
