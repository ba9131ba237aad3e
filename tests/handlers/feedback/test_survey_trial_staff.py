"""The survey trial's staff findings, in the console in both languages: /help lists the
/survey verbs and the support commands by role; counts read "1 question", "2
questions"; a survey sent to a member who has it waiting says so (and whether they were
reminded) instead of "sent"; a survey sent to a segment speaks of the survey, not of a
marketing message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from domain.feedback import building, responses, surveys
from domain.feedback.tables import SurveyResponse
from domain.notices.tables import Notice
from domain.staff import roles
from domain.staff.roles import PERMISSIONS, ROLES
from domain.staff.tables import AuditEntry
from handlers.engine import i18n
from handlers.engine.types import Text
from handlers.feedback import survey_staff
from handlers.notices.notices import render_notice
from handlers.routers import build_router
from tests.support import crowd
from tests.support.crowd import Person
from tests.support.lifecycle_helpers import a_member
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the programme's zone
SURVEY_STAFF = ["/survey list", "/survey send", "/survey results", "/survey chart",
                "/survey export"]
SURVEY_OPERATORS = ["/survey send", "/survey new", "/survey close"]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def staffed(db, programme, clock, role: str | None, locale: str = "en"):
    """The owner (member 1) and member 2 holding `role` (None: a plain member)."""
    boss = await owner(db, programme, clock, user="boss", locale=locale)
    sam = member(db, programme, clock, user="sam", locale=locale)
    await sam.say("/start")
    if role is not None:
        async with db.uow() as uow:
            await roles.grant(uow, 1, role, 2, clock.now)
            await uow.commit()
    return boss, sam


def group(text: str, heading: str) -> list[str]:
    """The lines under `heading` in /help, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def typed(lines: list[str]) -> list[str]:
    """What each line says to type: the command, and the verb of /survey."""
    heads = [line.split(" — ")[0].split() for line in lines]
    return [" ".join(head[:2] if head[0] == "/survey" else head[:1]) for head in heads]


# ------------------------------------------------------------------ 1. /help

async def test_staff_help_lists_the_survey_verbs_and_support_commands(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "staff")
    out = await sam.say("/help")
    staff = group(out, "Staff:")
    assert typed(staff) == ["/verify", "/tickets", "/reply", "/close", *SURVEY_STAFF]
    assert "/survey send CODE NUMBER — send a survey to one member (a follow-up)" in staff
    assert "/survey chart CODE [N] — a survey's results as charts" in staff
    assert "/survey new" not in out and "Operators:" not in out
    assert "/survey — answer the survey waiting for you" in out  # theirs as a member too


async def test_operators_see_the_builder_and_the_segment_send(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "operator")
    out = await sam.say("/help")
    assert typed(group(out, "Staff:"))[-5:] == SURVEY_STAFF
    operators = group(out, "Operators:")
    assert [t for t in typed(operators) if t.startswith("/survey")] == SURVEY_OPERATORS
    assert "/setsupport" in typed(operators)
    assert "/survey send CODE — send a survey to a segment of members" in operators
    assert "/survey new — build a survey step by step" in operators
    assert "/survey close CODE — close a survey" in operators


@pytest.mark.parametrize("role", [None, "moderator"])
async def test_members_and_moderators_see_no_survey_verbs(db, programme, clock, role):
    _, sam = await staffed(db, programme, clock, role)
    out = await sam.say("/help")
    assert "/survey — answer the survey waiting for you" in out
    assert "/survey list" not in out and "/survey send" not in out and "/tickets" not in out


async def test_staff_help_in_chinese(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "operator", locale="zh_Hans")
    out = await sam.say("/help")
    staff = group(out, "店员：")
    assert "/survey send 问卷代码 会员号 — 向单个会员发送问卷（回访）" in staff
    assert "/survey export 问卷代码 — 将问卷的全部回答导出为 CSV 文件" in staff
    assert "/survey new — 分步新建问卷" in group(out, "运营：")


