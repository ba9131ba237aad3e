"""Withdrawing consent from a campaign message: every offer says how (TD typed on any
platform; a Stop offers button where a pushed message carries buttons), and a member
who withdraws while the campaign runs gets nothing from its next batch on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot.campaign_dispatch import Dispatcher
from domain.campaigns import campaigns, deliveries
from domain.campaigns.campaigns import Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.members.tables import Member
from domain.privacy.tables import ConsentRecord
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.adapters.test_campaign_dispatch import make
from tests.support import crowd
from tests.support.crowd import Person


class Recorder:
    def __init__(self) -> None:
        self.handed: list[tuple[str, object]] = []

    async def push(self, external_id: str, message) -> str:
        self.handed.append((external_id, message))
        return "sent"


async def test_every_offer_says_how_to_stop_and_telegram_has_the_button(db, programme):
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.add(db, [Person(locale="en", accounts=(("telegram", "t1"),)),
                         Person(locale="zh_Hans", accounts=(("wechat", "o2"),))], now,
                    first_id=2)
    telegram, wechat = Recorder(), Recorder()
    await make(db, programme, Draft(Segment(), ("Tea week: come and taste.",)))
    dispatcher = Dispatcher(db, programme, {"telegram": telegram.push, "wechat": wechat.push},
                            every=0.01)
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    [(_, sent)] = telegram.handed
    assert sent.text == "Tea week: come and taste.\n\nReply TD to stop offers."
    assert sent.buttons == ((("Stop offers", "privacy:stop"),),)
    [(_, pushed)] = wechat.handed
    assert pushed.text == "Tea week: come and taste.\n\n回复 TD 退订"
    assert pushed.buttons == ()  # a typed number would not answer a pushed button


async def test_a_member_who_withdraws_mid_campaign_gets_nothing_from_the_next_batch(
        db, programme):
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    ids = await crowd.add(db, [Person(locale="en", accounts=(("telegram", f"t{i}"),
                                                             ("console", f"m{i}")))
                               for i in range(2, 5)], now, first_id=2)
    campaign_id = await make(db, programme, Draft(Segment(), ("Hello",)))
    now = datetime.now(UTC)  # make() created it "now" as it ran
    await campaigns.start_due(db, programme, now)  # its deliveries written
    async with db.uow() as uow:
        campaign = await uow.session.get(Campaign, campaign_id)
        first = await deliveries.claim(uow, programme, campaign, now, limit=1)
        await uow.commit()
    assert [w.member_id for w in first] == [ids[0]]
    engine = build_engine(db, programme, clock=lambda: now)
    for typed in ("TD", "退订"):  # the second changes nothing
        await engine.handle(Inbound(platform="console", user_id="m3", chat_id="m3",
                                    text=typed, locale="en"))
    answer = await engine.handle(Inbound(platform="console", user_id="m4", chat_id="m4",
                                         action="privacy:stop", locale="en"))
    assert [r.text for r in answer.rendered()] == [
        "Done: we will send you no more offers. Changed your mind? /privacy"]
    async with db.uow() as uow:
        campaign = await uow.session.get(Campaign, campaign_id)
        rest = await deliveries.claim(uow, programme, campaign, now)
        await uow.commit()
        status = dict((await uow.session.execute(
            select(Delivery.member_id, Delivery.status))).all())
        consent = dict((await uow.session.execute(
            select(Member.id, Member.marketing_consent))).all())
        kept = (await uow.session.execute(select(
            ConsentRecord.member_id, ConsentRecord.purpose, ConsentRecord.granted,
            ConsentRecord.channel))).all()
    assert rest == []
    assert status == {ids[0]: "sending", ids[1]: "skipped", ids[2]: "skipped"}
    assert not consent[ids[1]] and not consent[ids[2]] and consent[ids[0]]
    assert sorted(kept) == [(ids[1], "marketing", False, "console"),
                            (ids[2], "marketing", False, "console")]
