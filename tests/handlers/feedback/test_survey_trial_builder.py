"""The survey trial's builder findings (/survey new, in the console, both languages):
counts read "1 question" and "1 point"; a show-if on a score reads naturally; a close
date more than two years ahead is refused in our own words; a control character is
refused with the same message at every step, never dropped unseen."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.feedback import building, surveys
from domain.feedback.building import BuildRefused
from handlers.engine import i18n
from handlers.feedback import survey_new_words as words
from tests.support.transcript import Clock, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the programme's zone
CONTROL = ("That has an invisible control character (a tab, or one pasted in from "
           "elsewhere) or a line break where none may be. Please type it again without it.")
CONTROL_ZH = "内容含有看不见的控制字符"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def say_all(who, lines: list[str]) -> list[str]:
    return [await who.say(line) for line in lines]


async def up_to_the_reward(who, code: str = "quick") -> str:
    """A one-question survey (a required rating) up to the reward; what was said last."""
    outs = await say_all(who, ["/survey new", code, "Quick one", "1", "Just one question.",
                               "1", "3", "How was it?", "1", "2"])
    return outs[-1]


async def stored(db, code: str):
    async with db.uow() as uow:
        row = await surveys.by_code(uow, code)
        return None if row is None else surveys.definition(row)


# ------------------------------------------------------------------ 2. plurals

async def test_one_question_and_one_point_read_in_the_singular(db, programme, clock):
    olga = await owner(db, programme, clock)
    out = await up_to_the_reward(olga)
    assert "1 question so far. Another one?" in out and "question(s)" not in out
    await say_all(olga, ["2", "5"])  # done; another number of points
    await olga.say("1")  # typed: one point
    await say_all(olga, ["1"])  # no coupon
    out = await olga.say("1")  # no close date
    assert "Reward on completion: 1 point\n\n" in out
    assert "1 points" not in out
    assert "Make survey “quick” with 1 question, as shown above?" in out
    assert "完成奖励：1 积分" in out


async def test_two_questions_read_in_the_plural_and_chinese_has_one_form(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await say_all(olga, ["/survey new", "two", "两题", "1", "简介", "1", "3", "好吗？", "1"])
    assert "目前共 1 题。还要再加一题吗？" in await olga.say("否")
    await say_all(olga, ["1", "3", "还好吗？", "1", "否"])
    assert "目前共 2 题" in await olga.say("1")  # always asked
    out = (await say_all(olga, ["2", "2", "1", "1"]))[-1]
    assert "按以上预览创建问卷“two”（共 2 题）吗？" in out
    assert "Make survey" not in out and "完成奖励：10 积分" in out
    assert "Reward on completion: 10 points" in out  # the English preview


# ------------------------------------------------------------------ 3. show-if wording

def test_a_show_if_reads_naturally_in_both_languages():
    questions = [
        {"code": "q1", "kind": "nps"},
        {"code": "q2", "kind": "single", "choices": [
            {"code": "c1", "label": {"en": "Tea", "zh_Hans": "茶"}},
            {"code": "c2", "label": {"en": "Coffee", "zh_Hans": "咖啡"}}]},
        {"code": "q3", "kind": "multiple", "choices": [
            {"code": "c1", "label": {"en": "Tea", "zh_Hans": "茶"}},
            {"code": "c2", "label": {"en": "Cake", "zh_Hans": "蛋糕"}},
            {"code": "c3", "label": {"en": "Music", "zh_Hans": "音乐"}}]}]

    def said(rule: dict, locale: str) -> str:
        return i18n.translate(words.condition(rule, questions), locale)

    most, least = {"question": "q1", "at_most": 6}, {"question": "q1", "at_least": 9}
    assert said(most, "en") == "(asked only if the answer to question 1 is 6 or less)"
    assert said(least, "en") == "(asked only if the answer to question 1 is 9 or more)"
    assert said(most, "zh_Hans") == "（仅当第 1 题的评分为 6 分或以下时提问）"
    assert said(least, "zh_Hans") == "（仅当第 1 题的评分为 9 分或以上时提问）"
    picked = {"question": "q2", "any_of": ["c1", "c2"]}
    assert said(picked, "en") == "(asked only if the answer to question 2 is Tea or Coffee)"
    assert said(picked, "zh_Hans") == "（仅当第 2 题选择 茶或咖啡 时提问）"
    ticked = {"question": "q3", "any_of": ["c2", "c3"]}
    assert said(ticked, "en") == \
        "(asked only if the answers to question 3 include Cake or Music)"
    assert said(ticked, "zh_Hans") == "（仅当第 3 题选中 蛋糕或音乐 时提问）"


async def test_the_builder_asks_for_a_score_condition_in_plain_words(db, programme, clock):
    olga = await owner(db, programme, clock)
    await say_all(olga, ["/survey new", "follow", "Follow", "1", "Intro", "1",
                         "4", "Recommend us?", "1", "2", "1",  # an NPS, required; another
                         "1", "What went wrong?", "1", "Slow;Cold", "1", "2"])
    out = await olga.say("2")  # only after question 1
    assert "Ask it when the score given to that question is…" in out
    assert "[1] That score or less" in out and "[2] That score or more" in out
    assert "Ask it for which score or less?" in await olga.say("1")
    await olga.say("6")  # typed: the score 6
    out = (await say_all(olga, ["2", "1", "1", "1"]))[-1]
    assert "Slow · Cold\n(asked only if the answer to question 1 is 6 or less)" in out
    assert "（仅当第 1 题的评分为 6 分或以下时提问）" in out
    assert "at most" not in out and "不高于" not in out
    await olga.say("1")
    assert (await stored(db, "follow")).questions[1].show_if.at_most == 6


# ------------------------------------------------------------------ 4. far close dates

def test_the_latest_close_date_is_two_years_ahead():
    assert building.latest_close(date(2026, 3, 10)) == date(2028, 3, 10)
    assert building.latest_close(date(2028, 2, 29)) == date(2030, 2, 28)


@pytest.mark.parametrize(("closes", "refused"), [
    ("2028-03-10", None), ("2028-03-11", "closes_far"), ("9999-12-31", "closes_far")])
def test_check_refuses_a_close_date_too_far(programme, closes, refused):
    draft = {"code": "far", "title": {"en": "t", "zh_Hans": "t"},
             "intro": {"en": "i", "zh_Hans": "i"}, "closes": closes,
             "questions": [{"code": "q1", "kind": "rating", "text": {"en": "q",
                                                                      "zh_Hans": "q"}}]}
    if refused is None:
        assert str(building.check(draft, programme, T0).closes) == closes
        return
    with pytest.raises(BuildRefused) as caught:
        building.check(draft, programme, T0)
    assert caught.value.code == refused and caught.value.params["latest"] == "2028-03-10"


async def test_a_far_close_date_is_refused_in_our_words(db, programme, clock):
    olga = await owner(db, programme, clock)
    await up_to_the_reward(olga)
    await say_all(olga, ["2", "1", "1", "2"])  # done, no points, no coupon, set a date
    out = await olga.say("9999-12-31")
    assert out == ("That is more than 2 years ahead: a survey may be given a close date up "
                   "to Mar 10, 2028. Type an earlier day, or /cancel and choose “No close "
                   "date”.")
    assert "more than 2 years ahead" in await olga.say("2028-03-11")
    out = await olga.say("2028-03-10")  # two years to the day: fine
    assert "Open until Mar 10, 2028." in out and "Make survey “quick”" in out
    await olga.say("1")
    assert str((await stored(db, "quick")).closes) == "2028-03-10"


async def test_a_far_close_date_in_chinese(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await say_all(olga, ["/survey new", "far", "远", "1", "简介", "1", "3", "好吗？", "1",
                         "否", "2", "1", "1", "2"])
    out = await olga.say("2100-01-01")
    assert out.startswith("该日期在 2 年以后：问卷的截止日期最晚可设为 2028年3月10日。")
    assert await stored(db, "far") is None


# ------------------------------------------------------------------ 5. control characters

def test_every_input_is_read_the_same_way():
    assert words.line("  spring\n") == ("spring", None)
    assert words.line("\u3000２０２６-12-31 ")[0] == "２０２６-12-31"  # NFKC is the step's
    for bad in ("spring\t", "\tspring", "spr\x07ing", "spring\x1f", "spring\u200b",
                "30\x85", "a\nb", "a\u2028b", "\u202espring"):
        text, problem = words.line(bad)
        assert problem is not None and problem.key == "survey_new.control", repr(bad)
    assert words.cleaned("Line one\nLine two\n", lines=True) == ("Line one\nLine two", None)
    assert words.cleaned("Tea\r\ntime", lines=True) == ("Tea\ntime", None)
    assert words.cleaned("Tea\r\ntime", lines=False)[1].key == "survey_new.control"
    assert words.cleaned("Tea\x1f", lines=True)[1].key == "survey_new.control"
    assert words.cleaned("👨\u200d🍳 Chef's tea", lines=False) == ("👨\u200d🍳 Chef's tea", None)


async def test_a_control_character_is_refused_at_every_step(db, programme, clock):
    olga = await owner(db, programme, clock)
    await olga.say("/survey new")
    for bad in ("spring\t", "spring\x1f", "spr\u200bing"):  # the code
        assert await olga.say(bad) == CONTROL
    assert "title in English" in await olga.say("spring")
    for bad in ("Spring\x1f", "\tSpring", "Spr\u200bing", "Spring\ntime"):  # a title
        assert CONTROL in await olga.say(bad), repr(bad)
    await say_all(olga, ["Spring", "1"])
    assert CONTROL in await olga.say("Intro\x0b")  # an intro: line breaks allowed, not this
    await say_all(olga, ["Intro\nsecond line", "1", "1", "Which?", "1"])
    assert CONTROL in await olga.say("Tea\x07;Coffee")  # choices
    assert CONTROL in await olga.say("\x1fTea;Coffee")
    await say_all(olga, ["Tea;Coffee", "1", "2", "2", "5"])  # required; done; typed points
    for bad in ("30\t", "\x1f30", "3\u200b0"):  # points
        assert await olga.say(bad) == CONTROL, repr(bad)
    await say_all(olga, ["30", "1", "2"])  # no coupon; set a date
    for bad in ("2026-12-31\x1f", "\t2026-12-31", "2026-12-31\u200e"):  # the date
        assert await olga.say(bad) == CONTROL, repr(bad)
    out = await olga.say("2026-12-31")
    assert "Make survey “spring”" in out
    await olga.say("1")
    definition = await stored(db, "spring")
    assert definition.title.en == "Spring" and definition.intro.en == "Intro\nsecond line"
    assert [c.label.en for c in definition.questions[0].choices] == ["Tea", "Coffee"]
    assert definition.reward_points == 30 and str(definition.closes) == "2026-12-31"


async def test_a_control_character_is_refused_in_chinese(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await olga.say("/survey new")
    assert (await olga.say("code\t")).startswith(CONTROL_ZH)
    await olga.say("code")
    assert CONTROL_ZH in await olga.say("标题\u200b")
