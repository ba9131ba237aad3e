"""/gates for operators (every gate, who is in it, a dry run's would-remove list) and
/groups for members (the chats their tier opens, what the locked ones need), also
from a button under /tier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.community import joining
from tests.handlers.community import (
    ALICE,
    GOLD_LOUNGE,
    NEWS,
    PLATFORM,
    SAM,
    TEA,
    owner,
    someone,
    standing,
)

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
GROUPS = "groups:show"


async def seen(db, programme, clock, chat, user: str, status: str = "member") -> None:
    await joining.seen(db, programme, PLATFORM, chat.chat_id, user, status, clock.now)


# ------------------------------------------------------------------ /gates

async def test_no_gates_yet(boss):
    assert await boss.say("/gates") == \
        "No chat is gated yet. Add me to a group as an admin and type /gate TIER there."


async def test_no_gates_in_chinese(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock, locale="zh_Hans")
    assert await boss.say("/gates") == \
        "还没有设置门槛的群。请把我加为群管理员，并在群里发送 /gate 等级。"


async def test_gates_lists_each_gate_with_who_is_in_lapsed_and_due(db, programme, engine,
                                                                   boss, clock):
    await boss.say("/gate silver 1h", TEA)
    await boss.say("/gate gold 0", GOLD_LOUNGE)
    alice = await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "gold", 2000, clock.now)
    await someone(db, engine, clock, SAM)  # the lowest tier
    await seen(db, programme, clock, TEA, ALICE)  # qualifies
    await seen(db, programme, clock, TEA, SAM)  # lapses: an hour of grace
    await seen(db, programme, clock, GOLD_LOUNGE, ALICE)
    await seen(db, programme, clock, GOLD_LOUNGE, "7777")  # nobody we know: lapses
    await seen(db, programme, clock, GOLD_LOUNGE, "8888", "administrator")  # kept
    assert "Gold" in await alice.say("/tier")
    out = await boss.say("/gates")
    assert out == (
        "Gated chats:\n"
        f"• Gold Lounge ({GOLD_LOUNGE.chat_id}): Gold and above, grace none, then removed "
        "from the chat\n  in: 2 · lapsed: 1 · grace over: 1\n"
        f"• Tea Lovers ({TEA.chat_id}): Silver and above, grace 1 hour, then removed from the "
        "chat\n  in: 1 · lapsed: 1 · grace over: 0")
    clock.advance(hours=2)
    assert "in: 1 · lapsed: 1 · grace over: 1" in await boss.say("/gates")


async def test_a_dry_run_lists_whom_it_would_remove(db, programme, engine, boss, clock):
    await boss.say("/gate gold 0", GOLD_LOUNGE)
    await boss.say("/gate dryrun on", GOLD_LOUNGE)
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, GOLD_LOUNGE, SAM)  # member 2, below Gold
    await seen(db, programme, clock, GOLD_LOUNGE, "7777")  # not a member
    out = await boss.say("/gates")
    assert out.endswith("in: 0 · lapsed: 2 · grace over: 2\n"
                        "  dry run — would remove 2: 00000002, 7777")
    await boss.say("/gate dryrun off", GOLD_LOUNGE)
    assert "would remove" not in await boss.say("/gates")


async def test_a_dry_run_with_nobody_due(boss):
    await boss.say("/gate gold 3d", TEA)
    await boss.say("/gate dryrun on", TEA)
    assert (await boss.say("/gates")).endswith("dry run — would remove 0: —")


async def test_gates_in_chinese(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock, locale="zh_Hans")
    await boss.say("/gate gold 3d", TEA)
    await boss.say("/gate lapse warn", TEA)
    await boss.say("/gate dryrun on", TEA)
    assert await boss.say("/gates") == (
        "设了门槛的群：\n"
        f"• Tea Lovers（{TEA.chat_id}）：黄金会员及以上，宽限期 3 天，之后只提醒\n"
        "  群内：0 · 已降级：0 · 宽限期已过：0\n"
        "  演练模式 — 将移出 0 人：—")


@pytest.mark.parametrize("role", [None, "moderator", "staff"])
async def test_gates_is_for_operators(db, engine, boss, clock, role):
    await boss.say("/gate gold", TEA)
    sam = await someone(db, engine, clock, SAM, role)
    assert await sam.say("/gates") == "Sorry, /gates is for the owner, admins and operators."


# ------------------------------------------------------------------ /groups

async def test_no_groups_yet(db, engine, clock):
    alice = await someone(db, engine, clock, ALICE)
    assert await alice.say("/groups") == "There are no member groups here yet."
    zh = await someone(db, engine, clock, "2001", locale="zh_Hans")
    assert await zh.say("/groups") == "这里还没有会员群。"


async def test_groups_show_links_to_open_chats_and_what_locked_ones_need(db, engine, boss,
                                                                        clock):
    await boss.say("/gate silver", TEA)
    await boss.say("/gate gold", GOLD_LOUNGE)
    alice = await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "silver", 1680, clock.now)
    assert await alice.say("/groups") == (
        "Member groups:\n"
        "🔒 Gold Lounge — Gold: 320 more qualifying points\n"
        "✅ Tea Lovers — join: https://t.me/+tea1")


async def test_groups_in_chinese(db, engine, boss, clock):
    await boss.say("/gate silver", TEA)
    await boss.say("/gate gold", GOLD_LOUNGE)
    wang = await someone(db, engine, clock, ALICE, locale="zh_Hans")
    await standing(db, ALICE, "member", 100, clock.now)
    assert await wang.say("/groups") == (
        "会员群：\n"
        "🔒 Gold Lounge — 黄金会员：还差 1,900 积分\n"
        "🔒 Tea Lovers — 白银会员：还差 400 积分")


async def test_a_top_member_sees_every_link(db, engine, boss, clock):
    await boss.say("/gate silver", TEA)
    await boss.say(f"/gate {NEWS.chat_id} gold")
    alice = await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "gold", 2500, clock.now)
    out = await alice.say("/groups")
    assert "✅ Tea House News — join: https://t.me/+tea2" in out
    assert "✅ Tea Lovers — join: https://t.me/+tea1" in out and "🔒" not in out


async def test_staff_below_the_tier_see_the_links_they_would_be_let_in_by(db, engine, boss,
                                                                        clock):
    await boss.say("/gate gold", GOLD_LOUNGE)
    sam = await someone(db, engine, clock, SAM, "staff")
    assert await sam.say("/groups") == "Member groups:\n✅ Gold Lounge — join: https://t.me/+gold1"


async def test_tier_offers_the_groups_button_only_when_there_are_gates(db, engine, boss,
                                                                      clock):
    alice = await someone(db, engine, clock, ALICE)
    before = (await alice.answer("/tier"))[-1].buttons
    assert all(action != GROUPS for row in before for _, action in row)
    await boss.say("/gate silver", TEA)
    after = (await alice.answer("/tier"))[-1].buttons
    assert ("👥 Member groups", GROUPS) in [b for row in after for b in row]
    assert await alice.press(GROUPS) == (
        "Member groups:\n🔒 Tea Lovers — Silver: 500 more qualifying points")


async def test_the_groups_button_in_chinese(db, engine, boss, clock):
    await boss.say("/gate silver", TEA)
    wang = await someone(db, engine, clock, ALICE, locale="zh_Hans")
    buttons = [b for row in (await wang.answer("/tier"))[-1].buttons for b in row]
    assert ("👥 会员群", GROUPS) in buttons
    assert await wang.press(GROUPS) == "会员群：\n🔒 Tea Lovers — 白银会员：还差 500 积分"


async def test_the_groups_button_after_the_gates_are_gone(db, engine, boss, clock):
    await boss.say("/gate silver", TEA)
    alice = await someone(db, engine, clock, ALICE)
    await alice.say("/tier")
    await boss.say("/gate off", TEA)
    assert await alice.press(GROUPS) == "There are no member groups here yet."
