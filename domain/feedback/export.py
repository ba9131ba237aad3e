"""A survey's responses as plain rows, one per response, for a CSV export.

Members are named by their member number only: never a phone or a name, so a file
that leaves the shop carries no contact details. Read in pages by response id (a
keyset, not OFFSET), each page its own short query, so a hundred thousand responses
never hold the event loop for long; the caller reads inside a snapshot, which sees
one committed state throughout and takes no write lock. Responses come status by
status (completed first), ids ascending within each: the index on (survey, status)
then hands each page over in order, where ordering the whole survey by id would sort
every response of it again for each page.

A choice question has two columns: its codes (`liked`: `tea;place`), stable whatever
the wording becomes, for counting and joining, and their words in one language
(`liked.label`: `The tea; The place`), for reading. `.` is in no question's code, so
the two never clash.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Text, cast, select

from domain.feedback import responses
from domain.feedback.definitions import Question, SurveyDef
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members.members import member_number
from domain.storage.database import UnitOfWork

# Responses per page: with up to 20 answers each, a page's rows are read and turned
# into cells in a few milliseconds.
PAGE = 250
COLUMNS = ("member", "status", "via", "sent_at", "opened_at", "completed_at")
MANY = ";"  # between the choices of a multiple-choice answer
MANY_LABELS = "; "  # between their words
LABEL = ".label"  # after a choice question's code: the column of its words


def header(definition: SurveyDef) -> list[str]:
    """The column codes: the response's own, then each question's code, and after a
    choice question's the column of its words."""
    return [*COLUMNS, *(name for q in definition.questions for name in _columns(q))]


def _columns(q: Question) -> tuple[str, ...]:
    return (q.code, q.code + LABEL) if q.choices else (q.code,)


async def pages(uow: UnitOfWork, survey: Survey, definition: SurveyDef, language: str,
                page: int = PAGE, zone: tzinfo = UTC) -> AsyncIterator[list[list[str]]]:
    """The rows of every response, `page` responses at a time: completed, open, sent
    (then any other status), oldest first within each. A question the member was not
    asked, or skipped, is an empty cell; choices are worded in `language`, times in
    `zone` (the programme's, with its offset, as the shop reads its clock)."""
    questions = definition.questions
    statuses = sorted(await uow.session.scalars(
        select(SurveyResponse.status).where(SurveyResponse.survey_id == survey.id)
        .group_by(SurveyResponse.status)),
        key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
    for status in statuses:
        async for found in _responses(uow, survey, status, page):
            yield await _rows(uow, found, questions, language, zone)


ORDER = (responses.COMPLETED, responses.OPEN, responses.SENT)


async def _responses(uow: UnitOfWork, survey: Survey, status: str,
                     page: int) -> AsyncIterator[Sequence[Any]]:
    after = 0
    while True:
        found = (await uow.session.execute(
            select(SurveyResponse.id, SurveyResponse.member_id, SurveyResponse.status,
                   SurveyResponse.via, SurveyResponse.sent_at, SurveyResponse.opened_at,
                   SurveyResponse.completed_at)
            .where(SurveyResponse.survey_id == survey.id, SurveyResponse.status == status,
                   SurveyResponse.id > after)
            .order_by(SurveyResponse.id).limit(page))).all()
        if not found:
            return
        yield found
        after = found[-1].id


async def _rows(uow: UnitOfWork, found: Sequence[Any], questions: Sequence[Question],
                language: str, zone: tzinfo) -> list[list[str]]:
    given: dict[int, dict[str, Any]] = {}
    # The JSON as its text, parsed here: one json.loads a cell, no type machinery.
    for response_id, question, value in await uow.session.execute(
            select(SurveyAnswer.response_id, SurveyAnswer.question,
                   cast(SurveyAnswer.value, Text))
            .where(SurveyAnswer.response_id.in_([r.id for r in found]))):
        given.setdefault(response_id, {})[question] = \
            None if value is None else json.loads(value)
    words = {q.code: {c.code: c.label.get(language) for c in q.choices} for q in questions
             if q.choices}
    return [[member_number(r.member_id), r.status, r.via, moment(r.sent_at, zone),
             moment(r.opened_at, zone), moment(r.completed_at, zone),
             *(text for q in questions
               for text in _cells(given.get(r.id, {}).get(q.code), words.get(q.code)))]
            for r in found]


def _cells(value: Any, words: dict[str, str] | None) -> tuple[str, ...]:
    """A question's cells: its answer, and for a choice question the choices' words
    (a choice the survey no longer has keeps its code there)."""
    if words is None:
        return (cell(value),)
    chosen = [] if value is None else value if isinstance(value, list) else [value]
    return cell(value), MANY_LABELS.join(words.get(str(c), str(c)) for c in chosen)


def cell(value: Any) -> str:
    """An answer as text: choices joined by MANY, a score as its digits."""
    if value is None:
        return ""
    if isinstance(value, list):
        return MANY.join(str(v) for v in value)
    return str(value)


def moment(value: datetime | None, zone: tzinfo = UTC) -> str:
    """ISO 8601 to the second in `zone`, with its offset (`2026-03-10T10:00:00+08:00`;
    `Z` for UTC), which a spreadsheet or a script reads back to the same instant;
    empty when it never was."""
    if value is None:
        return ""
    shown = value.astimezone(zone).isoformat(timespec="seconds")
    return shown.removesuffix("+00:00") + "Z" if shown.endswith("+00:00") else shown
