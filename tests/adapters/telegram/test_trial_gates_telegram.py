"""Trial findings on gated chats, end to end through aiogram and python-telegram-bot
against the local Bot API server: /gate off revokes the gate's join link; a removal
Telegram refuses (the bot lacks "Ban users") reaches the owner and /gates; /gate in a
group answers in the group's language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.community import group_settings
from domain.notices.tables import Notice
from domain.staff import roles
from tests.adapters.telegram.test_gates_telegram import (
    LOUNGE,
    OWNER,
    SILVIA,
    _status,
    clock,
    enrol,
    eventually,
    open_gate,
)
from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    api.group(LOUNGE, "Gold Lounge")
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


async def the_owner(db, programme) -> int:
    mid = await enrol(db, programme, OWNER, "member")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"telegram:{OWNER}", clock())
        await uow.commit()
    return mid


async def group_language(db, language: str) -> None:
    async with db.uow() as uow:
        await group_settings.change(uow, "telegram", str(LOUNGE), "test", clock(),
                                    language=language)
        await uow.commit()


async def test_gate_off_revokes_the_join_link(api, bot, db, programme):
    await the_owner(db, programme)
    await group_language(db, "en")
    api.admin(LOUNGE)
    api.message(OWNER, "/gate gold 0", chat_id=LOUNGE, chat_type="supergroup")
    await api.wait_for(1, method="sendMessage", chat_id=LOUNGE)
    (made,) = api.sent("createChatInviteLink")
    link = made.result["invite_link"]

    api.message(OWNER, "/gate off", chat_id=LOUNGE, chat_type="supergroup")
    said = (await api.wait_for(2, method="sendMessage", chat_id=LOUNGE))[-1]
    (revoked,) = api.sent("revokeChatInviteLink")
    assert revoked.params["invite_link"] == link and revoked.params["chat_id"] == LOUNGE
    assert "join link no longer works" in said.text
    assert [entry["is_revoked"] for entry in api.invite_links] == [True]


async def test_a_refused_removal_reaches_the_owner_and_gates(api, bot, db, programme):
    owner = await the_owner(db, programme)
    api.rights_checked = True
    api.admin(LOUNGE, rights={"can_restrict_members": False})  # "Ban users" taken away
    await open_gate(db, programme)  # grace 0
    await enrol(db, programme, SILVIA, "silver")
    api.chat_member(SILVIA, LOUNGE, "left", "member")  # added by a friend
    await api.wait_for(lambda calls: any(c.method == "banChatMember" and c.status == 400
                                         for c in calls))
    await eventually(lambda: _told(db, owner))  # queued for the notice sender
    assert SILVIA in api.members[LOUNGE] and await _status(db, SILVIA, "lapsed")

    api.message(OWNER, "/gates")
    (listing,) = await api.wait_for(1, method="sendMessage", chat_id=OWNER)
    assert "lapsed: 1 · grace over: 0" in listing.text
    assert "1 removal refused: I lack the “Ban Users” right there." in listing.text
    assert await _told(db, owner) == ["community.removal_refused.rights"]  # once


async def _told(db, member_id: int) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == member_id, Notice.key.like("community.removal_refused%"))))


async def test_gate_in_a_group_answers_in_the_groups_language(api, bot, db, programme):
    await the_owner(db, programme)  # speaks English; the programme speaks Chinese
    api.admin(LOUNGE)
    api.message(OWNER, "/gate gold 1h", chat_id=LOUNGE, chat_type="supergroup")
    (said,) = await api.wait_for(1, method="sendMessage", chat_id=LOUNGE)
    assert "现在只对黄金会员及以上会员开放" in said.text
    await group_language(db, "en")
    api.message(OWNER, "/gate lapse warn", chat_id=LOUNGE, chat_type="supergroup")
    said = (await api.wait_for(2, method="sendMessage", chat_id=LOUNGE))[-1]
    assert said.text.endswith("who no longer qualifies is warned only.")


async def test_a_member_added_back_after_removal_is_removed_again_at_once(
        api, bot, db, programme):
    await open_gate(db, programme)  # grace 0
    mid = await enrol(db, programme, SILVIA, "silver")
    api.chat_member(SILVIA, LOUNGE, "left", "member")
    await api.wait_for(1, method="unbanChatMember")
    await eventually(lambda: _status(db, SILVIA, "removed"))
    api.chat_member(SILVIA, LOUNGE, "left", "member")  # added back by a friend
    await api.wait_for(2, method="unbanChatMember")
    await eventually(lambda: _status(db, SILVIA, "removed"))
    async with db.uow() as uow:
        warned = list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == mid, Notice.key.like("community.lapse%"))))
    assert warned == ["community.lapse_now"]  # one lapse, one warning
