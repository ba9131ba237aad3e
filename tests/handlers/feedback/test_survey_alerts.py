"""A low score alerts staff: NPS 0-6 or a rating of 1-2 in a completed survey tells
the staff who answer members (here, without a staff chat, as a notice each) the
member's number and every answer, once; a good score tells nobody."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.feedback import surveys
from domain.feedback.tables import SurveyResponse
from domain.members.tables import Member
from domain.notices.tables import Notice
from handlers.notices.notices import render_notice
from tests.support.transcript import Clock, member, owner
from tests.support.transcript import Member as Chat

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def olga(db, programme, clock) -> Chat:
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    return await owner(db, programme, clock)


async def alerts_for(db, member_id: int) -> list[tuple[str, dict]]:
    async with db.uow() as uow:
        return [(n.key, n.params) for n in await uow.session.scalars(select(Notice).where(
            Notice.member_id == member_id, Notice.key == "survey.low_score"))]


async def answer_nps(db, programme, clock, olga: Chat, user: str, score: int,
                     why: str | None, locale: str = "en") -> None:
    """A new member is sent the NPS survey by staff and answers it; then taps again."""
    someone = member(db, programme, clock, user=user, locale=locale)
    await someone.say("/start")
    async with db.uow() as uow:
        number = await uow.session.scalar(select(func.max(Member.id)))
    await olga.say(f"/survey send nps {number}")
    async with db.uow() as uow:
        rid = await uow.session.scalar(select(SurveyResponse.id).where(
            SurveyResponse.member_id == number))
    await someone.say("/survey")
    await someone.press(f"sv:{rid}:score:{score}")
    if why is None:
        await someone.press(f"svs:{rid}:why")
    else:
        await someone.say(why)
    # A second tap on the finished survey changes nothing, and alerts nobody again.
    await someone.press(f"svs:{rid}:why")


async def test_a_detractor_alerts_staff_once_with_the_answers(db, programme, clock, olga):
    await answer_nps(db, programme, clock, olga, "dan", 3, "Cold tea =cmd")
    (alert,) = await alerts_for(db, 1)
    text = render_notice(*alert, "en", programme).text
    assert text == ("⚠️ A low score from member 00000002 in “How likely are you to "
                    "recommend us?”:\n1. How likely are you to recommend our tea house to a "
                    "friend? (0 = not at all, 10 …\n   3/10\n"
                    "2. What is the main reason for your score?\n   Cold tea =cmd")
    chinese = render_notice(*alert, "zh_Hans", programme).text
    assert chinese.startswith("⚠️ 会员 00000002 在“您有多大可能向朋友推荐我们？”中给出了低分：")


async def test_a_promoter_alerts_nobody_and_a_six_does(db, programme, clock, olga):
    await answer_nps(db, programme, clock, olga, "pat", 9, None)
    assert await alerts_for(db, 1) == []
    await answer_nps(db, programme, clock, olga, "sue", 6, None, locale="zh_Hans")
    (alert,) = await alerts_for(db, 1)
    assert render_notice(*alert, "en", programme).text.endswith(
        "   6/10\n2. What is the main reason for your score?\n   -")
