"""Join requests and what a gated chat sees (handlers.community.joining), as the
platform's side calls them: approve whoever qualifies, decline the others with what
they need in their own language, send strangers to /start; seats follow the chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from domain.community import gates, seats
from domain.community.tables import Seat
from domain.members.tables import Member
from domain.staff import roles
from handlers.community import joining
from handlers.community.joining import JoinAnswer
from tests.handlers.community import (
    ALICE,
    GOLD_LOUNGE,
    PLATFORM,
    SAM,
    TEA,
    Person,
    count,
    member_id,
    owner,
    seat_status,
    someone,
    standing,
)

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
START = "https://t.me/memberbot?start={payload}"


@pytest.fixture
async def boss(db, programme, engine, clock) -> Person:
    boss = await owner(db, programme, engine, clock)
    await boss.say("/gate gold 1d", GOLD_LOUNGE)
    return boss


async def ask(db, programme, clock, user: str, chat=GOLD_LOUNGE, hint: str | None = "en",
              start_link: str | None = START) -> JoinAnswer:
    return await joining.join_request(db, programme, PLATFORM, chat.chat_id, user, hint,
                                      start_link, clock.now)


async def seen(db, programme, clock, user: str, status: str, chat=GOLD_LOUNGE) -> None:
    await joining.seen(db, programme, PLATFORM, chat.chat_id, user, status, clock.now)


# ------------------------------------------------------------------ join requests

async def test_a_member_who_qualifies_is_approved_and_seated(db, programme, engine, boss,
                                                             clock):
    await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "gold", 2000, clock.now)
    answer = await ask(db, programme, clock, ALICE)
    assert answer.approve is True
    assert answer.message.text == "Welcome to “Gold Lounge”! Your request was approved."
    assert await seat_status(db, GOLD_LOUNGE, ALICE) == "in"


async def test_approval_in_chinese(db, programme, engine, boss, clock):
    await someone(db, engine, clock, ALICE, locale="zh_Hans")
    await standing(db, ALICE, "gold", 2000, clock.now)
    answer = await ask(db, programme, clock, ALICE, hint="en")  # their chosen language wins
    assert answer.message.text == "欢迎加入“Gold Lounge”！您的入群申请已通过。"


async def test_staff_below_the_tier_are_approved(db, programme, engine, boss, clock):
    await someone(db, engine, clock, SAM, "staff")
    assert (await ask(db, programme, clock, SAM)).approve is True
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "in"


async def test_a_member_below_the_tier_is_declined_with_what_they_need(db, programme,
                                                                       engine, boss, clock):
    await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "silver", 1680, clock.now)
    answer = await ask(db, programme, clock, ALICE)
    assert answer.approve is False
    assert answer.message.text == (
        "“Gold Lounge” is for Gold members and above. You need 320 more qualifying points "
        "to get there; /tier shows your progress. Ask again once you have it.")
    assert await seat_status(db, GOLD_LOUNGE, ALICE) is None
    assert await count(db, Seat) == 0


async def test_a_decline_in_the_members_language(db, programme, engine, boss, clock):
    await someone(db, engine, clock, ALICE, locale="zh_Hans")
    await standing(db, ALICE, "silver", 1680, clock.now)
    answer = await ask(db, programme, clock, ALICE, hint="en")  # Telegram's app is English
    assert answer.approve is False
    assert answer.message.text == ("“Gold Lounge”只对黄金会员及以上会员开放。您还差 320 积分，"
                                   "/tier 可查看进度。达到后请再次申请。")


async def test_a_stranger_gets_the_start_link_in_their_apps_language(db, programme, boss,
                                                                    clock):
    members_before = await count(db, Member)
    answer = await ask(db, programme, clock, "9999", hint="en")
    assert answer.approve is False
    assert answer.message.text == (
        "“Gold Lounge” is for Tea House Club members (Gold and above). Join in one tap: "
        "https://t.me/memberbot?start=groups — then ask to join the group again.")
    zh = await ask(db, programme, clock, "9998", hint="zh-hans")
    assert zh.message.text.startswith("“Gold Lounge”是")
    assert "https://t.me/memberbot?start=groups" in zh.message.text
    assert await count(db, Member) == members_before  # asking makes nobody a member
    assert await count(db, Seat) == 0


async def test_a_stranger_without_a_start_link(db, programme, boss, clock):
    answer = await ask(db, programme, clock, "9999", start_link=None)
    assert answer.message.text == (
        "“Gold Lounge” is for Tea House Club members (Gold and above). Become a member "
        "first, then ask to join the group again.")


async def test_a_chat_without_a_gate_is_left_to_its_admins(db, programme, boss, engine,
                                                           clock):
    await someone(db, engine, clock, ALICE)
    assert await ask(db, programme, clock, ALICE, chat=TEA) == JoinAnswer(None)
    assert await ask(db, programme, clock, "9999", chat=TEA) == JoinAnswer(None)
    assert await count(db, Seat) == 0


async def test_an_erased_member_is_a_stranger_again(db, programme, engine, boss, clock):
    await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "gold", 2000, clock.now)
    mid = await member_id(db, ALICE)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == mid)
                                  .values(status="erased"))
        await uow.commit()
    answer = await ask(db, programme, clock, ALICE)
    assert answer.approve is False and "start=groups" in answer.message.text


# ------------------------------------------------------------------ what the chat sees

async def test_arrivals_promotions_and_departures_move_the_seat(db, programme, engine, boss,
                                                                clock):
    await someone(db, engine, clock, ALICE)
    await standing(db, ALICE, "gold", 2000, clock.now)
    await seen(db, programme, clock, ALICE, "member")
    assert await seat_status(db, GOLD_LOUNGE, ALICE) == "in"
    await seen(db, programme, clock, ALICE, "left")
    assert await seat_status(db, GOLD_LOUNGE, ALICE) == "left"
    await seen(db, programme, clock, ALICE, "restricted")  # back, muted: still in the chat
    assert await seat_status(db, GOLD_LOUNGE, ALICE) == "in"
    await seen(db, programme, clock, ALICE, "kicked")
    assert await seat_status(db, GOLD_LOUNGE, ALICE) == "left"


async def test_a_chat_admin_below_the_tier_is_kept(db, programme, engine, boss, clock):
    await someone(db, engine, clock, SAM)  # the lowest tier
    await seen(db, programme, clock, SAM, "administrator")
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "in"
    await seen(db, programme, clock, SAM, "member")  # demoted: now they lapse
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "lapsed"
    await seen(db, programme, clock, SAM, "creator")
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "in"


async def test_someone_who_came_in_without_qualifying_lapses(db, programme, engine, boss,
                                                              clock):
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")  # an old link, or added by a friend
    await seen(db, programme, clock, "7777", "member")  # not even a member
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "lapsed"
    assert await seat_status(db, GOLD_LOUNGE, "7777") == "lapsed"
    async with db.uow() as uow:
        gate = await gates.find(uow, PLATFORM, GOLD_LOUNGE.chat_id)
        seat = await seats.find(uow, gate, SAM)
        assert seat.remove_after == clock.now + timedelta(days=1)  # the gate's grace


async def test_a_role_keeps_a_seat(db, programme, engine, boss, clock):
    await someone(db, engine, clock, SAM)
    mid = await member_id(db, SAM)
    async with db.uow() as uow:
        await roles.grant(uow, 1, "moderator", mid, clock.now)
        await uow.commit()
    await seen(db, programme, clock, SAM, "member")
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "in"


async def test_an_unknown_status_changes_nothing(db, programme, engine, boss, clock):
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")
    await seen(db, programme, clock, SAM, "owner_of_the_moon")
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "lapsed"


async def test_a_chat_without_a_gate_keeps_no_seats(db, programme, engine, boss, clock):
    await seen(db, programme, clock, SAM, "member", chat=TEA)
    assert await count(db, Seat) == 0
