"""A survey sent to a segment: the /campaign flow started by /survey send CODE, with
the campaign's own deliveries, holdout and dispatcher. A survey is a service message:
members without marketing consent get it, those who turned surveys off or answered it
do not, holdout members never do, and nobody is invited in their quiet hours."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from bot.campaign_dispatch import Dispatcher
from domain.campaigns import campaigns
from domain.campaigns.tables import Campaign, Delivery
from domain.feedback import surveys
from domain.feedback.tables import Survey, SurveyOptOut, SurveyResponse
from domain.members.tables import Member
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.support import crowd
from tests.support.crowd import Person
from tests.support.transcript import Clock, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 22:00 in New York
CROWD = 60  # members 2..61, every other one without marketing consent
OPTED_OUT, ANSWERED, ABROAD = 62, 63, 64


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


class Telegram:
    """A pusher that keeps what each account was sent."""

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    async def push(self, external_id: str, message) -> str:
        self.sent[external_id] = message.text
        return "sent"


def account(member_id: int) -> str:
    return str(50_000 + member_id)  # crowd's Telegram account of a member


async def members_and_survey(db, programme) -> None:
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    people = [Person(consent=i % 2 == 0, locale="zh_Hans" if i % 3 == 0 else "en")
              for i in range(CROWD)]
    people += [Person(), Person(), Person()]
    await crowd.add(db, people, T0, first_id=2)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == ABROAD)
                                  .values(timezone="America/New_York"))
        nps = await surveys.by_code(uow, "nps")
        uow.session.add(SurveyOptOut(member_id=OPTED_OUT, at=T0))
        uow.session.add(SurveyResponse(survey_id=nps.id, member_id=ANSWERED, occasion="x",
                                       via="staff", status="completed", sent_at=T0,
                                       updated_at=T0, completed_at=T0))
        await uow.commit()


async def confirm_survey_campaign(olga, holdout: int = 20) -> str:
    await olga.press("cnew:next")
    await olga.press(f"cnew:holdout:{holdout}")
    await olga.press("cnew:when:now")
    return await olga.press("cnew:ok")


async def dispatch(db, programme, clock, telegram: Telegram) -> None:
    dispatcher = Dispatcher(db, programme, {"telegram": telegram.push}, clock=clock, every=0.01)
    await asyncio.wait_for(dispatcher.run_until_idle(until_waiting=True), 30)


async def test_a_survey_reaches_a_segment_without_marketing_consent_but_never_the_holdout(
        db, programme, clock):
    olga = await owner(db, programme, clock)
    await members_and_survey(db, programme)
    out = await olga.say("/survey send nps")
    # 60 of the crowd (consent or not) and the member abroad; not the one who turned
    # surveys off, nor the one who answered it already, nor the owner (console only).
    assert out.startswith("Survey “nps” to a segment, step 1 of 3 — who gets it:")
    assert "This reaches 61 members" in out and "marketing consent is not needed" in out
    out = await olga.press("cnew:next")
    assert out.startswith("Step 2 of 3 — keep a holdout group?")
    await olga.press("cnew:holdout:20")
    out = await olga.press("cnew:when:now")
    assert "Message (80%): the invitation to the survey “How likely are you to recommend " \
        "us?”" in out
    assert "📋 We would love your opinion: How likely are you to recommend us?" in out
    out = await olga.press("cnew:ok")
    assert out.startswith("The survey “nps” goes out now") and "campaign #1" in out

    telegram = Telegram()
    await dispatch(db, programme, clock, telegram)
    async with db.uow() as uow:
        campaign = await uow.session.scalar(select(Campaign))
        campaign_id, survey_id, status = campaign.id, campaign.survey_id, campaign.status
        rows = {d.member_id: d.status for d in await uow.session.scalars(select(Delivery))}
        asked = dict((await uow.session.execute(
            select(SurveyResponse.member_id, SurveyResponse.occasion)
            .where(SurveyResponse.via == "campaign"))).all())
    assert survey_id is not None
    held = {m for m, d in rows.items() if d == "holdout"}
    sent = {m for m, d in rows.items() if d == "sent"}
    waiting = {m for m, d in rows.items() if d == "sending"}
    assert held and sent and OPTED_OUT not in rows and ANSWERED not in rows
    # 22:00 in New York: the member abroad waits for their morning (or is held out).
    assert waiting == ({ABROAD} - held) and held | sent | waiting == set(rows)
    assert status == ("running" if waiting else "done")
    assert {account(m) for m in sent} == set(telegram.sent)
    assert not {account(m) for m in held} & set(telegram.sent)
    # Marketing consent plays no part: members without it are sent the survey too.
    assert {m for m in sent if (m - 2) % 2 == 1}
    assert asked == {m: f"campaign:{campaign_id}" for m in sent}  # none for the holdout
    english = next(m for m in sent if (m - 2) % 3 != 0)
    chinese = next(m for m in sent if (m - 2) % 3 == 0)
    assert telegram.sent[account(english)].startswith(
        "📋 We would love your opinion: How likely are you to recommend us?")
    assert telegram.sent[account(chinese)].startswith("📋 诚邀您参与调查：")

    # The member answers with /survey, as the invitation says: the campaign's response.
    engine = build_engine(db, programme, clock=clock)
    answer = await engine.handle(Inbound(platform="telegram", user_id=account(english),
                                         chat_id=account(english), text="/survey",
                                         locale="en"))
    shown = [r.text for r in answer.rendered()]
    assert shown[0].startswith("📋 How likely are you to recommend us?")
    assert shown[1].startswith("Question 1 of 2\nHow likely are you to recommend our tea")


async def test_a_member_who_turns_surveys_off_after_the_start_is_skipped(db, programme, clock):
    olga = await owner(db, programme, clock)
    await members_and_survey(db, programme)
    await olga.say("/survey send nps")
    await confirm_survey_campaign(olga, holdout=0)
    await campaigns.start_due(db, programme, clock.now)  # every delivery written
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Delivery.status).where(
            Delivery.member_id == 2)) == "pending"
        uow.session.add(SurveyOptOut(member_id=2, at=T0))
        await uow.commit()
    telegram = Telegram()
    await dispatch(db, programme, clock, telegram)
    async with db.uow() as uow:
        status = await uow.session.scalar(select(Delivery.status).where(
            Delivery.member_id == 2))
    assert status == "skipped" and account(2) not in telegram.sent
    assert account(3) in telegram.sent
    # 22:00 in New York: the member abroad waits for their morning, then gets it.
    assert account(ABROAD) not in telegram.sent
    clock.advance(hours=11)
    await dispatch(db, programme, clock, telegram)
    assert account(ABROAD) in telegram.sent
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Campaign.status)) == "done"
        assert await uow.session.scalar(select(Delivery.status).where(
            Delivery.member_id == ABROAD)) == "sent"


async def test_the_flow_in_chinese_and_its_refusals(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await members_and_survey(db, programme)
    out = await olga.say("/survey send nps")
    assert out.startswith("按人群发送问卷“nps”，第 1 步（共 3 步）")
    assert "共覆盖 61 位会员" in out
    await olga.press("cnew:next")
    await olga.press("cnew:holdout:0")
    assert (await olga.press("cnew:when:later")).startswith("请")  # a time, typed
    out = await olga.say("/survey send nosuch")
    assert "nosuch" in out and "/survey list" in out
    async with db.uow() as uow:
        await uow.session.execute(update(Survey).where(Survey.code == "nps").values(closed=True))
        await uow.commit()
    out = await olga.say("/survey send nps")
    assert out == "该问卷已截止，无法发送。"
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Campaign)) == 0


async def test_staff_below_operator_may_follow_up_one_member_but_not_send_to_a_segment(
        db, programme, clock):
    olga = await owner(db, programme, clock)
    await members_and_survey(db, programme)
    from tests.support.transcript import member
    sam = member(db, programme, clock, user="sam")
    await sam.say("/start")
    await olga.say("/grant staff 00000065")
    out = await sam.say("/survey send nps")
    assert "operator" in out.lower()
    out = await sam.say("/survey send nps 00000002")
    assert out == "Survey nps sent to member 00000002. They answer with /survey."


async def test_closing_the_survey_calls_off_its_campaign_and_waiting_invitations(
        db, programme, clock):
    """What was queued before /survey close never goes out: the campaign still sending
    it is cancelled, a staff follow-up's invitation not yet sent is withdrawn and not
    counted as sent; one already out is left alone."""
    from domain.feedback import results
    from domain.notices.tables import Notice

    olga = await owner(db, programme, clock)
    await members_and_survey(db, programme)
    await olga.say("/survey send nps")
    await confirm_survey_campaign(olga, holdout=0)
    await campaigns.start_due(db, programme, clock.now)  # deliveries written, none sent
    assert "sent" in await olga.say("/survey send nps 2")  # a follow-up, queued
    async with db.uow() as uow:
        out_already = (await uow.session.scalars(select(Notice))).one()
        out_already.status = "sent"  # the notifier took this one: it cannot be called back
        await uow.commit()
    await olga.say("/survey send nps 3")
    out = await olga.say("/survey close nps")
    assert "Called off with it: its campaigns not yet finished (scheduled or sending): " \
        "1; invitations not yet sent: 1." in out
    telegram = Telegram()
    await dispatch(db, programme, clock, telegram)
    assert telegram.sent == {}
    async with db.uow() as uow:
        assert await uow.session.scalar(select(Campaign.status)) == "cancelled"
        notices = dict((await uow.session.execute(
            select(Notice.member_id, Notice.status))).all())
        assert notices == {2: "sent", 3: "withdrawn"}
        statuses = dict((await uow.session.execute(
            select(SurveyResponse.member_id, SurveyResponse.status)
            .where(SurveyResponse.via != "campaign", SurveyResponse.member_id != ANSWERED)))
            .all())
        assert statuses == {2: "sent", 3: "withdrawn"}
        nps = await surveys.by_code(uow, "nps")
        funnel = (await results.of(uow, nps)).funnel
    assert funnel.sent == 2  # the one answered earlier and the follow-up that went out
    assert "closed already" in await olga.say("/survey close nps")
