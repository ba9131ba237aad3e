"""Notices are queued once per key, rendered in the member's language, sent on the
platform that reaches the member, retried with backoff, and wait when deferred."""

from __future__ import annotations

from datetime import timedelta

from bot.notifier import Notifier
from domain.members import members
from domain.notices import notices
from tests.support.transcript import Clock


async def a_member(db, programme, now, *accounts, locale=None):
    async with db.uow() as uow:
        reg = await members.register(uow, programme, *accounts[0], now)
        reg.member.locale = locale
        for platform, external in accounts[1:]:
            from domain.members.tables import Identity
            uow.session.add(Identity(member_id=reg.member.id, platform=platform,
                                     external_id=external, linked_at=now))
        await uow.commit()
        return reg.member.id


async def queue(db, member_id, key, now, **params):
    async with db.uow() as uow:
        fresh = await notices.queue(uow, member_id, "tier.upgraded", params, key, now)
        await uow.commit()
        return fresh


class Platform:
    """A pusher that records what it was given and answers as told."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.got: list[tuple[str, str]] = []

    async def __call__(self, external_id, message):
        self.got.append((external_id, message.text))
        return self.answers.pop(0) if self.answers else "sent"


async def test_one_key_queues_once_and_is_sent_once_in_the_members_language(
        db, programme, now):
    mid = await a_member(db, programme, now, ("telegram", "42"), locale="zh_Hans")
    assert await queue(db, mid, "k1", now, tier={"$tier": "gold"})
    assert not await queue(db, mid, "k1", now, tier={"$tier": "gold"})
    telegram = Platform()
    notifier = Notifier(db, programme, {"telegram": telegram}, clock=Clock(now))
    assert await notifier.run_once() == 1
    assert await notifier.run_once() == 0
    assert len(telegram.got) == 1 and telegram.got[0][0] == "42"
    assert "黄金会员" in telegram.got[0][1]
    async with db.uow() as uow:
        (sent,) = await notices.of_member(uow, mid)
        assert sent.status == "sent" and sent.platform == "telegram"


async def test_unreachable_on_one_platform_tries_the_next_and_retries_back_off(
        db, programme, now):
    mid = await a_member(db, programme, now, ("telegram", "42"), ("wechat", "oX"))
    await queue(db, mid, "k1", now, tier={"$tier": "silver"})
    clock = Clock(now)
    telegram, wechat = Platform("unreachable", "unreachable"), Platform("retry", "sent")
    notifier = Notifier(db, programme, {"telegram": telegram, "wechat": wechat}, clock=clock)
    await notifier.run_once()
    assert [g[0] for g in wechat.got] == ["oX"]
    assert await notifier.run_once() == 0  # backing off
    clock.advance(seconds=61)
    await notifier.run_once()
    async with db.uow() as uow:
        (notice,) = await notices.of_member(uow, mid)
        assert notice.status == "sent" and notice.platform == "wechat" and notice.attempts == 2


async def test_a_deferred_notice_waits_until_the_member_writes(db, programme, now):
    mid = await a_member(db, programme, now, ("wechat", "oX"))
    await queue(db, mid, "k1", now, tier={"$tier": "silver"})
    clock = Clock(now)
    wechat = Platform("deferred")
    notifier = Notifier(db, programme, {"wechat": wechat}, clock=clock)
    await notifier.run_once()
    clock.advance(days=3)
    assert await notifier.run_once() == 0
    async with db.uow() as uow:
        assert await notices.wake(uow, mid, clock()) == 1
        await uow.commit()
    await notifier.run_once()
    assert len(wechat.got) == 2
    async with db.uow() as uow:
        (notice,) = await notices.of_member(uow, mid)
        assert notice.status == "sent"


async def test_a_sender_that_died_gives_its_notices_back_after_the_lease(db, programme, now):
    mid = await a_member(db, programme, now, ("telegram", "42"))
    await queue(db, mid, "k1", now, tier={"$tier": "gold"})
    async with db.uow() as uow:
        assert len(await notices.claim(uow, now)) == 1
        await uow.commit()  # and then the process died
    clock = Clock(now)
    telegram = Platform()
    notifier = Notifier(db, programme, {"telegram": telegram}, clock=clock)
    assert await notifier.run_once() == 0
    clock.advance(minutes=2, seconds=1)
    assert await notifier.run_once() == 1 and len(telegram.got) == 1
    assert timedelta(minutes=2) == notices.LEASE
