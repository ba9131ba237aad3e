"""What a survey's responses say: the funnel, and each question's answers.

Counted by the database (GROUP BY over responses and answers), so a survey with a
hundred thousand responses is summed where it lies; only the counts and the latest
free-text answers come back. Answers to a question the member was not asked in the
end (a changed answer hid it) were dropped when it changed, so every answer counts.
NPS is the share of 9-10 minus the share of 0-6, in whole percent, overall and by the
tier members hold now.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, select

from domain.feedback import responses, surveys
from domain.feedback.definitions import SurveyDef
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members.tables import Member
from domain.storage.database import UnitOfWork

LATEST_TEXTS = 5


@dataclass(frozen=True)
class Funnel:
    sent: int
    opened: int
    completed: int


@dataclass
class QuestionResult:
    code: str
    kind: str
    answered: int = 0
    skipped: int = 0
    counts: Counter[Any] = field(default_factory=Counter)  # choice code or score -> n
    total: int = 0  # the sum of scores, for the average
    texts: list[str] = field(default_factory=list)  # the latest first
    nps_by_tier: dict[str | None, int] = field(default_factory=dict)

    @property
    def average_tenths(self) -> int | None:
        """The average score in tenths (4.3 -> 43): integers all the way."""
        return None if not self.answered else (self.total * 10 + self.answered // 2) \
            // self.answered

    @property
    def nps(self) -> int | None:
        return nps_of(self.counts) if self.kind == "nps" else None


def nps_of(counts: Counter[Any]) -> int | None:
    answered = sum(counts.values())
    if not answered:
        return None
    promoters = sum(n for score, n in counts.items() if score >= 9)
    detractors = sum(n for score, n in counts.items() if score <= 6)
    share = (promoters - detractors) * 100
    whole = (2 * abs(share) + answered) // (2 * answered)  # to the nearest, halves away
    return whole if share >= 0 else -whole


async def tallies(uow: UnitOfWork) -> dict[int, tuple[int, int]]:
    """(sent, completed) by survey id, for the list of surveys."""
    found: dict[int, tuple[int, int]] = {}
    for survey_id, status, n in await uow.session.execute(
            select(SurveyResponse.survey_id, SurveyResponse.status, func.count())
            .where(SurveyResponse.status != responses.WITHDRAWN)
            .group_by(SurveyResponse.survey_id, SurveyResponse.status)):
        sent, completed = found.get(survey_id, (0, 0))
        found[survey_id] = (sent + n, completed + (n if status == responses.COMPLETED else 0))
    return found


@dataclass(frozen=True)
class Results:
    survey: Survey
    definition: SurveyDef
    funnel: Funnel
    questions: list[QuestionResult]


async def of(uow: UnitOfWork, survey: Survey) -> Results:
    definition = surveys.definition(survey)
    by_status = dict((await uow.session.execute(
        select(SurveyResponse.status, func.count()).where(SurveyResponse.survey_id == survey.id)
        .group_by(SurveyResponse.status))).all())
    opened = await uow.session.scalar(select(func.count()).where(
        SurveyResponse.survey_id == survey.id, SurveyResponse.opened_at.is_not(None)))
    by_status.pop(responses.WITHDRAWN, None)  # never sent
    funnel = Funnel(sum(by_status.values()), opened or 0,
                    by_status.get(responses.COMPLETED, 0))
    found = {q.code: QuestionResult(q.code, q.kind) for q in definition.questions}
    mine = SurveyAnswer.response_id.in_(
        select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id))
    counted = [q.code for q in definition.questions if q.kind != "text"]
    if counted:  # JSON is grouped as its text: PostgreSQL's json has no equality
        as_text = cast(SurveyAnswer.value, Text)
        rows = await uow.session.execute(
            select(SurveyAnswer.question, as_text, func.count())
            .where(mine, SurveyAnswer.question.in_(counted))
            .group_by(SurveyAnswer.question, as_text))
        for code, value, n in rows:
            _count(found[code], None if value is None else json.loads(value), n)
    for q in definition.questions:
        result = found[q.code]
        if q.kind == "text":
            await _texts(uow, survey, result)
        elif q.kind == "nps":
            await _nps_by_tier(uow, survey, result)
    return Results(survey, definition, funnel, [found[q.code] for q in definition.questions])


def _count(result: QuestionResult, value: Any, n: int) -> None:
    if value is None:
        result.skipped += n
        return
    result.answered += n
    for one in value if isinstance(value, list) else [value]:
        result.counts[one] += n
        if isinstance(one, int):
            result.total += one * n


async def _texts(uow: UnitOfWork, survey: Survey, result: QuestionResult) -> None:
    """How many answered or skipped, counted by the database; the latest few read."""
    theirs = (select(SurveyAnswer.value)
              .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
              .where(SurveyResponse.survey_id == survey.id,
                     SurveyAnswer.question == result.code))
    skipped = SurveyAnswer.value.is_(None)
    for none, n in await uow.session.execute(
            theirs.with_only_columns(skipped, func.count()).group_by(skipped)):
        if none:
            result.skipped += n
        else:
            result.answered += n
    latest = theirs.where(~skipped).order_by(SurveyAnswer.answered_at.desc(),
                                             SurveyAnswer.id.desc()).limit(LATEST_TEXTS)
    result.texts = [str(value) for (value,) in await uow.session.execute(latest)]


async def _nps_by_tier(uow: UnitOfWork, survey: Survey, result: QuestionResult) -> None:
    per_tier: dict[str | None, Counter[int]] = {}
    as_text = cast(SurveyAnswer.value, Text)
    rows = await uow.session.execute(
        select(Member.tier, as_text, func.count())
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .join(Member, Member.id == SurveyResponse.member_id)
        .where(SurveyResponse.survey_id == survey.id, SurveyAnswer.question == result.code)
        .group_by(Member.tier, as_text))
    for tier, value, n in rows:
        score = None if value is None else json.loads(value)
        if isinstance(score, int):
            per_tier.setdefault(tier, Counter())[score] += n
    result.nps_by_tier = {tier: score for tier, counts in per_tier.items()
                          if (score := nps_of(counts)) is not None}
