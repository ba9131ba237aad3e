"""`/start groups`: the link a declined stranger is sent (handlers.community.joining)
opens the bot on the home card and then the member groups, so whoever asked to join a
gated chat sees at once what it takes; a plain /start shows the card alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.community import joining
from tests.handlers.community import (
    ALICE,
    GOLD_LOUNGE,
    PLATFORM,
    SAM,
    TEA,
    Person,
    owner,
    someone,
    standing,
)

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
START = "https://t.me/memberbot?start={payload}"


@pytest.fixture
async def gated(db, programme, engine, clock) -> Person:
    """The owner has gated Tea Lovers at Silver and the Gold Lounge at Gold."""
    boss = await owner(db, programme, engine, clock)
    await boss.say("/gate silver", TEA)
    await boss.say("/gate gold", GOLD_LOUNGE)
    return boss


async def test_a_declined_stranger_follows_the_link_to_the_card_then_the_groups(
        db, programme, engine, clock, gated):
    asked = await joining.join_request(db, programme, PLATFORM, GOLD_LOUNGE.chat_id, ALICE,
                                       "en", START, clock.now)
    assert asked.approve is False and asked.message is not None
    link = START.format(payload=joining.JOIN_PAYLOAD)
    assert link in asked.message.text
    payload = link.rpartition("=")[2]

    card, listed = await Person(engine, ALICE).answer(f"/start {payload}")
    assert card.text.startswith("Welcome to Tea House Club! You are a member now.")
    assert "Member number: 00000002\nTier: Member\nPoints: 0" in card.text
    assert ("Check in", "home:checkin") in card.buttons[0]  # the card, buttons and all
    assert listed.text == (
        "Member groups:\n"
        "🔒 Gold Lounge — Gold: 2,000 more qualifying points\n"
        "🔒 Tea Lovers — Silver: 500 more qualifying points")


async def test_the_same_in_chinese(engine, gated):
    card, listed = await Person(engine, "2001", "zh_Hans").answer("/start groups")
    assert card.text.startswith("欢迎加入茶馆会员俱乐部！您已成为会员。")
    assert "会员号：00000002\n等级：普通会员\n积分：0" in card.text
    assert listed.text == (
        "会员群：\n"
        "🔒 Gold Lounge — 黄金会员：还差 2,000 积分\n"
        "🔒 Tea Lovers — 白银会员：还差 500 积分")


async def test_plain_start_shows_the_card_alone(engine, gated):
    (card,) = await Person(engine, ALICE).answer("/start")
    assert card.text.startswith("Welcome to Tea House Club!")
    assert "Member groups" not in card.text
    (again,) = await Person(engine, ALICE).answer("/start")
    assert again.text.startswith("Welcome back to Tea House Club!")
    (zh,) = await Person(engine, "2001", "zh_Hans").answer("/start")
    assert "会员群" not in zh.text


async def test_a_member_who_qualified_since_gets_the_links(db, engine, clock, gated):
    await someone(db, engine, clock, SAM)
    await standing(db, SAM, "silver", 1600, clock.now)
    card, listed = await Person(engine, SAM).answer("/start groups")
    assert card.text.startswith("Welcome back to Tea House Club!")
    assert "Tier: Silver" in card.text
    assert listed.text == (
        "Member groups:\n"
        "🔒 Gold Lounge — Gold: 400 more qualifying points\n"
        "✅ Tea Lovers — join: https://t.me/+tea1")


async def test_with_no_gated_chats_the_list_says_so(engine):
    card, listed = await Person(engine, ALICE).answer("/start groups")
    assert card.text.startswith("Welcome to Tea House Club!")
    assert listed.text == "There are no member groups here yet."
