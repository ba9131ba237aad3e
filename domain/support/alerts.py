"""Telling staff something about a member: in the staff chat (the member's topic)
when there is one, else as a notice to every staff member who answers members (the
"support" permission), each in their own chat and language."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from domain.config import Programme
from domain.feedback.definitions import SCALES, Question, SurveyDef
from domain.notices import announce
from domain.staff import roles
from domain.storage.database import UnitOfWork
from domain.support import staff_chat


async def support_staff(uow: UnitOfWork) -> list[int]:
    """The members whose role lets them answer members, in id order."""
    return await roles.holders(uow, "support")


async def tell_staff(uow: UnitOfWork, member_id: int | None, key: str, params: dict[str, Any],
                     idempotency_key: str, now: datetime) -> None:
    if await staff_chat.post(uow, member_id, key, params, idempotency_key, now):
        return
    await announce.tell_many(uow, [(staff_id, key, params, f"{idempotency_key}:to:{staff_id}")
                                   for staff_id in await support_staff(uow)], now)


async def alert_staff(uow: UnitOfWork, programme: Programme, member_id: int, key: str,
                      params: dict[str, Any], now: datetime) -> None:
    """An alert about a member (a low survey score): `key` is a translation key and
    `params` its parameters, as a notice's (tagged values allowed). The same alert
    about the same member with the same parameters is given once."""
    digest = hashlib.sha256(json.dumps([key, member_id, params], sort_keys=True,
                                       default=str).encode()).hexdigest()[:32]
    await tell_staff(uow, member_id, key, params, f"support:alert:{digest}", now)


SHOWN = 200  # characters of a free-text answer in an alert
QUESTION_SHOWN = 80  # characters of a question's words


def survey_answers(definition: SurveyDef, answers: dict[str, Any]) -> dict[str, Any]:
    """A survey's answers as staff read them in an alert (the `answers` of
    "survey.low_score"): each question asked, by its words, and its answer, a choice by
    its words too, never its code; a score out of its scale, a skipped question as
    "-". In every language the survey is worded in ("$local"), so each reader, or the
    staff chat, reads their own."""
    asked = definition.asked(answers)
    languages = definition.title.model_dump()
    return {"$local": {language: "\n".join(
        _answer_line(n, q, answers.get(q.code), language)
        for n, q in enumerate(asked, start=1)) for language in languages}}


def _answer_line(number: int, q: Question, value: Any, language: str) -> str:
    text = _cut(q.text.get(language), QUESTION_SHOWN)
    if value is None:
        shown = "-"
    elif q.kind in SCALES:
        shown = f"{value}/{SCALES[q.kind][-1]}"
    elif q.choices:
        labels = {c.code: c.label.get(language) for c in q.choices}
        chosen = value if isinstance(value, list) else [value]
        shown = ", ".join(labels.get(str(c), str(c)) for c in chosen)
    else:
        shown = _cut(str(value), SHOWN)
    return f"{number}. {text}\n   {shown}"


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"
