"""Closing a conversation and the member's topic (trial findings): the topic opens
(again) at a conversation's first message and closes with it, once each; a member's
close reaches staff in private when there is no staff chat; a staff close asks the
member for the rating with the 1-5 buttons in its notice; /setsupport off leaves the
platform without a staff chat, audited, and drops what waited to be posted there."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.feedback import surveys
from domain.staff import roles
from domain.support import conversations as support
from domain.support import staff_chat
from domain.support.tables import SupportPost
from handlers.notices.notices import render_notice
from tests.domain.support.test_conversations import (
    NOW,
    actions,
    notices_of,
    opened,
    people,
    says,
)
from tests.support.lifecycle_helpers import a_member

CHAT = "-1001"


async def posts(db) -> list[tuple[str, int | None, str]]:
    """(key, the conversation it is about, status) of every post, in order."""
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(SupportPost).order_by(SupportPost.id))
        return [(p.key, p.params.get("conversation"), p.status) for p in rows]


async def with_a_staff_chat(db, boss: int) -> None:
    async with db.uow() as uow:
        await staff_chat.set_chat(uow, boss, "telegram", CHAT, NOW)
        await uow.commit()


async def close(db, programme, actor: int, cid: int, by_staff: bool) -> support.Closed:
    async with db.uow() as uow:
        closed = await support.close(uow, programme, actor, cid, NOW, by_staff=by_staff)
        await uow.commit()
        return closed


async def test_the_topic_opens_at_the_first_message_and_closes_with_the_conversation(
        db, programme):
    boss, alice = await people(db, programme)
    await with_a_staff_chat(db, boss)
    first = await opened(db, programme, alice)
    assert await posts(db) == []  # nothing to show staff yet
    await says(db, programme, alice, "hello")
    await says(db, programme, alice, "anyone?")
    await close(db, programme, alice, first, by_staff=False)
    second = await opened(db, programme, alice)
    await says(db, programme, alice, "me again")
    async with db.uow() as uow:
        await support.reply(uow, programme, boss, second, "Hi!", NOW)  # from elsewhere
        await uow.commit()
    await close(db, programme, boss, second, by_staff=True)
    assert [(key, cid) for key, cid, _ in await posts(db)] == [
        (staff_chat.OPEN_TOPIC, first), ("support.staff.member_said", first),
        ("support.staff.member_said", first), ("support.staff.member_closed", first),
        (staff_chat.CLOSE_TOPIC, first),
        (staff_chat.OPEN_TOPIC, second), ("support.staff.member_said", second),
        ("support.staff.answered", second), ("support.staff.closed", second),
        (staff_chat.CLOSE_TOPIC, second)]
    assert await notices_of(db, boss) == []  # the staff chat told staff


async def test_a_conversation_nobody_wrote_in_closes_quietly(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    await close(db, programme, alice, cid, by_staff=False)
    await with_a_staff_chat(db, boss)
    cid = await opened(db, programme, alice)
    await close(db, programme, alice, cid, by_staff=False)
    assert await posts(db) == []
    assert await notices_of(db, boss) == []


async def test_without_a_staff_chat_a_members_close_reaches_staff_in_private(db, programme):
    boss, alice = await people(db, programme)
    bob = await a_member(db, programme, NOW, "bob")
    async with db.uow() as uow:
        await roles.grant(uow, boss, "staff", bob, NOW)
        await uow.commit()
    cid = await opened(db, programme, alice)
    await says(db, programme, alice, "hello")
    await close(db, programme, alice, cid, by_staff=False)
    for who in (boss, bob):  # everyone the wait was told to
        told = await notices_of(db, who)
        assert [key for key, _ in told] == ["support.staff.waiting",
                                            "support.staff.member_closed"]
        assert render_notice(*told[-1], "en", programme).text == \
            "✅ Support #1 (member 00000002) was closed by the member."
    again = await opened(db, programme, alice)
    await says(db, programme, alice, "one more thing")
    await close(db, programme, boss, again, by_staff=True)  # the closer knows already
    assert [key for key, _ in await notices_of(db, bob)] == [
        "support.staff.waiting", "support.staff.member_closed", "support.staff.waiting"]
    assert await posts(db) == []


async def test_a_staff_close_asks_the_member_with_the_rating_buttons(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    assert (await close(db, programme, boss, cid, by_staff=True)).rating is not None
    ((key, params),) = await notices_of(db, alice)
    shown = render_notice(key, params, "en", programme)
    assert shown.text == ("Your support conversation #1 has been closed. How well did we "
                          "help? Tap 1 (poorly) to 5 (very well).")
    assert shown.buttons == ((("1", "spr:1:1"), ("2", "spr:1:2"), ("3", "spr:1:3"),
                              ("4", "spr:1:4"), ("5", "spr:1:5")),)
    assert render_notice(key, params, "zh_Hans", programme).buttons == shown.buttons

    async with db.uow() as uow:  # no more surveys for her: closed, and asked nothing
        await surveys.opt_out(uow, alice, NOW)
        await uow.commit()
    cid = await opened(db, programme, alice)
    assert (await close(db, programme, boss, cid, by_staff=True)).rating is None
    key, params = (await notices_of(db, alice))[-1]
    assert key == "support.closed_by_staff"
    assert render_notice(key, params, "en", programme).buttons == ()


async def test_setsupport_off_leaves_no_staff_chat_and_drops_what_waited(db, programme):
    boss, alice = await people(db, programme)
    async with db.uow() as uow:
        assert not await staff_chat.unset_chat(uow, boss, "telegram", NOW)  # none yet
    await with_a_staff_chat(db, boss)
    await opened(db, programme, alice)
    await says(db, programme, alice, "hello")
    async with db.uow() as uow:
        with pytest.raises(roles.RoleRefused):
            await staff_chat.unset_chat(uow, alice, "telegram", NOW)
    async with db.uow() as uow:
        claimed = await staff_chat.claim(uow, "telegram", NOW, limit=1)  # on its way
        assert await staff_chat.unset_chat(uow, boss, "telegram", NOW)
        await uow.commit()
    async with db.uow() as uow:  # the relay's outcome does not bring it back
        await staff_chat.finish(uow, claimed[0].id, "later", NOW)
        assert await staff_chat.chats(uow) == []
        await uow.commit()
    assert [status for _, _, status in await posts(db)] == [staff_chat.DROPPED] * 2
    assert (await actions(db))[-1] == "support.staff_chat_off"
    bob = await a_member(db, programme, NOW, "bob")
    await opened(db, programme, bob)
    await says(db, programme, bob, "hello?")  # staff hear in private now
    assert [key for key, _ in await notices_of(db, boss)] == ["support.staff.waiting"]
    assert len(await posts(db)) == 2