def test_each_survey_line_names_the_least_role_its_step_checks():
    """The role a /help line is listed under is exactly the lowest role the
    permission of its step allows; and each line's words exist in both languages."""
    router = build_router()
    lines = {key: role for key, _, role in router.staff_lines}
    for key, _, permission in survey_staff.HELP:
        allowed = {r for r in ROLES if ROLES.index(r) <= ROLES.index(lines[key])}
        assert allowed == PERMISSIONS[permission], key
        for locale in i18n.LOCALES:
            assert i18n.has(key, locale), (key, locale)
    assert lines["command.survey.list"] == "staff" and lines["command.survey.new"] == "operator"
    assert lines["command.survey.send_segment"] == "operator"
    with pytest.raises(ValueError, match="wizard"):
        router.staff_line("command.survey.list", "/survey list", "wizard")


# ------------------------------------------------------------------ 2. plurals

def test_counts_read_as_english_counts_and_chinese_has_one_form():
    def say(key: str, locale: str, **params) -> str:
        return i18n.translate(Text(key, {"code": "x", "title": "T", "sent": 0,
                                         "completed": 0, "closed": "", **params}), locale)

    assert ": 1 question," in say("survey.list_line", "en", count=1)
    assert ": 2 questions," in say("survey.list_line", "en", count=2)
    assert "：1 题，" in say("survey.list_line", "zh_Hans", count=1)
    results = {"number": 1, "text": "Q", "skipped": "", "latest": "", "average": "5.0",
               "shares": "", "nps": "+100", "tiers": "", "choices": ""}
    for key in ("survey.results_text", "survey.results_rating", "survey.results_nps",
                "survey.results_choices"):
        assert "1 answer" in say(key, "en", count=1, **results)
        assert "1 answers" not in say(key, "en", count=1, **results)
        assert "3 answers" in say(key, "en", count=3, **results)
        assert "1 条回答" in say(key, "zh_Hans", count=1, **results)


async def test_survey_list_and_results_say_one_answer_and_one_question(db, programme, clock,
                                                                      kept):
    olga = await owner(db, programme, clock)
    out = await olga.say("/survey list")
    assert "• support — How did we do?: 1 question, sent 0" in out
    assert "• nps — How likely are you to recommend us?: 2 questions," in out
    member_id = await a_member(db, programme, T0, "una")
    async with db.uow() as uow:
        nps = await surveys.by_code(uow, "nps")
        sent = await responses.send(uow, programme, nps, member_id, "staff", T0)
        await responses.answer(uow, programme, sent.response.id, member_id, "score", 9, T0)
        await responses.answer(uow, programme, sent.response.id, member_id, "why", "Tea", T0)
        await uow.commit()
    out = await olga.say("/survey results nps")
    assert "NPS +100 from 1 answer (average 9.0)" in out
    assert "1 answer; the latest:\n  “Tea”" in out
    assert "1 answers" not in out


# ------------------------------------------------------------------ 6. sent again

async def notices_of(db, member_id: int) -> list[tuple[str, str]]:
    async with db.uow() as uow:
        return [(n.key, n.status) for n in await uow.session.scalars(
            select(Notice).where(Notice.member_id == member_id).order_by(Notice.id))]


async def deliver_all(db, member_id: int) -> None:
    """As the sender does once a notice reached the member."""
    async with db.uow() as uow:
        await uow.session.execute(update(Notice).where(Notice.member_id == member_id)
                                  .values(status="sent"))
        await uow.commit()


