"""/survey new: an operator builds a survey in chat (the console, as WeChat renders
it: numbered answers), in English and in Chinese, then a member is sent it and answers
it; a double confirm makes one survey; the role is checked at the first step and
mid-flow; bad input is answered in our own words and changes nothing; /survey close."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from domain.feedback import surveys
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.points.tables import LedgerEntry
from domain.rewards.tables import Coupon
from domain.staff import roles
from domain.staff.tables import AuditEntry
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the programme's zone


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def say_all(who, lines: list[str]) -> list[str]:
    return [await who.say(line) for line in lines]


async def stored(db, code: str) -> SimpleNamespace | None:
    """The survey row as it was read (source, closed, definition), or None."""
    async with db.uow() as uow:
        row = await surveys.by_code(uow, code)
        if row is None:
            return None
        return SimpleNamespace(source=row.source, closed=row.closed,
                               definition=row.definition)


async def count(db, model, *where) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model).where(*where))


async def state(db, user: str) -> str | None:
    from domain.conversations.tables import Conversation
    async with db.uow() as uow:
        conv = await uow.session.get(Conversation, ("console", user))
        return conv.state if conv else None


async def answers_of(db, code: str, member_id: int) -> tuple[str, dict]:
    async with db.uow() as uow:
        survey = await surveys.by_code(uow, code)
        row = await uow.session.scalar(select(SurveyResponse).where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.member_id == member_id))
        found = dict((await uow.session.execute(
            select(SurveyAnswer.question, SurveyAnswer.value)
            .where(SurveyAnswer.response_id == row.id))).all())
        return row.status, found


async def build_small(who, code: str = "quick") -> str:
    """A one-question survey up to its confirmation; the confirmation's text."""
    outs = await say_all(who, ["/survey new", code, "Quick one", "1", "Just one question.",
                               "1", "3", "How was it?", "1", "2", "2", "1", "1", "1"])
    return outs[-1]


# ------------------------------------------------------------------ built, sent, answered

async def test_a_survey_built_in_english_is_sent_and_answered(db, programme, clock):
    olga = await owner(db, programme, clock)
    assert "New survey. Step 1" in await olga.say("/survey new")
    assert "title in English" in await olga.say("Tea_Time")  # checked lower-cased
    out = await olga.say("Tea time")
    assert "title in Chinese" in out and "[1] Same text for both" in out
    assert "introduction in English" in await olga.say("下午茶")
    await olga.say("Three quick questions.")
    out = await olga.say("1")  # the same intro in Chinese
    assert "Question 1 (at most 20): what kind?" in out
    assert "[3] Rating 1–5" in out and "[5] Free text" in out
    out = await olga.say("3")  # a rating: its words should say what 1 and 5 mean
    assert "say what the ends of the scale mean, for example: “How was your visit? " \
        "(1 = very poor, 5 = excellent)”" in out
    await olga.say("How was your tea?")
    assert "May members skip this question?" in await olga.say("您觉得茶怎么样？")
    out = await olga.say("2")  # required; nothing earlier to depend on
    assert "1 question so far. Another one?" in out
    await say_all(olga, ["1", "1", "What did you drink?", "您喝了什么？"])  # one choice
    assert "The same 3 choices in Chinese" in await olga.say("Oolong\nPu-erh\nGreen")
    await olga.say("乌龙\n普洱\n绿茶")
    out = await olga.say("no")  # required
    assert "[2] Only after question 1: How was your tea?" in out
    await olga.say("2")
    assert "Ask it for which score or less?" in await olga.say("1")
    assert "2 questions so far" in await olga.say("3")  # typed: the score 3
    await say_all(olga, ["1", "5"])  # free text
    assert "Question 3 in English" in await olga.say("1")  # at most 100 characters
    await say_all(olga, ["Anything else?", "1", "yes", "1", "2"])
    assert "Type the points" in await olga.say("5")
    out = await olga.say("30")
    assert "[2] A free pot of tea" in out
    await say_all(olga, ["2", "2"])
    out = await olga.say("2026-12-31")
    assert "Preview in English:\n\n📋 Tea time\nThree quick questions." in out
    assert "Oolong · Pu-erh · Green\n(asked only if the answer to question 1 is 3 or less)" \
        in out
    assert "Preview in Chinese:\n\n📋 下午茶\nThree quick questions." in out
    assert "乌龙 · 普洱 · 绿茶\n（仅当第 1 题的评分为 3 分或以下时提问）" in out
    assert "Reward on completion: 30 points and a coupon: A free pot of tea" in out
    assert "完成奖励：30 积分，以及优惠券：免费一壶茶" in out
    assert "Make survey “tea_time” with 3 questions" in out
    assert "Survey “tea_time” is made." in await olga.say("1")

    survey = await stored(db, "tea_time")
    assert survey is not None and survey.source == "chat" and not survey.closed
    definition = surveys.definition(survey)
    assert [(q.code, q.kind, q.optional) for q in definition.questions] == [
        ("q1", "rating", False), ("q2", "single", False), ("q3", "text", True)]
    assert [c.label.zh_Hans for c in definition.questions[1].choices] == ["乌龙", "普洱", "绿茶"]
    assert definition.questions[1].show_if.at_most == 3
    assert definition.questions[2].max_length == 100
    assert (definition.reward_points, definition.reward, str(definition.closes)) == (
        30, "free_pot", "2026-12-31")
    assert await count(db, AuditEntry, AuditEntry.action == "survey.create",
                       AuditEntry.target == "tea_time") == 1

    alice = member(db, programme, clock)
    await alice.say("/start")  # member 2
    assert "sent to member 00000002" in await olga.say("/survey send tea_time 2")
    assert (await alice.say("/survey")).startswith("📋 Tea time\nThree quick questions.")
    assert "What did you drink?" in await alice.say("2")  # a low rating asks why
    assert "Anything else?" in await alice.say("1")
    out = await alice.say("Lovely")
    assert "+30 points" in out and "A free pot of tea" in out
    assert await answers_of(db, "tea_time", 2) == (
        "completed", {"q1": 2, "q2": "c1", "q3": "Lovely"})
    assert await count(db, LedgerEntry, LedgerEntry.member_id == 2,
                       LedgerEntry.reason == "survey_completed") == 1
    assert await count(db, Coupon, Coupon.member_id == 2) == 1


