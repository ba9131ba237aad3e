"""The survey trial's wording findings: staff alerts and the CSV export give a choice's
words, not only its code (the CSV keeps the codes, and defuses formulas in the words
too); /survey chart says when no Chinese font is installed, and what to install; the
example programme asks an unhappy member no "what did you like", promises no coupon it
may not give, and asks what "something else" was."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from domain.feedback import building
from domain.feedback.definitions import Question
from domain.feedback.results import QuestionResult
from domain.feedback.tables import SurveyAnswer, SurveyResponse
from domain.members.members import member_number
from domain.notices.tables import Notice
from domain.support import alerts
from handlers.engine import charts
from handlers.engine.charts import Bars, Fonts, Label
from handlers.feedback import survey_charts
from handlers.notices.notices import render_notice
from tests.support.survey_given import answered as answered_at
from tests.support.survey_given import said
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
NO_CJK = Fonts((charts.BASE_FAMILY,), frozenset(range(0x2500)))  # Latin and punctuation


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def answered(db, programme, code: str, people: list[dict]) -> list[int]:
    return await answered_at(db, programme, code, people, T0)


def survey_of(programme, code: str):
    return next(s for s in programme.surveys if s.code == code)


# ------------------------------------------------------------------ 7. the alert's words

def test_an_alert_gives_each_answer_in_words_in_each_language(programme):
    satisfaction = survey_of(programme, "satisfaction")
    given = {"overall": 2, "problem": "wait", "comment": "=cmd " + "x" * 300}
    shown = alerts.survey_answers(satisfaction, given)["$local"]
    en = shown["en"].split("\n")
    assert en[0] == "1. Overall, how satisfied were you? (1 = very unsatisfied, 5 = very " \
        "satisfied)"
    assert en[1:4] == ["   2/5", "2. What went wrong?", "   Waiting too long"]
    assert en[4] == "3. Anything else you would like to tell us?"
    assert en[5] == "   =cmd " + "x" * 194 + "…"  # cut to 200 characters
    assert "c1" not in shown["en"] and "wait" not in shown["en"]
    assert shown["zh_Hans"].split("\n")[2:4] == ["2. 哪里让您不满意？", "   等待太久"]
    liked = alerts.survey_answers(satisfaction, {"overall": 5, "liked": ["tea", "place"],
                                                 "comment": None})["$local"]["en"]
    assert "What did you like? Choose all that apply.\n   The tea, The place" in liked
    assert liked.endswith("3. Anything else you would like to tell us?\n   -")
    nps = alerts.survey_answers(survey_of(programme, "nps"), {"score": 3, "why": None})
    assert nps["$local"]["en"].split("\n")[:2] == [
        "1. How likely are you to recommend our tea house to a friend? (0 = not at all, 10 "
        "…", "   3/10"]  # a long question cut to 80 characters


async def test_a_low_score_alert_names_the_choice_not_its_code(db, programme, clock, kept):
    await owner(db, programme, clock)  # member 1, who answers members: alerted
    await answered(db, programme, "satisfaction", [
        {"overall": 1, "problem": "wait", "comment": None}])
    async with db.uow() as uow:
        (params,) = await uow.session.scalars(select(Notice.params).where(
            Notice.member_id == 1, Notice.key == "survey.low_score"))
    text = render_notice("survey.low_score", params, "en", programme).text
    assert "1. Overall, how satisfied were you?" in text and "   1/5\n" in text
    assert "2. What went wrong?\n   Waiting too long" in text and "wait\n" not in text
    assert "等待太久" in render_notice("survey.low_score", params, "zh_Hans", programme).text


# ------------------------------------------------------------------ 7. the CSV's words

def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_the_export_keeps_codes_and_adds_their_words(db, programme, clock, kept):
    ids = await answered(db, programme, "satisfaction", [
        {"overall": 5, "liked": ["tea", "place"], "comment": "Lovely"},
        {"overall": 2, "problem": "wait", "comment": None},
        {"overall": 4, "liked": None, "comment": None},  # liked skipped
    ])
    olga = await owner(db, programme, clock, user="olga", locale="zh_Hans")
    (sent,) = await said(olga, "/survey export satisfaction")
    # The reader's language: words they can read.
    assert "后是标题为“题目代码.label”的一列，为选项的中文文字" in sent.text
    rows = table(sent.file[1])
    assert rows[0][6:] == ["overall", "liked", "liked.label", "problem", "problem.label",
                           "comment"]
    by_member = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    happy, unhappy, skipped = (by_member[member_number(i)] for i in ids)
    assert (happy["liked"], happy["liked.label"]) == ("tea;place", "茶品; 环境")
    assert (happy["problem"], happy["problem.label"]) == ("", "")  # not asked
    assert (unhappy["problem"], unhappy["problem.label"]) == ("wait", "等待太久")
    assert (skipped["liked"], skipped["liked.label"]) == ("", "")
    assert happy["overall"] == "5" and happy["comment"] == "Lovely"

    en = await owner(db, programme, clock, user="erin", locale="en")
    (sent,) = await said(en, "/survey export satisfaction")
    assert "then, headed CODE.label, their words in English." in sent.text
    rows = table(sent.file[1])
    assert dict(zip(rows[0], rows[1], strict=True))["liked.label"] == "The tea; The place"


async def test_choice_words_that_look_like_formulas_are_defused(db, programme, clock):
    draft = {"code": "odd", "title": {"en": "Odd", "zh_Hans": "怪"},
             "intro": {"en": "i", "zh_Hans": "i"},
             "questions": [{"code": "pick", "kind": "single", "text": {"en": "?", "zh_Hans": "?"},
                            "choices": [
                                {"code": "c1", "label": {"en": "=1+1", "zh_Hans": "=1+1"}},
                                {"code": "c2", "label": {"en": "-2 sugar", "zh_Hans": "-2 糖"}}]}]}
    async with db.uow() as uow:
        await building.create(uow, programme, draft, 1, "test:odd", T0)
        await uow.commit()
    await answered(db, programme, "odd", [{"pick": "c1"}, {"pick": "c2"}])
    olga = await owner(db, programme, clock, user="olga", locale="zh_Hans")
    (sent,) = await said(olga, "/survey export odd")
    rows = table(sent.file[1])
    assert [row[6:] for row in rows[1:]] == [["c1", "'=1+1"], ["c2", "'-2 糖"]]


# ------------------------------------------------------------------ 8. no Chinese font

async def test_a_chart_without_a_chinese_font_says_what_to_install(db, programme, clock,
                                                                   kept, monkeypatch):
    await answered(db, programme, "satisfaction", [{"overall": 5, "liked": ["tea"],
                                                    "comment": None}])
    drawing = charts.draw_all

    async def without_cjk(wanted):  # this machine may have a CJK font: as if it had none
        return dataclasses.replace(await drawing(wanted), fonts=NO_CJK)

    monkeypatch.setattr(charts, "draw_all", without_cjk)
    zh = await owner(db, programme, clock, user="zhou", locale="zh_Hans")
    out = await said(zh, "/survey chart satisfaction")
    assert all(m.image is not None for m in out)
    assert out[0].text.endswith(
        "\n⚠️ 服务器上没有安装中文（CJK）字体，因此图表中的中文以代码和编号显示。请安装中文字体，"
        "例如：sudo apt install fonts-noto-cjk，然后重启 memberbot。")
    assert not any("⚠️" in m.text for m in out[1:])  # said once, with the first
    (one,) = await said(zh, "/survey chart satisfaction 2")
    assert "fonts-noto-cjk" in one.text and one.image is not None
    # In English nothing needed a Chinese glyph: nothing to say.
    en = await owner(db, programme, clock, user="olga")
    assert not any("font" in m.text for m in await said(en, "/survey chart satisfaction"))


async def test_a_chart_in_chinese_with_the_fonts_here(db, programme, clock, kept):
    """With this machine's own fonts: the note is there exactly when it has no CJK font."""
    await answered(db, programme, "nps", [{"score": 9, "why": None}])
    zh = await owner(db, programme, clock, user="zhou", locale="zh_Hans")
    out = await said(zh, "/survey chart nps")
    assert ("fonts-noto-cjk" in out[0].text) == (not charts.fonts().chinese)


