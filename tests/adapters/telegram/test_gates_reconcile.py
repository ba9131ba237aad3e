"""What happened in gated chats while no process listened, learnt by asking Telegram
(Reconciler: getChatMember about every present seat), through aiogram and
python-telegram-bot against the local Bot API server; and a channel gated from the
private chat by its @username, kept under the numeric id its join requests carry.

The fake changes its members without queuing a `chat_member` update, as Telegram
does for whatever happened while the bot was down: only the reconciler can learn it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.telegram.community import Reconciler
from bot.telegram.transport import TransientFailure
from domain.community import gates
from domain.community.tables import Gate, Seat
from domain.members import members
from domain.staff import roles
from handlers.community import joining
from tests.adapters.telegram.test_gates_telegram import (
    GOLDIE,
    LOUNGE,
    MOD,
    OWNER,
    SILVIA,
    STRANGER,
    clock,
    enrol,
    eventually,
    open_gate,
    seat,
)
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

FAST = 1000.0  # questions a second: the pace never holds a test up


def asked(api) -> list[tuple[int, int, int | None]]:
    """(chat, user, HTTP status) of every getChatMember about someone other than the bot."""
    return [(c.params["chat_id"], c.params["user_id"], c.status) for c in api.calls
            if c.method == "getChatMember" and c.params.get("user_id") != api.bot_id]


async def seated(db, programme, api, user_id: int, status: str = "member",
                 chat_id: int = LOUNGE) -> None:
    """`user_id` is in the chat, as a chat_member update told us while the bot listened."""
    if status == "administrator":
        api.admin(chat_id, user_id)
    else:
        api.members[chat_id].add(user_id)
    await joining.seen(db, programme, "telegram", str(chat_id), str(user_id), status, clock())


async def stamped(db, user_id: int) -> object:
    """When the user's lounge seat last changed."""
    async with db.uow() as uow:
        return await uow.session.scalar(
            select(Seat.updated_at).join(Gate, Gate.id == Seat.gate_id)
            .where(Gate.chat_id == str(LOUNGE), Seat.user_id == str(user_id)))


@pytest.fixture
async def lounge(api, db, programme):
    """The gold lounge, gated, with Goldie (gold), Silvia (gold), Mod (silver) and a
    stranger who administers it, all seen arriving."""
    api.group(LOUNGE, "Gold Lounge")
    await open_gate(db, programme)
    await enrol(db, programme, GOLDIE, "gold")
    await enrol(db, programme, SILVIA, "gold")
    await enrol(db, programme, MOD, "silver")
    for user in (GOLDIE, SILVIA, MOD):
        await seated(db, programme, api, user)
    await seated(db, programme, api, STRANGER, "administrator")
    assert await seat(db, MOD) == ("lapsed", False)  # below the tier: due for removal
    assert await seat(db, STRANGER) == ("in", True)  # an admin is kept, member or not


# ------------------------------------------------------------------ what was missed

async def test_who_left_or_was_promoted_or_demoted_meanwhile_is_learnt_once(
        api, transport, db, programme, lounge):
    goldie_before = await stamped(db, GOLDIE)
    # While the bot was down: Silvia left, Mod was made an admin, the stranger demoted.
    api.members[LOUNGE].discard(SILVIA)
    api.admin(LOUNGE, MOD)
    api.demote(LOUNGE, STRANGER)
    assert not api.pending  # Telegram says nothing of it later

    reconciler = Reconciler(db, programme, transport, rate=FAST)
    assert await reconciler.once() == 3
    assert await seat(db, SILVIA) == ("left", False)
    assert await seat(db, MOD) == ("in", True)  # an admin qualifies below the tier
    assert await seat(db, STRANGER) == ("lapsed", False)  # no admin now, and no member
    assert await seat(db, GOLDIE) == ("in", False)
    assert await stamped(db, GOLDIE) == goldie_before  # unchanged: not touched
    assert sorted(user for _, user, _ in asked(api)) == sorted([GOLDIE, SILVIA, MOD,
                                                                STRANGER])
    assert {chat for chat, _, _ in asked(api)} == {LOUNGE}

    # A second pass finds nothing new, and no longer asks about who left.
    assert await reconciler.once() == 0
    later = [user for _, user, _ in asked(api)[4:]]
    assert sorted(later) == sorted([GOLDIE, MOD, STRANGER])
    assert not api.sent("banChatMember")  # the reconciler only learns; removal is not its job