async def test_a_survey_built_in_chinese_is_answered_in_chinese(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    assert "新建问卷" in await olga.say("/survey new")
    assert "问卷标题（中文" in await olga.say("mood")
    out = await olga.say("心情调查")
    assert "问卷标题（英语" in out and "[1] 两种语言用同一文字" in out
    out = await olga.say("How do you feel?")
    assert "问卷简介（中文" in out
    await say_all(olga, ["请告诉我们。", "Tell us, please."])
    out = await olga.say("2")  # several choices
    assert "第 1 题（中文" in out
    await say_all(olga, ["您喜欢哪些茶？", "Which teas do you like?"])
    out = await olga.say("红茶\n绿茶\n白茶")
    assert "同样的 3 个选项（英语）" in out
    assert "请输入正好 3 个选项" in await olga.say("Black\nGreen")
    await olga.say("Black\nGreen\nWhite")
    assert "1 题" in await olga.say("否")  # required
    await say_all(olga, ["1", "4", "您会推荐我们吗？", "1"])  # NPS, the same words
    assert "[2] 仅当第 1 题：您喜欢哪些茶？" in await olga.say("是")  # optional
    out = await olga.say("2")
    assert "☐ 红茶" in out
    assert "请至少勾选一个选项" in await olga.say("4")  # Done with nothing ticked
    await say_all(olga, ["1", "3"])  # 红茶 and 白茶
    out = await olga.say("4")
    assert "目前共 2 题" in out
    await say_all(olga, ["2", "2", "1"])  # done, 10 points, no coupon
    out = await olga.say("1")  # no close date
    assert "预览（中文）：\n\n📋 心情调查\n请告诉我们。" in out
    assert "（仅当第 1 题选中 红茶或白茶 时提问）" in out
    assert "(asked only if the answers to question 1 include Black or White)" in out
    assert "预览（英语）：\n\n📋 How do you feel?\nTell us, please." in out
    assert "问卷“mood”已创建" in await olga.say("是")

    definition = surveys.definition(await stored(db, "mood"))
    assert definition.questions[1].show_if.any_of == ("c1", "c3")
    assert definition.questions[1].text.en == definition.questions[1].text.zh_Hans
    assert definition.reward_points == 10 and definition.reward is None

    bo = member(db, programme, clock, user="bo", locale="zh_Hans")
    await bo.say("/start")  # member 2
    await olga.say("/survey send mood 2")
    out = await bo.say("/survey")
    assert out.startswith("📋 心情调查\n请告诉我们。") and "☐ 白茶" in out
    await say_all(bo, ["3", "4"])  # 白茶, Done
    assert "您会推荐我们吗？" in bo.said[-1]
    out = await bo.say("10")  # the score 10, not the tenth button
    assert "感谢您的回答" in out and "10 积分" in out
    assert await answers_of(db, "mood", 2) == ("completed", {"q1": ["c3"], "q2": 10})


async def test_a_double_confirm_makes_one_survey(db, programme, clock):
    olga = await owner(db, programme, clock)
    assert "Make survey “quick”" in await build_small(olga)
    first = await olga.press("snew:ok")
    again = await olga.press("snew:ok")
    assert "is made" in first and "expired" in again
    assert await count(db, Survey, Survey.code == "quick") == 1
    assert await count(db, AuditEntry, AuditEntry.action == "survey.create") == 1


async def test_discard_makes_nothing(db, programme, clock):
    olga = await owner(db, programme, clock)
    await build_small(olga)
    assert "no survey was made" in await olga.say("2")
    assert await stored(db, "quick") is None


# ------------------------------------------------------------------ who may

async def test_a_member_and_staff_are_refused_at_the_first_step(db, programme, clock):
    await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    refused = "Sorry, /survey new is for the owner, admins and operators."
    assert await alice.say("/survey new") == refused
    async with db.uow() as uow:
        await roles.grant(uow, 1, "staff", 2, clock.now)  # may send surveys, not build
        await uow.commit()
    assert await alice.say("/survey new") == refused
    assert await state(db, "alice") is None
    assert "/survey close is for" in await alice.say("/survey close nps")
    assert await count(db, AuditEntry, AuditEntry.action.like("survey.%")) == 0


async def test_a_revoked_operator_is_refused_mid_flow(db, programme, clock):
    await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    await say_all(alice, ["/survey new", "spring", "Spring"])
    assert await state(db, "alice") == "survey_new.words"
    async with db.uow() as uow:
        await roles.revoke(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    assert await alice.say("春天") == "Sorry, /survey new is for the owner, admins and operators."
    assert await state(db, "alice") is None
    assert "/survey new is for" in await alice.press("snew:same")  # a button too


# ------------------------------------------------------------------ bad input

async def test_bad_input_is_answered_and_changes_nothing(db, programme, clock):
    olga = await owner(db, programme, clock)
    await olga.say("/survey new")
    for bad in ("1abc", "tea time", "a" * 33, "茶"):
        assert "That is not a code" in await olga.say(bad)
    assert "“nps” exists already" in await olga.say("nps")  # the programme file's
    await olga.say("fine")
    assert "control character" in await olga.say("Tea\x07time")
    assert "too long: 601 characters, at most 600" in await olga.say("x" * 601)
    assert "title in English" in await olga.say("   ")  # nothing typed: asked again
    await say_all(olga, ["Fine", "1", "Intro", "1"])
    await say_all(olga, ["1", "Pick one", "1"])
    assert "at least 2 choices" in await olga.say("Only")
    eleven = "\n".join(f"C{i}" for i in range(11))
    assert "That is 11 choices; a question may have at most 10." in await olga.say(eleven)
    assert "same words" in await olga.say("A\nA")
    await olga.say("A\nB")
    assert "exactly 2 choices" in await olga.say("甲\n乙\n丙")
    assert "May members skip" in await olga.say("1")  # the same labels
    # A show-if button not offered (forged): expired, and the draft is kept.
    await olga.say("2")
    assert "expired" in await olga.press("snew:if:q9")
    assert await state(db, "olga") == "survey_new.more"
    assert "Choose 1–2." in await olga.say("7")
    await olga.say("2")
    await olga.say("5")
    assert "not a number of points" in await olga.say("lots")
    assert "not a number of points" in await olga.say("1000001")
    await olga.say("2")  # 2 points, not the second button (10)
    await say_all(olga, ["1", "2"])
    assert "not a day from today on" in await olga.say("2026-03-09")
    assert "not a day from today on" in await olga.say("tomorrow")
    await olga.say("2026-03-10")
    assert "Make survey “fine”" in olga.said[-1]
    await olga.say("1")
    definition = surveys.definition(await stored(db, "fine"))
    assert definition.reward_points == 2 and str(definition.closes) == "2026-03-10"
    assert [c.label.en for c in definition.questions[0].choices] == ["A", "B"]


async def test_twenty_questions_at_most(db, programme, clock):
    olga = await owner(db, programme, clock)
    await say_all(olga, ["/survey new", "long", "Long", "1", "Many", "1"])
    for n in range(1, 21):
        await say_all(olga, ["3", f"Question {n}?", "1", "2"])
        if n > 1:
            await olga.say("1")  # always asked
        if n < 20:
            assert f"{n} question{'s' if n > 1 else ''} so far" in olga.said[-1]
            await olga.say("1")
    assert "That is 20 questions, as many as a survey may have." in olga.said[-1]
    assert "how many points?" in olga.said[-1]
    assert "expired" in await olga.press("snew:more:add")
    await say_all(olga, ["1", "1", "1", "1"])
    assert len(surveys.definition(await stored(db, "long")).questions) == 20


async def test_a_code_taken_meanwhile_asks_a_new_code_and_keeps_the_rest(db, programme,
                                                                        clock):
    olga = await owner(db, programme, clock)
    olaf = member(db, programme, clock, user="olaf")
    await olaf.say("/start")  # member 2
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    await build_small(olga)
    await build_small(olaf)
    assert "is made" in await olaf.say("1")
    out = await olga.say("1")
    assert "was made meanwhile" in out and "type its code" in out
    assert "Make survey “quick2”" in await olga.say("quick2")  # the rest as it was
    assert "is made" in await olga.say("1")
    assert await count(db, Survey, Survey.source == "chat") == 2
    assert len(surveys.definition(await stored(db, "quick2")).questions) == 1


# ------------------------------------------------------------------ /survey close

async def test_close_a_chat_survey_and_a_file_survey(db, programme, clock):
    olga = await owner(db, programme, clock)
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    await build_small(olga)
    await olga.say("1")
    assert "is closed: nobody is sent it" in await olga.say("/survey close quick")
    assert "closed already" in await olga.say("/survey close quick")
    assert "There is no survey “nope”" in await olga.say("/survey close nope")
    assert "Close a survey" in await olga.say("/survey close")
    out = await olga.say("/survey close NPS")
    assert "stays closed until the file changes it" in out
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert "closed" in await olga.say("/survey send quick 2")
    async with db.uow() as uow:  # a restart with the same file
        assert await surveys.keep_from_file(uow, programme, T0) == 0
        await uow.commit()
    assert (await stored(db, "quick")).closed  # a chat survey stays closed
    assert (await stored(db, "nps")).closed  # and so does the file's, closed by staff
    assert await count(db, AuditEntry, AuditEntry.action == "survey.close") == 2
    nps = next(s for s in programme.surveys if s.code == "nps")
    changed = programme.model_copy(update={"surveys": [
        nps.model_copy(update={"reward_points": nps.reward_points + 5}) if s is nps else s
        for s in programme.surveys]})
    async with db.uow() as uow:  # a new version of it in the file opens it again
        assert await surveys.keep_from_file(uow, changed, T0) == 1
        await uow.commit()
    assert not (await stored(db, "nps")).closed


async def test_a_survey_the_file_dropped_opens_when_listed_again(db, programme):
    """Closed by the file, not by staff: listing it again reopens it."""
    nps = [s for s in programme.surveys if s.code == "nps"]
    without = programme.model_copy(update={"surveys": [
        s for s in programme.surveys if s.code != "nps"]})
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        assert await surveys.keep_from_file(uow, without, T0) == 1
        assert (await surveys.by_code(uow, "nps")).closed_by == "file"
        assert await surveys.keep_from_file(uow, programme, T0) == 1
        reopened = await surveys.by_code(uow, "nps")
        assert nps and not reopened.closed and reopened.closed_by is None


async def test_choices_typed_on_one_line_between_semicolons(db, programme, clock):
    """WeChat and the console send a line per message: the choices fit on one line,
    between semicolons (either width) or bars; a comma stays inside a choice."""
    olga = await owner(db, programme, clock)
    await say_all(olga, ["/survey new", "drinks", "Drinks", "1", "Intro", "1", "1",
                         "Pick one", "1"])
    assert "separated by “;”" in olga.said[-1]
    # Choices that differ only by case or width read the same to a member.
    assert "Two choices have the same words" in await olga.say("Tea; TEA|Ｔｅａ")
    await olga.say("Tea; Coffee, iced ;Juice")
    assert "exactly 3 choices" in await olga.say("茶；咖啡")
    assert "May members skip" in await olga.say("茶；冰咖啡|果汁")
    await say_all(olga, ["1", "2", "1", "1", "1"])
    assert "Make survey “drinks”" in olga.said[-1], olga.said[-1]
    await olga.say("1")
    definition = surveys.definition(await stored(db, "drinks"))
    assert [(c.label.en, c.label.zh_Hans) for c in definition.questions[0].choices] == [
        ("Tea", "茶"), ("Coffee, iced", "冰咖啡"), ("Juice", "果汁")]
