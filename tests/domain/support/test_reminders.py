"""The support job: staff are reminded of a conversation left unanswered past the
configured time, once per wait; a reply that cannot reach a WeChat member (their
customer-service window is closed) waits for their next message and staff are told,
once. The WeChat side is the real pusher against the local fake WeChat API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from bot.notifier import Notifier
from bot.wechat.api import Api, fetcher
from bot.wechat.programme import WeChat
from bot.wechat.push import Pusher
from bot.wechat.store import service_window
from bot.wechat.tokens import DatabaseTokens
from domain.feedback import surveys
from domain.members import members
from domain.notices import notices
from domain.notices.tables import Notice
from domain.staff import roles
from domain.support import alerts, reminders, staff_chat
from domain.support import conversations as support
from domain.support.tables import SupportPost
from tests.support.fake_wechat import APP_ID, SECRET, FakeWeChat
from tests.support.lifecycle_helpers import a_member

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


async def keys_of(db, member_id: int) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == member_id).order_by(Notice.id)))


async def setup(db, programme, platform: str = "telegram") -> tuple[int, int, int]:
    """(the owner, a staff member, a member with an open conversation who wrote)."""
    boss = await a_member(db, programme, NOW, "boss")
    sam = await a_member(db, programme, NOW, "sam")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "telegram:boss", NOW)
        await roles.grant(uow, boss, "staff", sam, NOW)
        await surveys.keep_from_file(uow, programme, NOW)
        alice = (await members.register(uow, programme, platform, "oAlice", NOW)).member
        await support.open_(uow, programme, alice, NOW)
        await support.member_says(uow, programme, alice, "hello?", NOW)
        await uow.commit()
        return boss, sam, alice.id


async def test_an_unanswered_conversation_reminds_staff_once_per_wait(db, programme):
    boss, sam, alice = await setup(db, programme)
    after = timedelta(minutes=programme.support.remind_after_minutes)
    assert (await reminders.run(db, programme, NOW + after - timedelta(seconds=1)))[
        "reminded"] == 0
    assert (await reminders.run(db, programme, NOW + after))["reminded"] == 1
    assert (await reminders.run(db, programme, NOW + after * 3))["reminded"] == 0
    for staff in (boss, sam):
        assert await keys_of(db, staff) == ["support.staff.waiting", "support.staff.overdue"]
    async with db.uow() as uow:  # answered, then a new wait: a new reminder
        cid = (await support.current(uow, alice)).id
        await support.reply(uow, programme, boss, cid, "hi", NOW + after * 4)
        await support.member_says(uow, programme, await members.get(uow, alice), "?",
                                  NOW + after * 5)
        await uow.commit()
    assert (await reminders.run(db, programme, NOW + after * 6))["reminded"] == 1
    assert (await keys_of(db, sam)).count("support.staff.overdue") == 2


async def test_with_a_staff_chat_the_reminder_goes_to_the_members_topic(db, programme):
    boss, sam, alice = await setup(db, programme)
    async with db.uow() as uow:
        await staff_chat.set_chat(uow, boss, "telegram", "-100", NOW)
        await uow.commit()
    await reminders.run(db, programme, NOW + timedelta(hours=1))
    async with db.uow() as uow:
        posts = (await uow.session.execute(select(SupportPost.key, SupportPost.member_id)
                                           .order_by(SupportPost.id))).all()
    assert [tuple(p) for p in posts] == [("support.staff.overdue", alice)]
    assert "support.staff.overdue" not in await keys_of(db, sam)


async def test_a_reply_outside_the_wechat_window_waits_and_staff_are_told(db, programme):
    boss, sam, alice = await setup(db, programme, platform="wechat")
    async with db.uow() as uow:
        cid = (await support.current(uow, alice)).id
        await support.reply(uow, programme, sam, cid, "We open at 10.", NOW)
        await uow.commit()
    clock = lambda: NOW  # noqa: E731
    async with FakeWeChat() as fake, aiohttp.ClientSession() as session:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           clock), clock=clock)
        pusher = Pusher(db, Api(session, fake.url, tokens), WeChat(), "en", clock=clock)
        notifier = Notifier(db, programme, {"wechat": pusher.notify}, clock=clock)
        await notifier.run_once()  # no window: nothing sent, the reply waits
        assert fake.texts() == []
        assert (await reminders.run(db, programme, NOW))["replies_waiting"] == 1
        assert (await reminders.run(db, programme, NOW))["replies_waiting"] == 0
        assert (await keys_of(db, sam)).count("support.staff.reply_waiting") == 1
        async with db.uow() as uow:  # the member writes: the window opens, the reply goes
            await service_window.opened(uow, "wechat", "oAlice", NOW, 48, 5)
            await notices.wake(uow, alice, NOW)
            await uow.commit()
        await notifier.run_once()
        assert fake.texts() == [  # the programme's language: the member chose none
            "💬 客服回复（#1）：\nWe open at 10.\n\n如需继续沟通，请发送 /support。"]


async def test_alert_staff_goes_to_the_chat_when_set_else_to_support_staff_once(
        db, programme):
    boss, sam, alice = await setup(db, programme)
    mod = await a_member(db, programme, NOW, "mod")
    async with db.uow() as uow:
        await roles.grant(uow, boss, "moderator", mod, NOW)
        for _ in range(2):  # the same alert twice is given once
            await alerts.alert_staff(uow, programme, alice, "support.staff.overdue",
                                     {"conversation": 1, "member": "x", "minutes": 1}, NOW)
        await uow.commit()
    assert (await keys_of(db, sam)).count("support.staff.overdue") == 1
    assert (await keys_of(db, boss)).count("support.staff.overdue") == 1
    assert await keys_of(db, mod) == []  # a moderator does not answer members
    async with db.uow() as uow:
        await staff_chat.set_chat(uow, boss, "telegram", "-100", NOW)
        await alerts.alert_staff(uow, programme, alice, "survey.low", {"score": 2}, NOW)
        await uow.commit()
        posts = (await uow.session.execute(select(SupportPost.key, SupportPost.member_id))).all()
    assert [tuple(p) for p in posts] == [("survey.low", alice)]