def test_only_cjk_drawn_as_codes_calls_for_a_font():
    chart = Bars(Label("Scores", "scores"), (Label("茶品", "tea"), Label("🍵", "cup")), (1, 2))
    assert survey_charts.no_cjk_font([chart], NO_CJK)
    emoji = Bars(Label("Scores", "scores"), (Label("🍵 tea", "tea"),), (1,))
    assert not survey_charts.no_cjk_font([emoji], NO_CJK)  # an emoji font is another matter
    with_cjk = Fonts((charts.BASE_FAMILY, "Noto Sans CJK SC"), NO_CJK.covered)
    assert not survey_charts.no_cjk_font([chart], with_cjk)  # one is there: a rare glyph
    titled = Bars(Label("1. 总体而言", "Q1"), (Label("1", "1"),), (1,))
    assert survey_charts.no_cjk_font([titled], NO_CJK)


# ------------------------------------------------------------------ 10. the example surveys

async def test_an_unhappy_member_is_not_asked_what_they_liked(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send satisfaction 2")
    await alice.say("/survey")
    out = await alice.say("2")  # unhappy
    assert out.startswith("Question 2 of 3\nWhat went wrong?") and "like" not in out
    await alice.say("1")  # waiting too long
    await alice.say("skip")  # the comment
    async with db.uow() as uow:
        given = dict((await uow.session.execute(select(
            SurveyAnswer.question, SurveyAnswer.value))).all())
    assert given == {"overall": 2, "problem": "wait", "comment": None}

    bob = member(db, programme, clock, user="bob")
    await bob.say("/start")
    await olga.say("/survey send satisfaction 3")
    await bob.say("/survey")
    out = await bob.say("5")  # happy: what they liked, which they may skip
    assert out.startswith("Question 2 of 3\nWhat did you like?") and "Skip" in out
    assert "Question 3 of 3\nAnything else" in await bob.say("skip")


def test_the_happy_and_unhappy_paths_of_satisfaction(programme):
    satisfaction = survey_of(programme, "satisfaction")
    asked = {score: [q.code for q in satisfaction.asked({"overall": score})]
             for score in range(1, 6)}
    assert asked[1] == asked[2] == asked[3] == ["overall", "problem", "comment"]
    assert asked[4] == asked[5] == ["overall", "liked", "comment"]
    assert satisfaction.question("liked").optional


async def test_the_lapsed_survey_promises_no_coupon_and_asks_what_else(db, programme, clock,
                                                                       kept):
    lapsed = survey_of(programme, "lapsed")
    for words in (lapsed.intro.en, lapsed.intro.zh_Hans, lapsed.title.en):
        assert "coupon" not in words and "优惠" not in words
    assert [c.code for c in lapsed.question("reason").choices][-1] == "other"
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await olga.say("/survey send lapsed 2")
    out = await alice.say("/survey")
    assert out.startswith("📋 We miss you: what kept you away?\nA couple of quick questions")
    assert "[6] Something else" in out
    out = await alice.say("6")
    assert out.startswith("Question 2 of 3\nWhat was it? Tell us in a few words.")
    await alice.say("The new opening hours")
    await alice.say("skip")
    async with db.uow() as uow:
        rows = dict((await uow.session.execute(select(
            SurveyAnswer.question, SurveyAnswer.value))).all())
        status = await uow.session.scalar(select(SurveyResponse.status))
    assert rows == {"reason": "other", "other_reason": "The new opening hours", "better": None}
    assert status == "completed"
    # Another reason: no follow-up.
    assert [q.code for q in lapsed.asked({"reason": "price"})] == ["reason", "better"]


def test_without_a_chinese_font_a_chat_surveys_choices_fall_back_to_english_words():
    """A survey made in chat has choice codes c1, c2: a chart drawn without a CJK font
    shows the English wording instead, where it is plain ASCII."""
    q = Question.model_validate({
        "code": "q1", "kind": "single", "text": {"en": "Which tea?", "zh_Hans": "哪种茶？"},
        "choices": [{"code": "c1", "label": {"en": "Oolong", "zh_Hans": "乌龙"}},
                    {"code": "c2", "label": {"en": "Café crème", "zh_Hans": "咖啡"}}]})
    bars = survey_charts.question(1, q, QuestionResult("q1", "single", answered=2,
                                                       counts=Counter({"c1": 2})), "zh_Hans")
    assert [(label.text, label.fallback) for label in bars.labels] == [
        ("乌龙", "Oolong"), ("咖啡", "c2")]  # not ASCII: its code
    assert bars.title.fallback == "Q1  Which tea?  n=2"