async def test_a_restricted_user_no_longer_in_the_chat_counts_as_gone(
        api, transport, db, programme, lounge):
    api.restrictions[(LOUNGE, GOLDIE)] = {"can_send_messages": False}
    api.restrictions[(LOUNGE, SILVIA)] = {"can_send_messages": False}
    api.members[LOUNGE].discard(SILVIA)  # restricted, then left
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 1
    assert await seat(db, SILVIA) == ("left", False)
    assert await seat(db, GOLDIE) == ("in", False)  # restricted but there


# ------------------------------------------------------------------ failures

async def test_flood_control_is_waited_out_and_the_pass_completes(
        api, transport, db, programme, lounge):
    api.members[LOUNGE].discard(SILVIA)
    api.fail_next("getChatMember", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 1
    calls = asked(api)
    assert [status for _, _, status in calls] == [429, 200, 200, 200, 200]
    assert calls[0][1] == calls[1][1]  # the same question again, not skipped
    waited = [c.at for c in api.calls if c.method == "getChatMember"][:2]
    assert waited[1] - waited[0] >= 0.9  # retry_after was honoured
    assert await seat(db, SILVIA) == ("left", False)
    assert await seat(db, MOD) == ("lapsed", False)


async def test_a_refusal_about_one_account_skips_it_and_the_others_are_checked(
        api, transport, db, programme, lounge):
    api.members[LOUNGE].discard(GOLDIE)  # the first seat: its question is refused
    api.members[LOUNGE].discard(SILVIA)
    api.fail_next("getChatMember", 400, "Bad Request: PARTICIPANT_ID_INVALID")
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 1
    assert [(user, status) for _, user, status in asked(api)] == [
        (GOLDIE, 400), (SILVIA, 200), (MOD, 200), (STRANGER, 200)]
    assert await seat(db, GOLDIE) == ("in", False)  # skipped, to be asked next time
    assert await seat(db, SILVIA) == ("left", False)
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 1
    assert await seat(db, GOLDIE) == ("left", False)


@pytest.mark.parametrize(("code", "description"), [
    (403, "Forbidden: bot was kicked from the supergroup chat"),
    (400, "Bad Request: chat not found"),
])
async def test_a_chat_the_bot_cannot_ask_about_is_skipped_whole(
        api, transport, db, programme, lounge, code, description):
    """Out of the chat, every question about it would be refused: one is enough."""
    api.members[LOUNGE].discard(SILVIA)
    api.fail_next("getChatMember", code, description)
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 0
    assert [(user, status) for _, user, status in asked(api)] == [(GOLDIE, code)]
    assert await seat(db, SILVIA) == ("in", False)  # asked about next time
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 1
    assert await seat(db, SILVIA) == ("left", False)


async def test_a_network_failure_ends_the_pass(api, transport, db, programme, lounge):
    api.members[LOUNGE].discard(GOLDIE)
    api.members[LOUNGE].discard(SILVIA)
    api.disconnect_next("getChatMember")
    with pytest.raises(TransientFailure):
        await Reconciler(db, programme, transport, rate=FAST).once()
    assert len(asked(api)) == 1  # nobody else asked in that pass
    assert await seat(db, SILVIA) == ("in", False)
    assert await Reconciler(db, programme, transport, rate=FAST).once() == 2


# ------------------------------------------------------------------ pace and scope

async def test_each_present_seat_is_asked_about_once_a_page_at_a_time(
        api, transport, db, programme):
    api.group(LOUNGE, "Gold Lounge")
    other = -1001700
    api.group(other, "Silver Room")
    await open_gate(db, programme)
    await open_gate(db, programme, chat_id=other, title="Silver Room")
    users = list(range(3000, 3023))
    for user in users:
        await seated(db, programme, api, user)  # strangers: they lapse, still present
    for user in users[:5]:
        await seated(db, programme, api, user, chat_id=other)
    gone = users[-1]
    await joining.seen(db, programme, "telegram", str(LOUNGE), str(gone), "left", clock())
    async with db.uow() as uow:  # a WeChat gate's seat is nothing to ask Telegram about
        gate = await gates.open_gate(uow, programme, "wechat", "wecom-1", "group", "WeCom",
                                     "gold", timedelta(0), None, "test", clock())
        await uow.commit()
    await joining.seen(db, programme, "wechat", gate.chat_id, "o-abc", "member", clock())

    reconciler = Reconciler(db, programme, transport, rate=FAST, page=4)
    assert await reconciler.once() == 0
    expected = [(LOUNGE, u) for u in users[:-1]] + [(other, u) for u in users[:5]]
    assert sorted((chat, user) for chat, user, _ in asked(api)) == sorted(expected)
    assert all(status == 200 for _, _, status in asked(api))


async def test_the_worker_reconciles_at_start_and_stops_when_told(
        api, transport, db, programme, lounge):
    api.members[LOUNGE].discard(SILVIA)
    stop = asyncio.Event()
    reconciler = Reconciler(db, programme, transport, rate=FAST)
    task = asyncio.create_task(reconciler.run(stop))
    await eventually(lambda: _seat_is(db, SILVIA, ("left", False)))
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(asked(api)) == 4  # one pass, then waiting for the next


async def _seat_is(db, user_id: int, expected: tuple[str, bool]) -> bool:
    return await seat(db, user_id) == expected


# ------------------------------------------------------------------ a channel by @username

CHANNEL = -1001800


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def test_a_channel_gated_by_its_username_answers_join_requests_by_its_id(
        api, bot, db, programme):
    channel = api.group(CHANNEL, "Tea House News", kind="channel")
    api.chats["@teahousenews"] = {**channel, "username": "teahousenews"}  # getChat by name
    api.admin(CHANNEL)
    async with db.uow() as uow:
        await members.register(uow, programme, "telegram", str(OWNER), clock())
        await roles.set_owner(uow, programme, f"telegram:{OWNER}", clock())
        await uow.commit()

    api.message(OWNER, "/gate @teahousenews gold 0")
    (said,) = await api.wait_for(1, method="sendMessage", chat_id=OWNER)
    (link,) = api.sent("createChatInviteLink")
    assert link.params["chat_id"] == CHANNEL
    assert link.result["invite_link"] in said.text and "Tea House News" in said.text
    async with db.uow() as uow:
        gate = await gates.find(uow, "telegram", str(CHANNEL))
        assert (gate.kind, gate.title, gate.min_tier) == ("channel", "Tea House News", "gold")
        assert await gates.find(uow, "telegram", "@teahousenews") is None

    await enrol(db, programme, GOLDIE, "gold")
    await enrol(db, programme, SILVIA, "silver")
    api.chat_join_request(GOLDIE, CHANNEL)
    (approved,) = await api.wait_for(1, method="approveChatJoinRequest")
    assert approved.params == {"chat_id": CHANNEL, "user_id": GOLDIE}
    api.chat_join_request(SILVIA, CHANNEL)
    (declined,) = await api.wait_for(1, method="declineChatJoinRequest")
    assert declined.params["user_id"] == SILVIA
    await eventually(lambda: _channel_seat_is(db, GOLDIE, "in"))


async def _channel_seat_is(db, user_id: int, status: str) -> bool:
    found = await seat(db, user_id, CHANNEL)
    return found is not None and found[0] == status
