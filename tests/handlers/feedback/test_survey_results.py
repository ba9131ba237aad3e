"""/survey results: the funnel, shares per answer, a rating's average, NPS overall and
by tier, the latest free text; counted by the database on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.feedback import results, surveys
from domain.feedback.results import nps_of
from tests.support.survey_given import answered as answered_at
from tests.support.transcript import Clock, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def answered(db, programme, code: str, people: list[tuple[str | None, dict]]) -> None:
    """Each (tier, answers) is a member who got the survey and gave those answers."""
    await answered_at(db, programme, code, [given for _, given in people], T0,
                      tiers=[tier for tier, _ in people])


def test_nps_is_promoters_less_detractors_in_whole_percent():
    from collections import Counter
    assert nps_of(Counter({10: 2, 8: 1, 3: 1})) == 25  # 50% - 25%
    assert nps_of(Counter({0: 2, 9: 1})) == -33  # 33.3% - 66.7%
    assert nps_of(Counter({6: 1, 9: 1, 7: 6})) == 0
    assert nps_of(Counter({1: 1, 2: 1, 10: 1, 8: 5})) == -13  # -12.5 rounds away from 0
    assert nps_of(Counter()) is None


async def test_results_of_the_nps_survey_in_english(db, programme, clock):
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    await answered(db, programme, "nps", [
        ("gold", {"score": 10, "why": "Lovely tea"}),
        ("gold", {"score": 9, "why": None}),
        ("silver", {"score": 3, "why": "Too slow"}),
        (None, {"score": 8}),  # opened, not finished
        (None, {}),  # sent only
    ])
    async with db.uow() as uow:
        found = await results.of(uow, await surveys.by_code(uow, "nps"))
    assert (found.funnel.sent, found.funnel.opened, found.funnel.completed) == (5, 4, 3)
    score, why = found.questions
    assert score.answered == 4 and score.nps == 25 and score.average_tenths == 75
    assert score.nps_by_tier == {"gold": 100, "silver": -100, None: 0}
    assert why.answered == 2 and why.skipped == 1 and why.texts == ["Too slow", "Lovely tea"]

    olga = await owner(db, programme, clock)
    out = await olga.say("/survey results nps")
    assert out.startswith("Results of nps — How likely are you to recommend us?\n"
                          "Sent 5 · opened 4 (80%) · completed 3 (60%)")
    assert "NPS +25 from 4 answers (average 7.5)" in out
    assert "  Gold: +100\n  Silver: -100\n  no tier: +0" in out
    assert "2 answers · skipped 1; the latest:\n  “Too slow”\n  “Lovely tea”" in out


async def test_results_of_choices_and_ratings_in_chinese(db, programme, clock):
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    await answered(db, programme, "satisfaction", [
        (None, {"overall": 5, "liked": ["tea", "place"], "comment": None}),
        (None, {"overall": 2, "problem": "wait", "comment": "排队太久"}),  # liked: not asked
        (None, {"overall": 4, "liked": ["service"], "comment": None}),
    ])
    olga = await owner(db, programme, clock, locale="zh_Hans")
    out = await olga.say("/survey results satisfaction")
    assert "已发送 3 · 已开始 3（100%）· 已完成 3（100%）" in out
    assert "平均 3.7 分，共 3 条回答" in out
    assert "1: 0%  2: 33%  3: 0%  4: 33%  5: 33%" in out
    assert "  茶品：1（50%）\n  服务：1（50%）\n  环境：1（50%）\n  价格：0（0%）" in out
    assert "  等待太久：1（100%）" in out
    assert "  “排队太久”" in out
    assert (await olga.say("/survey results")).startswith("查看问卷结果")
    assert (await olga.say("/survey results nope")).startswith("没有代码为“nope”的问卷")
