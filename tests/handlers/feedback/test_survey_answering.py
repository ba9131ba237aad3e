"""Surveys answered in chat (the console, as WeChat renders them: numbered answers),
in both languages: a staff follow-up sent to one member, every kind of question, a
show-if, changing an answer, coming back after /cancel, the reward paid once under a
double tap, and bad input that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from domain.feedback import building, responses, surveys
from domain.feedback.definitions import SurveyDef, clean_text, has_control
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.notices.tables import Notice
from domain.points.tables import LedgerEntry
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.support.lifecycle_helpers import a_member
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)




async def response_of(db, number: int, code: str) -> tuple[int, str, dict]:
    async with db.uow() as uow:
        survey = await surveys.by_code(uow, code)
        row = await uow.session.scalar(select(SurveyResponse).where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.member_id == number))
        answers = dict((await uow.session.execute(
            select(SurveyAnswer.question, SurveyAnswer.value)
            .where(SurveyAnswer.response_id == row.id))).all())
        return row.id, row.status, answers


async def survey_points(db, member_id: int) -> list[int]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(LedgerEntry.delta).where(
            LedgerEntry.member_id == member_id, LedgerEntry.reason == "survey_completed")))


async def test_a_follow_up_nps_answered_with_numbers_in_english(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")  # member 2
    out = await olga.say("/survey send nps ００００００02")  # full width as typed in Chinese
    assert out == "Survey nps sent to member 00000002. They answer with /survey."
    async with db.uow() as uow:
        invites = list(await uow.session.scalars(select(Notice.key).where(
            Notice.member_id == 2)))
    assert invites == ["survey.invite"]
    # Sent again: the same response, no second notice.
    await olga.say("/survey send nps 2")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Notice).where(
            Notice.key == "survey.invite")) == 1

    out = await alice.say("/survey")
    assert out.startswith("📋 How likely are you to recommend us?\nTwo quick questions.")
    assert "Question 1 of 2\nHow likely are you to recommend our tea house" in out
    # Scores show as what to type: "10" is a score of 10, not the tenth button.
    assert "[0]  [1]  [2]" in out and "[10]  [12] No more surveys" in out
    out = await alice.say("10")
    assert "Question 2 of 2\nWhat is the main reason for your score?" in out
    assert "at most 500 characters" in out and "Skip" in out and "Back" in out
    # Control characters (a terminal's colour codes) are refused, not half-dropped.
    out = await alice.say("\x1b[31mThe oolong\x1b[0m")
    assert out.startswith("Your answer holds control characters")
    assert "Question 2 of 2" in out and (await response_of(db, 2, "nps"))[2] == {"score": 10}
    out = await alice.say("The oolong is wonderful\u200b")  # a zero-width space dropped
    assert out.startswith("Thank you for your answers!")
    assert "+20 points have been added to your balance." in out
    rid, status, answers = await response_of(db, 2, "nps")
    assert status == "completed"
    assert answers == {"score": 10, "why": "The oolong is wonderful"}
    assert await survey_points(db, 2) == [20]
    # The statement names the survey that paid.
    assert "+20  Survey answered: How likely are you to recommend us?" in \
        await alice.say("/points")
    # Done: /survey finds nothing, and staff cannot send it again.
    assert await alice.say("/survey") == "No survey is waiting for you right now. Thank you!"
    assert await olga.say("/survey send nps 00000002") == \
        "Member 00000002 has answered that survey already."
    # A button of the finished survey, pressed again: nothing changes, nothing paid.
    out = await alice.press(f"sv:{rid}:score:3")
    assert out == "You have finished this survey already. Thank you!"
    assert (await response_of(db, 2, "nps"))[2]["score"] == 10
    assert await survey_points(db, 2) == [20]


async def test_satisfaction_in_chinese_with_show_if_ticks_and_a_changed_answer(
        db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    bo = member(db, programme, clock, user="bo", locale="zh_Hans")
    await bo.say("/start")
    await olga.say("/survey send satisfaction 00000002")
    out = await bo.say("/survey")
    # Three, whatever the rating: it shows either what they liked or what went wrong.
    assert "第 1 题，共 3 题\n总体而言，您的满意度如何？" in out
    rid, _, _ = await response_of(db, 2, "satisfaction")
    out = await bo.tap(f"sv:{rid}:overall:5")  # happy: what they liked is asked
    assert "第 2 题，共 3 题\n您喜欢哪些方面？可多选。" in out
    assert "☐ 茶品" in out and "完成" in out and "跳过" in out
    out = await bo.tap(f"svd:{rid}:liked")  # Done with nothing ticked
    assert out.startswith("请至少勾选一项。")
    out = await bo.tap(f"svt:{rid}:liked:tea")
    assert "☑ 茶品" in out and "☐ 服务" in out
    await bo.tap(f"svt:{rid}:liked:place")
    out = await bo.tap(f"svt:{rid}:liked:tea")  # unticked again
    assert "☐ 茶品" in out and "☑ 环境" in out
    out = await bo.tap(f"svd:{rid}:liked")
    assert "第 3 题，共 3 题\n还有什么想对我们说的吗？" in out
    # Back to the first question: they were less happy than they said.
    out = await bo.tap(f"svb:{rid}:comment")
    assert out.startswith("请选择新的答案：") and "☑ 环境" in out
    out = await bo.tap(f"svb:{rid}:liked")
    assert out.startswith("您之前的答案是：5。请选择新的答案：") and "总体而言" in out
    out = await bo.tap(f"sv:{rid}:overall:2")  # what they liked is no longer asked
    _, status, answers = await response_of(db, 2, "satisfaction")
    assert answers == {"overall": 2} and status == "open"
    assert "第 2 题，共 3 题\n哪里让您不满意？" in out
    await bo.tap(f"sv:{rid}:problem:wait")
    out = await bo.say("跳过")
    assert out.startswith("感谢您的回答！") and "已为您增加 10 积分。" in out
    _, status, answers = await response_of(db, 2, "satisfaction")
    assert status == "completed" and answers == {"overall": 2, "problem": "wait",
                                                 "comment": None}


async def test_a_double_tap_and_bad_input_change_nothing(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send satisfaction 2")
    await alice.say("/survey")
    rid, _, _ = await response_of(db, 2, "satisfaction")
    for forged in (f"sv:{rid}:overall:9", f"sv:{rid}:overall:-1", f"sv:{rid}:nosuch:1",
                   f"sv:{rid}:problem:wait", "sv:abc:overall:1", "sv:1:2:3:4",
                   f"sv:{rid}:overall:{'9' * 40}", f"svs:{rid}:comment"):
        await alice.press(forged)  # the last skips ahead of the rating it must follow
    assert (await response_of(db, 2, "satisfaction"))[2] == {}
    # Someone else's response: as if it did not exist.
    bob = member(db, programme, clock, user="bob")
    await bob.say("/start")
    assert (await bob.press(f"sv:{rid}:overall:4")).startswith("This button has expired.")
    assert (await response_of(db, 2, "satisfaction"))[2] == {}
    # Typed words where buttons are asked for.
    out = await alice.say("pretty good")
    assert out.startswith("Please answer with the buttons")
    await alice.press(f"sv:{rid}:overall:4")
    await alice.press(f"sv:{rid}:overall:4")  # the double tap
    await alice.press(f"svt:{rid}:liked:place")  # ticked out of the question's order
    await alice.press(f"svt:{rid}:liked:tea")
    await alice.press(f"svd:{rid}:liked")
    assert (await response_of(db, 2, "satisfaction"))[2]["liked"] == ["tea", "place"]
    out = await alice.say("x" * 501)
    assert out.startswith("That is 501 characters; the answer may have at most 500.")
    await alice.say("Lovely")
    await alice.say("Lovely")  # redelivered: the survey is done
    await alice.press(f"svd:{rid}:liked")
    assert await survey_points(db, 2) == [10]
    assert (await response_of(db, 2, "satisfaction"))[1] == "completed"


async def test_cancel_and_come_back_and_no_more_surveys(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send satisfaction 2")
    await alice.say("/survey")
    await alice.say("4")  # rating 4
    await alice.say("/cancel")
    out = await alice.say("/survey")  # where they left it, without the intro again
    assert out.startswith("Question 2 of 3\nWhat did you like?")
    rid, _, _ = await response_of(db, 2, "satisfaction")
    # "No more surveys" asks first; "no" goes on where they were, "yes" stops them all.
    out = await alice.press(f"svoff:{rid}")
    assert out.startswith("Stop all surveys? You will get none until you send /survey on.")
    out = await alice.say("no")
    assert out.startswith("Surveys stay on.") and "What did you like?" in out
    await alice.press(f"svoff:{rid}")
    out = await alice.say("yes")
    assert out.startswith("Understood: we will send you no more surveys.")
    # The survey that was waiting is not shown while surveys are off.
    assert (await alice.say("/survey")).startswith("You turned surveys off, so none")
    out = await olga.say("/survey send nps 2")
    assert out == "Member 00000002 asked for no surveys: nothing was sent."
    assert await alice.say("/survey on") == "Thank you: surveys are welcome again."
    assert (await alice.say("/survey")).startswith("Question 2 of 3\nWhat did you like?")
    assert (await olga.say("/survey send nps 2")).startswith("Survey nps sent")
    # Typed, /survey off needs no question; twice says it is off already.
    assert (await alice.say("/survey OFF")).startswith("Understood: we will send you no")
    assert (await alice.say("/survey off")).startswith("Surveys are off for you already")
    await alice.say("/survey on")
    assert await alice.say("/survey on") == "Surveys are on for you already. Thank you!"


async def test_a_mistyped_survey_verb_shows_each_their_own_usage(db, programme, clock):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock, locale="zh_Hans")
    await alice.say("/start")
    out = await alice.say("/survey xyz")
    assert "/survey off：不再接收问卷" in out and "/survey list" not in out
    out = await olga.say("/survey xyz")
    assert "/survey off and /survey on" in out and "/survey list" in out
    assert "/survey off: no more surveys" in await olga.say("/help")


async def test_staff_commands_and_who_may_use_them(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    out = await olga.say("/survey list")
    assert "• nps — How likely are you to recommend us?: 2 questions, sent 0, completed 0" \
        in out
    assert "• satisfaction — How was your visit?: 4 questions" in out
    assert (await olga.say("/survey send")).startswith("Send a survey to one member:")
    assert await olga.say("/survey send nope 2") == \
        "There is no survey “nope”. /survey list shows the codes."
    assert await olga.say("/survey send nps 99999") == "There is no member number 99999."
    assert await olga.say("/survey send nps abc") == "There is no member number abc."
    for line in ("/survey list", "/survey send nps 1"):
        out = await alice.say(line)
        # The verb is named: /survey alone is every member's.
        assert out == f"Sorry, {' '.join(line.split()[:2])} is for the owner, admins, " \
            "operators and staff."
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


async def test_the_programme_file_wins_for_its_surveys(db, programme):
    async with db.uow() as uow:
        in_file = len(programme.surveys)
        assert in_file >= 2
        assert await surveys.keep_from_file(uow, programme, T0) == in_file
        assert await surveys.keep_from_file(uow, programme, T0) == 0  # nothing changed
        trimmed = programme.model_copy(update={"surveys": programme.surveys[:1]})
        assert await surveys.keep_from_file(uow, trimmed, T0) == in_file - 1
        dropped = await surveys.by_code(uow, "satisfaction")
        assert dropped.closed
        await uow.commit()
    member_id = await a_member(db, programme, T0, "zoe")
    async with db.uow() as uow:
        dropped = await surveys.by_code(uow, "satisfaction")
        with pytest.raises(responses.SurveyRefused) as refused:
            await responses.send(uow, programme, dropped, member_id, "staff", T0)
        assert refused.value.code == "closed"


def test_the_count_of_questions_says_up_to_while_an_answer_decides():
    def w(text: str) -> dict[str, str]:
        return {"en": text, "zh_Hans": text}

    definition = SurveyDef.model_validate({
        "code": "visit", "title": w("Visit"), "intro": w("Hi"), "questions": [
            {"code": "came", "kind": "single", "text": w("Came?"), "choices": [
                {"code": "yes", "label": w("Yes")}, {"code": "no", "label": w("No")}]},
            {"code": "what", "kind": "text", "text": w("What?"),
             "show_if": {"question": "came", "any_of": ["yes"]}},
            {"code": "why", "kind": "text", "text": w("Why?"),
             "show_if": {"question": "came", "any_of": ["yes"]}},
            {"code": "score", "kind": "rating", "text": w("Score?"), "optional": True},
            {"code": "low", "kind": "text", "text": w("Low?"),
             "show_if": {"question": "score", "at_most": 2}}]})
    assert definition.how_many({}) == (2, 5)  # "no" and no low score; "yes" and a 1
    assert definition.how_many({"came": "yes"}) == (4, 5)
    assert definition.how_many({"came": "no", "score": 1}) == (3, 3)
    assert definition.how_many({"came": "yes", "score": None}) == (4, 4)  # skipped


def test_a_show_if_must_point_back_one_level_at_answers_that_exist():
    base = {"code": "s", "title": {"en": "t", "zh_Hans": "t"},
            "intro": {"en": "i", "zh_Hans": "i"}}
    score = {"code": "score", "kind": "rating", "text": {"en": "q", "zh_Hans": "q"}}
    pick = {"code": "pick", "kind": "single", "text": {"en": "q", "zh_Hans": "q"},
            "choices": [{"code": "a", "label": {"en": "A", "zh_Hans": "甲"}},
                        {"code": "b", "label": {"en": "B", "zh_Hans": "乙"}}]}
    ok = SurveyDef.model_validate({**base, "questions": [
        score, {**pick, "show_if": {"question": "score", "at_most": 2}}]})
    assert [q.code for q in ok.asked({"score": 5})] == ["score"]
    assert [q.code for q in ok.asked({"score": 1})] == ["score", "pick"]
    for questions, said in (
            ([{**pick, "show_if": {"question": "score", "at_most": 2}}, score],
             "not an earlier question"),
            ([score, {**pick, "show_if": {"question": "score", "any_of": ["a"]}}],
             "any_of needs a choice question"),
            ([pick, {**score, "show_if": {"question": "pick", "any_of": ["z"]}}],
             "are not choices"),
            ([{**pick, "choices": pick["choices"][:1]}], "needs 2 to 10 choices"),
            ([score, score], "used twice")):
        with pytest.raises(ValueError, match=said):
            SurveyDef.model_validate({**base, "questions": questions})


async def test_a_coupon_reward_is_given_once_and_out_of_stock_is_said(db, programme, clock):
    """The nps survey with a coupon as well: the first member to finish gets the last
    gaiwan; the next one is told it has run out, and still gets the points."""
    nps = programme.surveys[0].model_copy(update={"reward": "gaiwan"})
    with_coupon = programme.model_copy(update={"surveys": (nps, *programme.surveys[1:])})
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, with_coupon, T0)
        await uow.commit()
    olga = await owner(db, with_coupon, clock)
    await olga.say("/stock gaiwan 1")
    people = [member(db, with_coupon, clock, user=name) for name in ("ann", "ben")]
    said = []
    for n, who in enumerate(people, 2):
        await who.say("/start")
        await olga.say(f"/survey send nps {n}")
        await who.say("/survey")
        await who.say("9")  # a score of 8
        said.append(await who.say("skip"))
    assert "Your thank-you coupon: Porcelain gaiwan. See it with /coupons." in said[0]
    assert "The thank-you coupon has run out, sorry." in said[1]
    assert all("+20 points" in out for out in said)
    assert await survey_points(db, 2) == [20] and await survey_points(db, 3) == [20]


async def test_typed_digits_at_a_free_text_question_press_numbered_lines_or_answer(
        db, programme, clock, kept):
    """Where buttons are numbered lines (the console, WeChat), a number typed at "why?"
    presses its line, as the question says (the second trial: "2" for Back was saved
    as the answer); where buttons are real (Telegram), typed digits are the answer.
    "11" on an NPS question is no score of 10."""
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send nps 00000002")
    await alice.say("/survey")
    out = await alice.say("11")
    assert "Question 1 of 2" in out and (await response_of(db, 2, "nps"))[2] == {}
    await alice.say("7")
    out = await alice.say("2")  # Back
    assert "Question 1 of 2" in out
    await alice.say("8")
    assert "Stop all surveys?" in await alice.say("3")  # asked first, not saved as "3"
    assert (await response_of(db, 2, "nps"))[1:] == ("open", {"score": 8})
    assert "Question 2 of 2" in await alice.say("2")  # no: back at "why?"
    # The same question with real buttons: "3" is the answer.
    engine = build_engine(db, programme, clock=clock)
    answer = await engine.handle(Inbound(platform="console", user_id="alice",
                                         chat_id="alice", text="3", buttons=True,
                                         locale="en"))
    assert answer.rendered()[0].text.startswith("Thank you for your answers!")
    assert (await response_of(db, 2, "nps"))[1:] == ("completed", {"score": 8, "why": "3"})


async def test_skipping_an_optional_multiple_choice_question(db, programme, clock):
    """Trial finding: Skip on an optional multiple-choice question failed."""
    base = {"code": "teas", "title": {"en": "Teas", "zh_Hans": "茶"},
            "intro": {"en": "Hi", "zh_Hans": "你好"}}
    pick = {"code": "tried", "kind": "multiple", "optional": True,
            "text": {"en": "Which?", "zh_Hans": "哪些？"},
            "choices": [{"code": "a", "label": {"en": "A", "zh_Hans": "甲"}},
                        {"code": "b", "label": {"en": "B", "zh_Hans": "乙"}}]}
    teas = SurveyDef.model_validate({**base, "questions": [pick]})
    with_teas = programme.model_copy(update={"surveys": (*programme.surveys, teas)})
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, with_teas, T0)
        await uow.commit()
    olga = await owner(db, with_teas, clock)
    alice = member(db, with_teas, clock)
    await alice.say("/start")
    await olga.say("/survey send teas 00000002")
    await alice.say("/survey")
    rid, _, _ = await response_of(db, 2, "teas")
    out = await alice.press(f"svs:{rid}:tried")
    assert out.startswith("Thank you for your answers!")
    assert (await response_of(db, 2, "teas"))[1:] == ("completed", {"tried": None})


async def test_a_member_sent_a_survey_twice_has_one_response_and_is_paid_once(
        db, programme, clock, kept):
    """Trial finding: a staff follow-up, then a segment send of the same survey, made
    a second response and paid twice."""
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send nps 00000002")
    out = await olga.say("/survey send nps")  # the segment counts who has it already
    assert "This reaches 0 members" in out
    await olga.say("/survey send nps 00000002")
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    await alice.say("/survey")
    await alice.say("9")
    await alice.say("skip")
    assert await survey_points(db, 2) == [20]
    assert await alice.say("/survey") == "No survey is waiting for you right now. Thank you!"


async def test_a_closed_survey_is_not_offered_by_slash_survey(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send nps 00000002")
    async with db.uow() as uow:
        await uow.session.execute(update(Survey).where(Survey.code == "nps").values(
            closed=True))
        await uow.commit()
    # Its invitation had gone out: the member is told it closed, not that none waits.
    assert (await alice.say("/survey")).startswith(
        "Sorry: the survey “How likely are you to recommend us?” has closed")


async def test_ticks_typed_as_numbers_and_kept_through_words_not_understood(
        db, programme, clock, kept):
    """Second trial: words typed at a multiple-choice question cleared every tick.
    They keep them now, and "1,3" (or "2 4", "2、4") ticks several at once."""
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send satisfaction 00000002")
    await alice.say("/survey")
    await alice.say("5")  # a good rating: what they liked is asked
    out = await alice.say("1,3")
    assert "[1] ☑ The tea" in out and "[2] ☐ The service" in out and "[3] ☑ The place" in out
    out = await alice.say("hello")
    assert out.startswith("Please answer with the buttons")
    assert "[1] ☑ The tea" in out and "[3] ☑ The place" in out
    out = await alice.say("9,1")  # 9 is no choice: nothing changes
    assert "[1] ☑ The tea" in out and "[4] ☐ The price" in out
    await alice.say("2、4")
    await alice.say("5")  # Done
    assert (await response_of(db, 2, "satisfaction"))[2] == {
        "overall": 5, "liked": ["tea", "service", "place", "price"]}


def test_free_text_keeps_emoji_joiners_and_line_breaks_and_refuses_control_characters():
    family = "👨\u200d👩\u200d👧"
    assert clean_text(f"家人 {family}\r\n好\tI\u200bI ") == f"家人 {family}\n好 II"
    assert has_control("a\x00b") and has_control("\x1b[0m") and not has_control("a\nb\tc")


async def test_words_not_understood_after_back_ask_the_question_on_screen_again(
        db, programme, clock, kept):
    """Back brings up question 2; words it cannot take ask question 2 again, not the
    next unanswered one, and a tick there is kept for question 2."""
    olga = await owner(db, programme, clock)
    bo = member(db, programme, clock, user="bo")
    await bo.say("/start")
    await olga.say("/survey send satisfaction 00000002")
    await bo.say("/survey")
    rid, _, _ = await response_of(db, 2, "satisfaction")
    await bo.tap(f"sv:{rid}:overall:5")
    await bo.tap(f"svt:{rid}:liked:tea")
    assert "Question 3 of 3" in await bo.tap(f"svd:{rid}:liked")
    out = await bo.tap(f"svb:{rid}:comment")
    assert "Question 2 of 3" in out and "☑" in out
    out = await bo.say("abc")
    assert "Question 2 of 3" in out and "Question 3" not in out
    out = await bo.tap(f"svt:{rid}:liked:place")  # ticked on the question asked again
    assert "Question 2 of 3" in out
    assert "Question 3 of 3" in await bo.tap(f"svd:{rid}:liked")
    assert (await response_of(db, 2, "satisfaction"))[2] == {
        "overall": 5, "liked": ["tea", "place"]}


async def test_the_statement_names_a_survey_made_in_chat_by_its_title(db, programme, clock):
    draft = {"code": "fb1", "title": {"en": "Feedback", "zh_Hans": "反馈调查"},
             "intro": {"en": "i", "zh_Hans": "i"}, "reward_points": 15,
             "questions": [{"code": "ok", "kind": "rating",
                            "text": {"en": "?", "zh_Hans": "？"}}]}
    async with db.uow() as uow:
        await building.create(uow, programme, draft, 1, "test:fb1", T0)
        await uow.commit()
    bo = member(db, programme, clock, user="bo", locale="zh_Hans")
    await bo.say("/start")
    async with db.uow() as uow:
        sent = await responses.send(uow, programme, await surveys.by_code(uow, "fb1"), 1,
                                    "staff", T0)
        await responses.answer(uow, programme, sent.response.id, 1, "ok", 4, T0)
        await uow.commit()
    assert "+15  填写问卷：反馈调查" in await bo.say("/points")
