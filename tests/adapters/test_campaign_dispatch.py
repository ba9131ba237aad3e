"""The dispatcher with scripted pushers: which platform a member is sent the campaign on,
and pause, cancel and stop taking effect at once, with what was claimed but never handed
to a platform released, sent after a resume, once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.campaign_dispatch import Dispatcher
from domain.campaigns import campaigns, deliveries
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.rewards.tables import Coupon
from tests.support import crowd
from tests.support.crowd import Person


class Platform:
    """A pusher that records what it is handed and answers `outcome`; while `held`,
    every send waits (as a Sender's queue would) until it is let go."""

    def __init__(self, outcome: str = "sent") -> None:
        self.outcome = outcome
        self.handed: list[str] = []
        self.held = False
        self._go = asyncio.Event()
        self.waiting = 0

    async def push(self, external_id: str, message) -> str:
        self.handed.append(external_id)
        if self.held:
            self.waiting += 1
            await self._go.wait()
            self.waiting -= 1
        return self.outcome

    def hold(self) -> None:
        self.held, self._go = True, asyncio.Event()

    def let_go(self) -> None:
        self.held = False
        self._go.set()


async def make(db, programme, draft: Draft, key: str = "d") -> int:
    now = datetime.now(UTC)
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(1, "console", "boss", "en"),
                                      draft, key, now)
        await uow.commit()
    return made.campaign.id


async def statuses(db, campaign_id: int) -> Counter:
    async with db.uow() as uow:
        return Counter(dict((await uow.session.execute(
            select(Delivery.status, func.count()).where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status))).all()))


async def status_of(db, campaign_id: int) -> str:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


async def control(db, action: str, campaign_id: int) -> None:
    async with db.uow() as uow:
        await campaigns.control(uow, 1, action, campaign_id, datetime.now(UTC))
        await uow.commit()


