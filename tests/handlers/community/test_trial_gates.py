"""Trial findings on gated chats, through the engine and the domain: /gate off revokes
the gate's join link; a grace is given once per lapse, so re-adding someone who was
removed (or who never qualified) gives no new one; a refused removal shows in /gates
with why, and the staff who run gates are told once; /gate in a group answers in the
group's language; a dry run says what it does; a channel is named as a channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.community import gates, group_settings, removals, seats
from domain.notices.tables import Notice
from handlers.community import joining
from handlers.engine.rooms import RoomError
from tests.handlers.community import (
    GOLD_LOUNGE,
    NEWS,
    PLATFORM,
    SAM,
    TEA,
    FakeRooms,
    all_gates,
    member_id,
    owner,
    seat_status,
    someone,
    standing,
)


@dataclass
class RevokingRooms(FakeRooms):
    """FakeRooms on a platform that revokes join links; `refuse_revoke`: it will not."""

    revoked: list[tuple[str, str]] = field(default_factory=list)
    refuse_revoke: bool = False

    async def revoke_link(self, chat_id: str, link: str) -> None:
        self.calls.append(("revoke_link", chat_id, link))
        if self.refuse_revoke:
            raise RoomError("Bad Request: not enough rights")
        self.revoked.append((chat_id, link))


@pytest.fixture
def rooms() -> RevokingRooms:
    return RevokingRooms()


async def english(db, clock, chat=TEA) -> None:
    """/grouplang en in the chat (the programme's own language is Chinese)."""
    async with db.uow() as uow:
        await group_settings.change(uow, PLATFORM, chat.chat_id, "test", clock.now,
                                    language="en")
        await uow.commit()


async def seen(db, programme, clock, user: str, status: str, chat=GOLD_LOUNGE) -> None:
    await joining.seen(db, programme, PLATFORM, chat.chat_id, user, status, clock.now)


async def seat_of(db, user: str, chat=GOLD_LOUNGE) -> dict:
    async with db.uow() as uow:
        gate = await gates.find(uow, PLATFORM, chat.chat_id)
        seat = await seats.find(uow, gate, user)
        return {"remove_after": seat.remove_after, "lapsed_at": seat.lapsed_at}


async def due_now(db, clock) -> list[str]:
    async with db.uow() as uow:
        return [r.user_id for r in await removals.due(uow, PLATFORM, clock.now, 50)]


async def remove_due(db, clock) -> None:
    async with db.uow() as uow:
        for removal in await removals.due(uow, PLATFORM, clock.now, 50):
            assert await removals.removed(uow, removal, clock.now)
        await uow.commit()


async def notice_keys(db, mid: int | None = None) -> list[str]:
    async with db.uow() as uow:
        query = select(Notice.key).order_by(Notice.id)
        if mid is not None:
            query = query.where(Notice.member_id == mid)
        return list(await uow.session.scalars(query))


# ------------------------------------------------------------------ 1. /gate off revokes

async def test_gate_off_revokes_the_gates_join_link(db, programme, engine, clock, rooms):
    boss = await owner(db, programme, engine, clock)
    await english(db, clock)
    await boss.say("/gate gold 3d", TEA)
    (link,) = [g["link"] for g in await all_gates(db)]
    out = await boss.say("/gate off", TEA)
    assert rooms.revoked == [(TEA.chat_id, link)]
    assert out == ("🔓 “Tea Lovers” is open again: nobody will be removed from it, and its "
                   "join link no longer works.")
    assert await all_gates(db) == []


async def test_gate_off_from_the_private_chat_revokes_too(db, programme, engine, clock,
                                                          rooms):
    boss = await owner(db, programme, engine, clock)
    await boss.say(f"/gate {NEWS.chat_id} gold")
    (link,) = [g["link"] for g in await all_gates(db)]
    await boss.say(f"/gate {NEWS.chat_id} off")
    assert rooms.revoked == [(NEWS.chat_id, link)]


async def test_a_link_that_cannot_be_revoked_is_named_and_the_gate_still_goes(
        db, programme, engine, clock, rooms):
    boss = await owner(db, programme, engine, clock)
    await boss.say(f"/gate {NEWS.chat_id} gold")
    (link,) = [g["link"] for g in await all_gates(db)]
    rooms.refuse_revoke = True
    out = await boss.say(f"/gate {NEWS.chat_id} off")
    assert link in out and "Invite Links" in out
    assert await all_gates(db) == []


# ------------------------------------------------------------------ 2. one grace per lapse

@pytest.fixture
async def lounge(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock)
    await boss.say("/gate gold 3d", GOLD_LOUNGE)
    return boss


async def test_a_removed_member_added_back_has_no_new_grace_nor_warning(
        db, programme, engine, clock, lounge):
    await someone(db, engine, clock, SAM)  # the lowest tier
    mid = await member_id(db, SAM)
    await seen(db, programme, clock, SAM, "member")  # added by a friend
    assert await notice_keys(db, mid) == ["community.lapse_until"]
    clock.now += timedelta(days=3, minutes=1)
    assert await due_now(db, clock) == [SAM]
    await remove_due(db, clock)
    await seen(db, programme, clock, SAM, "kicked")  # our own removal, reported
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "removed"

    clock.now += timedelta(hours=5)
    await seen(db, programme, clock, SAM, "member")  # added back by the friend
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "lapsed"
    assert await due_now(db, clock) == [SAM]  # at once: the grace was used
    assert await notice_keys(db, mid) == ["community.lapse_until"]  # told once only


async def test_a_stranger_who_never_qualified_gets_one_grace_only(db, programme, engine,
                                                                  clock, lounge):
    await seen(db, programme, clock, "7777", "member")
    first = (await seat_of(db, "7777"))["remove_after"]
    clock.now += timedelta(days=4)
    await remove_due(db, clock)
    await seen(db, programme, clock, "7777", "member")
    assert (await seat_of(db, "7777"))["remove_after"] == first
    assert await due_now(db, clock) == ["7777"]


async def test_leaving_during_the_grace_and_coming_back_keeps_what_is_left(
        db, programme, engine, clock, lounge):
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")
    until = (await seat_of(db, SAM))["remove_after"]
    clock.now += timedelta(days=1)
    await seen(db, programme, clock, SAM, "left")
    await seen(db, programme, clock, SAM, "member")
    assert (await seat_of(db, SAM))["remove_after"] == until
    assert await due_now(db, clock) == []


async def test_qualifying_ends_the_lapse_so_a_later_one_has_a_full_grace(
        db, programme, engine, clock, lounge):
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")
    clock.now += timedelta(days=4)
    await remove_due(db, clock)
    await standing(db, SAM, "gold", 0, clock.now)
    await seen(db, programme, clock, SAM, "member")  # back, qualifying
    assert await seat_status(db, GOLD_LOUNGE, SAM) == "in"
    assert (await seat_of(db, SAM))["lapsed_at"] is None


async def test_new_terms_give_everyone_out_a_full_grace_again(db, programme, engine, clock,
                                                              lounge):
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")
    clock.now += timedelta(days=4)
    await remove_due(db, clock)
    await lounge.say("/gate gold 1w", GOLD_LOUNGE)  # new terms
    await seen(db, programme, clock, SAM, "member")
    assert (await seat_of(db, SAM))["remove_after"] == clock.now + timedelta(weeks=1)


# ------------------------------------------------------------------ 3. refused removals

async def test_a_refused_removal_shows_in_gates_and_operators_are_told_once(
        db, programme, engine, clock, lounge):
    await english(db, clock, GOLD_LOUNGE)
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member")
    await seen(db, programme, clock, "7777", "member")
    clock.now += timedelta(days=4)
    async with db.uow() as uow:
        due = await removals.due(uow, PLATFORM, clock.now, 50)
        for removal in due:
            await removals.postpone(
                uow, removal, clock.now + timedelta(minutes=1),
                "Bad Request: not enough rights to restrict/unrestrict chat member",
                clock.now, why="rights")
        await uow.commit()
    assert len(due) == 2
    assert await notice_keys(db, 1) == ["community.removal_refused.rights"]  # once
    out = await lounge.say("/gates")
    assert "lapsed: 2 · grace over: 0" in out
    assert "⚠️ 2 removals refused: I lack the “Ban Users” right there." in out


async def test_a_refusal_of_another_kind_quotes_the_platform(db, programme, engine, clock,
                                                             lounge):
    await seen(db, programme, clock, "7777", "member")
    clock.now += timedelta(days=4)
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, PLATFORM, clock.now, 50)
        await removals.postpone(uow, removal, clock.now + timedelta(minutes=1),
                                "Bad Request: PARTICIPANT_ID_INVALID", clock.now)
        await uow.commit()
    out = await lounge.say("/gates")
    assert "⚠️ 1 removal refused: Telegram said “Bad Request: PARTICIPANT_ID_INVALID”." in out


