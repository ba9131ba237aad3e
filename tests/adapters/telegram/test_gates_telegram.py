"""Tier-gated Telegram chats, end to end through aiogram and python-telegram-bot against
the local Bot API server: /gate in a group, join requests answered by tier, members
who stop qualifying taken out (and let back in), dry runs, chat admins and flood control.

The removal worker runs on the real clock, so lapses are stamped with the real time
(grace 0: due at once); the tests wait for what Telegram sees, never for a duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.telegram.community import TelegramRooms
from bot.telegram.transport import FloodWait
from domain.community import gates, group_settings, removals, seats
from domain.community.tables import Gate, Seat
from domain.members import members
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.staff import roles
from handlers.engine.rooms import GATE_RIGHTS
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, _settled, started

LOUNGE = -1001500  # a supergroup for gold members
OWNER, GOLDIE, SILVIA, STRANGER, MOD = 500, 1001, 1002, 1003, 1004


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    api.group(LOUNGE, "Gold Lounge")
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def clock() -> datetime:
    return datetime.now(UTC)  # the removal worker's clock


async def enrol(db, programme, user_id: int, tier: str, language: str = "en") -> int:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "telegram", str(user_id),
                                          clock())).member
        member.language_hint = language
        await uow.commit()
    await set_tier(db, programme, member.id, tier)
    return member.id


async def set_tier(db, programme, member_id: int, tier: str) -> None:
    """A tier change as the domain makes one: the member's gates are judged again."""
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == member_id)
                                  .values(tier=tier))
        await seats.recheck(uow, programme.tiers, [member_id], clock())
        await uow.commit()


async def open_gate(db, programme, chat_id: int = LOUNGE, title: str = "Gold Lounge",
                    dry_run: bool = False) -> None:
    async with db.uow() as uow:
        gate = await gates.open_gate(uow, programme, "telegram", str(chat_id), "supergroup",
                                     title, "gold", timedelta(0), None, "test", clock())
        if dry_run:
            await gates.configure(uow, gate, "test", clock(), dry_run=True)
        await uow.commit()