async def test_sending_a_waiting_survey_again_says_so_and_reminds_once_a_day(
        db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")  # member 2
    assert await olga.say("/survey send nps 2") == \
        "Survey nps sent to member 00000002. They answer with /survey."
    # The invitation has not gone out yet: no reminder beside it.
    out = await olga.say("/survey send nps 2")
    assert out == ("Survey nps is already waiting for member 00000002 (sent Mar 10, 2026; "
                   "not started yet), so it was not sent again. Its invitation has not "
                   "reached them yet (it waits for their quiet hours to end, or for their "
                   "platform), so no reminder was sent.")
    assert await notices_of(db, 2) == [("survey.invite", "pending")]
    await deliver_all(db, 2)
    await alice.say("/survey")
    await alice.say("3")  # the score; the reason is still to come
    clock.advance(hours=5)
    out = await olga.say("/survey send nps 00000002")
    assert out == ("Survey nps was already waiting for member 00000002 (sent Mar 10, 2026; "
                   "1 of 2 questions answered), so it was not sent again: we reminded them "
                   "of it.")
    assert await notices_of(db, 2) == [("survey.invite", "sent"), ("survey.remind", "pending")]
    await deliver_all(db, 2)
    out = await olga.say("/survey send nps 2")
    assert "They were reminded of it today already: nothing more was sent" in out
    assert len(await notices_of(db, 2)) == 2
    clock.advance(days=1)  # another day in Shanghai: one more reminder
    assert "we reminded them of it" in await olga.say("/survey send nps 2")
    assert [k for k, _ in await notices_of(db, 2)] == [
        "survey.invite", "survey.remind", "survey.remind"]
    async with db.uow() as uow:
        reminder = await uow.session.scalar(select(Notice).where(Notice.key == "survey.remind"))
        key, params = reminder.key, reminder.params
        actions = list(await uow.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("survey.%")).order_by(AuditEntry.id)))
        count = await uow.session.scalar(select(func.count()).select_from(SurveyResponse))
    assert actions == ["survey.send", "survey.remind", "survey.remind"]
    assert count == 1  # still the one response
    shown = render_notice(key, params, "en", programme).text
    assert shown == ("📋 A reminder: “How likely are you to recommend us?” is still waiting "
                     "for your answers. Send /survey to carry on where you left off.")
    assert render_notice(key, params, "zh_Hans", programme).text \
        .startswith("📋 温馨提醒：问卷“您有多大可能向朋友推荐我们？”还在等您作答。")


async def test_already_waiting_in_chinese_and_a_closed_survey_withdraws_its_reminder(
        db, programme, clock, kept):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    bo = member(db, programme, clock, user="bo", locale="zh_Hans")
    await bo.say("/start")
    await olga.say("/survey send satisfaction 2")
    await deliver_all(db, 2)
    out = await olga.say("/survey send satisfaction 2")
    assert out.startswith("问卷 satisfaction 已在等待会员 00000002 作答（发送于 2026年3月10日；"
                          "尚未开始作答），因此没有重复发送：已提醒会员作答。")
    async with db.uow() as uow:
        await building.close(uow, "satisfaction", 1, clock.now)
        await uow.commit()
    assert await notices_of(db, 2) == [("survey.invite", "sent"), ("survey.remind", "withdrawn")]


# ------------------------------------------------------------------ 9. to a segment

async def test_a_survey_to_a_segment_speaks_of_the_survey(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    await crowd.add(db, [Person(consent=False) for _ in range(3)], T0, first_id=2)
    out = await olga.say("/survey send nps")
    assert out.startswith("Survey “nps” to a segment, step 1 of 3")
    out = await olga.press("cnew:next")
    assert out.startswith("Step 2 of 3 — keep a holdout group? They are not sent the survey")
    assert "campaign changed" not in out
    await olga.press("cnew:holdout:0")
    out = await olga.press("cnew:when:now")
    assert "Ready to send the survey “nps”:\nWho:\nEveryone\nMembers now: 3\n" in out
    assert "Offer:" not in out
    out = await olga.press("cnew:ok")
    assert out.startswith("The survey “nps” goes out now (")
    assert "as campaign #1" in out and "/survey results nps what the answers say" in out


async def test_a_survey_to_a_segment_in_chinese_and_scheduled(db, programme, clock, kept):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await crowd.add(db, [Person(locale="zh_Hans") for _ in range(2)], T0, first_id=2)
    await olga.say("/survey send nps")
    out = await olga.press("cnew:next")
    assert out.startswith("第 2 步（共 3 步）— 是否保留对照组？对照组的会员不会收到问卷")
    await olga.press("cnew:holdout:0")
    await olga.press("cnew:when:later")
    later = (T0 + timedelta(days=1)).astimezone(programme.zone).strftime("%Y-%m-%d %H:%M")
    out = await olga.say(later)
    assert "准备发送问卷“nps”：" in out and "优惠：" not in out
    out = await olga.press("cnew:ok")
    assert out.startswith(f"问卷“nps”已定于 {later} 发送，即活动 #1。")
    assert "营销" not in out