# ------------------------------------------------------------------ 4. the group's language

async def test_gate_in_a_group_answers_in_the_groups_language(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock)  # speaks English
    assert programme.default_locale == "zh_Hans"
    out = await boss.say("/gate gold 1h", TEA)
    assert out.startswith("🔒 “Tea Lovers”现在只对黄金会员及以上会员开放。")
    assert "“Tea Lovers”" in await boss.say("/gate lapse warn", TEA)
    assert "只提醒" in await boss.say("/gate lapse warn", TEA)
    await english(db, clock)
    assert (await boss.say("/gate lapse remove", TEA)).endswith(
        "who no longer qualifies is removed from the chat.")
    # In private the sender's own language, as before.
    assert "Gated chats:" in await boss.say("/gates")


async def test_a_refusal_in_a_group_is_in_the_groups_language(db, programme, engine, clock):
    await owner(db, programme, engine, clock)
    sam = await someone(db, engine, clock, SAM)
    assert await sam.say("/gate gold", TEA) == "抱歉，/gate 仅限店主、管理员和运营人员使用。"


# ------------------------------------------------------------------ 5. wording

async def test_a_dry_run_does_not_say_people_are_removed(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock)
    await english(db, clock)
    await boss.say("/gate gold", TEA)
    out = await boss.say("/gate dryrun on", TEA)
    assert out == ("“Tea Lovers”: dry run on. Nobody is warned or removed; /gates lists who "
                   "would be. Once the dry run ends, who no longer qualifies is removed from "
                   "the chat.")


async def test_gating_again_does_not_post_the_link_again(db, programme, engine, clock, rooms):
    boss = await owner(db, programme, engine, clock)
    await english(db, clock)
    first = await boss.say("/gate gold", TEA)
    (link,) = [g["link"] for g in await all_gates(db)]
    assert link in first
    again = await boss.say("/gate silver 12h", TEA)
    assert link not in again and "The join link stays the same" in again
    assert len(rooms.links) == 1


async def test_a_channel_is_named_a_channel(db, programme, engine, clock):
    boss = await owner(db, programme, engine, clock)
    out = await boss.say(f"/gate {NEWS.chat_id} gold 0")
    assert "Then: removed from the channel." in out
    await someone(db, engine, clock, SAM)
    await seen(db, programme, clock, SAM, "member", chat=NEWS)
    assert await notice_keys(db, await member_id(db, SAM)) == ["community.lapse_now_channel"]