async def until(check, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - a test deadline
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - it polls
            await asyncio.sleep(0.01)


async def people(db) -> dict[str, list[int]]:
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    both = await crowd.add(db, [Person(accounts=(("telegram", f"t{i}"), ("wechat", f"o{i}")))
                                for i in range(3)], now, first_id=2)
    telegram = await crowd.add(db, [Person(accounts=(("telegram", f"t{i}"),))
                                    for i in range(10, 12)], now, first_id=10)
    return {"both": both, "telegram": telegram}


async def test_a_segment_of_one_platform_is_sent_on_that_platform(db, programme):
    await people(db)
    telegram, wechat = Platform(), Platform()
    await make(db, programme, Draft(Segment(platforms=("wechat",)), ("WeChat only",)))
    dispatcher = Dispatcher(db, programme, {"telegram": telegram.push, "wechat": wechat.push},
                            every=0.01)
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    # Telegram comes first in preference, yet the segment says WeChat.
    assert sorted(wechat.handed) == ["o0", "o1", "o2"] and telegram.handed == []


async def test_a_closed_window_falls_through_to_the_next_platform(db, programme):
    groups = await people(db)
    wechat, telegram = Platform("deferred"), Platform()
    c = await make(db, programme, Draft(Segment(), ("Everyone",)))
    dispatcher = Dispatcher(db, programme, {"wechat": wechat.push, "telegram": telegram.push},
                            every=0.01)
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    assert sorted(wechat.handed) == ["o0", "o1", "o2"]  # WeChat first, its window closed
    assert sorted(telegram.handed) == ["t0", "t1", "t10", "t11", "t2"]
    assert await statuses(db, c) == {"sent": len(groups["both"]) + len(groups["telegram"])}
    async with db.uow() as uow:
        platforms = Counter(await uow.session.scalars(select(Delivery.platform)))
    assert platforms == {"telegram": 5}


async def sending(db, programme, recipients: int, in_hand: int, draft: Draft, *,
                  until_idle: bool = True):
    """A campaign being sent to `recipients` through a slow platform, which holds the
    `in_hand` sends it was given: (campaign id, platform, dispatcher, its task)."""
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.plain(db, recipients, now, first_id=2)
    telegram = Platform()
    telegram.hold()
    c = await make(db, programme, draft)
    dispatcher = Dispatcher(db, programme, {"telegram": telegram.push}, every=0.01,
                            per_platform=in_hand)
    task = asyncio.create_task(dispatcher.run_until_idle() if until_idle else dispatcher.run())

    async def in_its_hands() -> bool:
        return telegram.waiting == in_hand

    await until(in_its_hands)
    return c, telegram, dispatcher, task


async def pending(db, campaign_id: int, count: int) -> None:
    async def there() -> bool:
        return (await statuses(db, campaign_id))["pending"] == count
    await until(there)


async def test_a_pause_stops_what_the_platform_was_not_handed_and_a_resume_sends_it(
        db, programme):
    c, telegram, dispatcher, running = await sending(db, programme, 30, 2,
                                                     Draft(Segment(), ("Spring tea",)))
    await control(db, "pause", c)
    await pending(db, c, 28)  # the 28 claimed but never handed over are pending again
    telegram.let_go()
    await asyncio.wait_for(running, 30)  # paused: nothing is left to do
    assert len(telegram.handed) == 2
    assert await statuses(db, c) == {"sent": 2, "pending": 28}
    assert await status_of(db, c) == "paused"
    await control(db, "resume", c)
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    handed = Counter(telegram.handed)
    assert len(handed) == 30 and set(handed.values()) == {1}
    assert await statuses(db, c) == {"sent": 30} and await status_of(db, c) == "done"


async def test_a_cancel_sends_nothing_more_and_withdraws_the_unsent_coupons(db, programme):
    c, telegram, dispatcher, running = await sending(
        db, programme, 12, 3, Draft(Segment(), ("Tea for you",), coupon="free_pot"))
    async with db.uow() as uow:  # every claimed member has a coupon, their code in the text
        assert await uow.session.scalar(select(func.count()).select_from(Coupon)) == 12
    await control(db, "cancel", c)
    await pending(db, c, 9)
    telegram.let_go()
    await asyncio.wait_for(running, 30)
    assert len(telegram.handed) == 3
    assert await statuses(db, c) == {"sent": 3, "pending": 9}
    async with db.uow() as uow:
        kept = set(await uow.session.scalars(select(Coupon.id)))
        sent_with = set(await uow.session.scalars(
            select(Delivery.coupon_id).where(Delivery.status == "sent")))
        pending_with = list(await uow.session.scalars(
            select(Delivery.coupon_id).where(Delivery.status == "pending")))
    assert kept == sent_with and len(kept) == 3 and pending_with == [None] * 9
    # The next pass finds nothing to do for a cancelled campaign.
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    assert len(telegram.handed) == 3


async def test_stopping_releases_what_was_never_handed_over(db, programme):
    c, telegram, _, running = await sending(db, programme, 10, 1,
                                            Draft(Segment(), ("Hello",)), until_idle=False)
    running.cancel()  # the process stops
    with contextlib.suppress(asyncio.CancelledError):
        await running
    # The one in the platform's hands may or may not have gone: it keeps its lease.
    # The other nine were never handed over: claimable again at once, by anyone.
    assert await statuses(db, c) == {"sending": 1, "pending": 9}
    assert len(telegram.handed) == 1


async def test_a_campaign_that_finishes_while_its_progress_is_drawn_still_shows_the_end(
        db, programme):
    """The progress turn is taken for the status the drawer read: when the campaign
    finished in between, the turn is left, and the next look shows it finished (the
    final edit was once lost this way, and the operator saw "Finishing…" for good)."""
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.plain(db, 1, now, first_id=2)
    c = await make(db, programme, Draft(Segment(), ("hello",)))
    now = datetime.now(UTC)  # its send time has come
    await campaigns.start_due(db, programme, now)
    async with db.uow() as uow:
        await deliveries.shown(uow, c, "42")  # the operator's progress message
        (seen,) = await deliveries.running(uow)  # read while running
        assert seen.status == "running"
        await uow.session.execute(update(Delivery).values(status="sent"))  # its last send
        assert await deliveries.complete(uow, c, now)
        await uow.commit()
    async with db.uow() as uow:
        assert not await deliveries.progress_turn(uow, c, now, timedelta(seconds=3),
                                                  seen.status)
        await uow.commit()
    async with db.uow() as uow:
        (again,) = await deliveries.running(uow)  # still behind: it is looked at again
        assert again.status == "done"
        assert await deliveries.progress_turn(uow, c, now, timedelta(seconds=3), again.status)