async def seat(db, user_id: int, chat_id: int = LOUNGE) -> tuple[str, bool] | None:
    """The seat's status and whether it is a chat admin's, or None."""
    async with db.uow() as uow:
        row = (await uow.session.execute(
            select(Seat.status, Seat.chat_admin).join(Gate, Gate.id == Seat.gate_id)
            .where(Gate.chat_id == str(chat_id), Seat.user_id == str(user_id)))).one_or_none()
    return None if row is None else (row.status, row.chat_admin)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:  # noqa: ASYNC109
    """Wait until `check()` holds; the deadline only keeps a broken test from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def removals_of(api, user_id: int) -> list[tuple[str, int | None]]:
    """(method, HTTP status) of every ban and unban of `user_id`, in order."""
    return [(c.method, c.status) for c in api.calls
            if c.method in ("banChatMember", "unbanChatMember")
            and c.params.get("user_id") == user_id]


# ------------------------------------------------------------------ setting up a gate

async def test_gate_in_a_group_names_missing_rights_then_gates_with_a_join_link(
        api, bot, db, programme):
    async with db.uow() as uow:
        await members.register(uow, programme, "telegram", str(OWNER), clock())
        await roles.set_owner(uow, programme, f"telegram:{OWNER}", clock())
        # /gate answers in the group's language (/grouplang; else the programme's, Chinese).
        await group_settings.change(uow, "telegram", str(LOUNGE), "test", clock(),
                                    language="en")
        await uow.commit()
    api.message(OWNER, "/gate gold 0", chat_id=LOUNGE, chat_type="supergroup")
    (said,) = await api.wait_for(1, method="sendMessage", chat_id=LOUNGE)
    assert "• Invite Users via Link\n• Ban Users" in said.text

    api.admin(LOUNGE, rights={"can_restrict_members": False})
    api.message(OWNER, "/gate@memberbot gold 0", chat_id=LOUNGE, chat_type="supergroup")
    said = (await api.wait_for(2, method="sendMessage", chat_id=LOUNGE))[-1]
    assert "• Ban Users" in said.text and "Invite Users" not in said.text
    assert not api.sent("createChatInviteLink")

    api.admin(LOUNGE)
    api.message(OWNER, "/gate gold 0", chat_id=LOUNGE, chat_type="supergroup")
    said = (await api.wait_for(3, method="sendMessage", chat_id=LOUNGE))[-1]
    (link,) = api.sent("createChatInviteLink")
    assert link.params["creates_join_request"] is True and link.params["chat_id"] == LOUNGE
    assert link.result["invite_link"] in said.text and "Gold Lounge" in said.text
    async with db.uow() as uow:
        gate = await gates.find(uow, "telegram", str(LOUNGE))
        assert gate.min_tier == "gold" and gate.grace_s == 0 and gate.kind == "supergroup"
        assert gate.join_link == link.result["invite_link"]
    assert not api.sent("sendMessage", chat_id=OWNER)  # answered in the group only

    api.message(OWNER, "/points", chat_id=LOUNGE, chat_type="supergroup")
    said = (await api.wait_for(4, method="sendMessage", chat_id=LOUNGE))[-1]
    assert "private chat" in said.text  # other commands still point to the private chat


# ------------------------------------------------------------------ join requests

async def test_join_requests_are_approved_or_declined_by_tier_with_a_private_word(
        api, bot, db, programme):
    await open_gate(db, programme)
    await enrol(db, programme, GOLDIE, "gold")
    await enrol(db, programme, SILVIA, "silver")

    api.chat_join_request(GOLDIE, LOUNGE)
    (approved,) = await api.wait_for(1, method="approveChatJoinRequest")
    assert approved.params["user_id"] == GOLDIE
    (told,) = await api.wait_for(1, method="sendMessage", chat_id=GOLDIE)
    assert "Welcome to “Gold Lounge”" in told.text

    api.chat_join_request(SILVIA, LOUNGE)
    (declined,) = await api.wait_for(1, method="declineChatJoinRequest")
    assert declined.params["user_id"] == SILVIA
    (told,) = await api.wait_for(1, method="sendMessage", chat_id=SILVIA)
    assert "for Gold members and above" in told.text and "2,000 more" in told.text

    api.chat_join_request(STRANGER, LOUNGE)
    await api.wait_for(2, method="declineChatJoinRequest")
    (told,) = await api.wait_for(1, method="sendMessage", chat_id=STRANGER)
    assert "https://t.me/memberbot?start=groups" in told.text
    api.chat_join_request(2020, LOUNGE, language_code="zh-hans")  # in their language
    (told,) = await api.wait_for(1, method="sendMessage", chat_id=2020)
    assert "“Gold Lounge”" in told.text and "会员" in told.text

    assert api.members[LOUNGE] == {GOLDIE}
    assert len(api.sent("declineChatJoinRequest")) == 3
    await eventually(lambda: _status(db, GOLDIE, "in"))  # seated, and its chat_member seen


async def test_an_ungated_chats_join_requests_are_left_to_its_admins(api, bot, db, programme):
    await enrol(db, programme, GOLDIE, "gold")
    await open_gate(db, programme, chat_id=-1009, title="Other")
    api.chat_join_request(GOLDIE, LOUNGE)  # the lounge has no gate
    api.chat_join_request(GOLDIE, -1009)
    await api.wait_for(1, method="approveChatJoinRequest")
    await _settled(api)
    assert [c.params["chat_id"] for c in api.sent("approveChatJoinRequest")] == [-1009]
    assert not api.sent("declineChatJoinRequest")
    assert (LOUNGE, GOLDIE) in api.join_requests


# ------------------------------------------------------------------ losing access

async def test_a_member_who_drops_below_the_tier_is_removed_and_may_rejoin(
        api, bot, db, programme):
    await open_gate(db, programme)
    goldie = await enrol(db, programme, GOLDIE, "gold")
    api.chat_join_request(GOLDIE, LOUNGE)
    await api.wait_for(1, method="sendMessage", chat_id=GOLDIE)
    await eventually(lambda: _status(db, GOLDIE, "in"))

    await set_tier(db, programme, goldie, "silver")  # e.g. a refund took the points away
    await api.wait_for(1, method="unbanChatMember")
    assert removals_of(api, GOLDIE) == [("banChatMember", 200), ("unbanChatMember", 200)]
    assert api.sent("unbanChatMember")[0].params["only_if_banned"] is True
    assert GOLDIE not in api.members[LOUNGE] and (LOUNGE, GOLDIE) not in api.banned
    await eventually(lambda: _status(db, GOLDIE, "removed"))

    await set_tier(db, programme, goldie, "gold")  # qualifies again
    api.chat_join_request(GOLDIE, LOUNGE)
    await api.wait_for(2, method="approveChatJoinRequest")
    assert GOLDIE in api.members[LOUNGE]
    await eventually(lambda: _status(db, GOLDIE, "in"))


async def test_who_joins_without_qualifying_is_removed_but_chat_admins_never(
        api, bot, db, programme):
    await open_gate(db, programme)
    await enrol(db, programme, SILVIA, "silver")
    await enrol(db, programme, MOD, "member")
    api.chat_member(MOD, LOUNGE, "left", "member")
    api.admin(LOUNGE, MOD)  # promoted meanwhile: an admin the seat does not know of
    api.chat_member(SILVIA, LOUNGE, "left", "member")  # an old link, or added by a friend
    await api.wait_for(1, method="unbanChatMember")
    assert removals_of(api, SILVIA) == [("banChatMember", 200), ("unbanChatMember", 200)]
    await eventually(lambda: _admin_seat(db, MOD))
    assert removals_of(api, MOD) == []
    assert MOD in api.members[LOUNGE]

    # An admin promoted in the chat is known from chat_member at once.
    await enrol(db, programme, STRANGER, "member")
    api.chat_member(STRANGER, LOUNGE, "left", "administrator", by=OWNER)
    await eventually(lambda: _admin_seat(db, STRANGER))
    assert removals_of(api, STRANGER) == []


async def test_a_dry_run_gate_removes_nobody_and_reports_who_it_would(api, bot, db,
                                                                      programme):
    dry = -1001600
    api.group(dry, "Dry Lounge")
    await open_gate(db, programme)
    await open_gate(db, programme, chat_id=dry, title="Dry Lounge", dry_run=True)
    silvia = await enrol(db, programme, SILVIA, "gold")
    api.chat_member(SILVIA, dry, "left", "member")
    api.chat_member(SILVIA, LOUNGE, "left", "member")
    await eventually(lambda: _status(db, SILVIA, "in", dry))
    await eventually(lambda: _status(db, SILVIA, "in"))

    await set_tier(db, programme, silvia, "member")  # lapses in both at the same moment
    await api.wait_for(1, method="unbanChatMember")  # the lounge's pass has run
    assert [c.params["chat_id"] for c in api.sent("banChatMember")] == [LOUNGE]
    assert SILVIA in api.members[dry]
    async with db.uow() as uow:
        gate = await gates.find(uow, "telegram", str(dry))
        assert [u for u, _ in await removals.would_remove(uow, gate, clock())] == [str(SILVIA)]


async def test_flood_control_on_a_ban_removes_nobody_in_that_pass_and_later_succeeds(
        api, bot, db, programme):
    await open_gate(db, programme)
    await enrol(db, programme, SILVIA, "silver")
    await enrol(db, programme, STRANGER, "silver")
    api.fail_next("banChatMember", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.chat_member(SILVIA, LOUNGE, "left", "member")
    await eventually(lambda: _status(db, SILVIA, "lapsed"))
    api.chat_member(STRANGER, LOUNGE, "left", "member")
    await api.wait_for(lambda calls: sum(c.method == "unbanChatMember" and c.ok
                                         for c in calls) == 2)
    bans = [(c.method, c.params["user_id"], c.status) for c in api.calls
            if c.method in ("banChatMember", "unbanChatMember")]
    assert bans == [("banChatMember", SILVIA, 429), ("banChatMember", SILVIA, 200),
                    ("unbanChatMember", SILVIA, 200), ("banChatMember", STRANGER, 200),
                    ("unbanChatMember", STRANGER, 200)]
    await eventually(lambda: _status(db, STRANGER, "removed"))
    assert await _status(db, SILVIA, "removed")


async def _status(db, user_id: int, status: str, chat_id: int = LOUNGE) -> bool:
    found = await seat(db, user_id, chat_id)
    return found is not None and found[0] == status


async def _admin_seat(db, user_id: int) -> bool:
    return await seat(db, user_id) == ("in", True)


# ------------------------------------------------------------------ the transport's part

async def test_rooms_and_removal_through_each_library(api, transport):
    rooms = TelegramRooms(transport)
    api.group(LOUNGE, "Gold Lounge")
    room = await rooms.look_up(str(LOUNGE))
    assert (room.kind, room.title) == ("supergroup", "Gold Lounge")
    assert await rooms.look_up("-100404") is None  # chat not found
    assert await rooms.look_up(str(GOLDIE)) is None  # a private chat is nothing to gate
    assert await rooms.missing_rights(room, GATE_RIGHTS) == list(GATE_RIGHTS)
    api.admin(LOUNGE, rights={"can_invite_users": False})
    assert await rooms.missing_rights(room, GATE_RIGHTS) == ["can_invite_users"]
    api.demote(LOUNGE)
    api.admin(LOUNGE, owner=True)
    assert await rooms.missing_rights(room, GATE_RIGHTS) == []

    link = await rooms.join_link(room, "gold · memberbot and a name far too long")
    (made,) = api.sent("createChatInviteLink")
    assert made.params["creates_join_request"] is True and len(made.params["name"]) == 32
    assert link == made.result["invite_link"]

    api.members[LOUNGE].add(GOLDIE)
    assert await transport.member_status(str(LOUNGE), str(GOLDIE)) == "member"
    await transport.remove_member(str(LOUNGE), str(GOLDIE))
    assert await transport.member_status(str(LOUNGE), str(GOLDIE)) == "left"
    assert (LOUNGE, GOLDIE) not in api.banned  # may come back

    api.members[LOUNGE].add(SILVIA)
    api.fail_next("banChatMember", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(FloodWait) as waited:
        await transport.remove_member(str(LOUNGE), str(SILVIA))
    assert waited.value.retry_after == 7
    assert SILVIA in api.members[LOUNGE] and len(api.sent("unbanChatMember")) == 1


async def test_people_in_the_chat_before_it_was_gated_are_judged_when_they_write(
        api, bot, db, programme):
    """Telegram lists no members: someone already in the chat when it is gated is seen
    when they write, and judged like anyone who joins (the trial's finding)."""
    silvia = await enrol(db, programme, SILVIA, "silver")
    await enrol(db, programme, GOLDIE, "gold")
    api.members[LOUNGE].update({SILVIA, GOLDIE})
    await open_gate(db, programme)
    api.message(GOLDIE, "hello everyone", chat_id=LOUNGE, chat_type="supergroup")
    api.message(SILVIA, "hello everyone", chat_id=LOUNGE, chat_type="supergroup")
    await api.wait_for(1, method="unbanChatMember")
    assert removals_of(api, SILVIA) == [("banChatMember", 200), ("unbanChatMember", 200)]
    async with db.uow() as uow:  # told in private why
        told = list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == silvia)))
    assert told == ["community.lapse_now"]
    assert await seat(db, GOLDIE) == ("in", False)
    assert removals_of(api, GOLDIE) == []
    # Writing again changes nothing more.
    api.message(GOLDIE, "still here", chat_id=LOUNGE, chat_type="supergroup")
    await asyncio.sleep(0.3)
    assert removals_of(api, GOLDIE) == [] and len(removals_of(api, SILVIA)) == 2
