"""A member's turn at a survey: sent, answered one question at a time, completed.

Every answer is its own short transaction on the response's row, locked first, so a
double tap or a redelivered update finds the answer already there and changes
nothing twice. An answer can be changed until the response is completed; a changed
answer that hides a later question drops that question's answer. Completion is a
conditional update from "open", so only one transaction ever wins it, and only that
one pays the reward (points through the ledger, keyed by the response).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, cast, delete, func, or_, select, update

from domain.config import Programme
from domain.errors import Refused
from domain.feedback import surveys
from domain.feedback.definitions import Question, SurveyDef
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members import members
from domain.notices import announce, notices
from domain.notices.tables import Notice
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.rewards import gifts
from domain.storage.database import UnitOfWork
from domain.support import alerts

SENT, OPEN, COMPLETED = "sent", "open", "completed"
# Closed before its invitation went out: the member never heard of it, and it is not
# counted as sent.
WITHDRAWN = "withdrawn"
UNFINISHED = (SENT, OPEN)
INVITE = "survey:invite:"  # + response id: the invitation's notice key
LOW = {"nps": 6, "rating": 2}  # a completed survey with a score this low alerts staff


class SurveyRefused(Refused):
    """closed, opted_out, answered, not_asked, required, invalid, finished."""


@dataclass(frozen=True)
class Progress:
    response: SurveyResponse
    survey: Survey
    definition: SurveyDef
    answers: dict[str, Any]

    @property
    def next(self) -> Question | None:
        return self.definition.next_question(self.answers)

    @property
    def position(self) -> tuple[int, int]:
        """(this question's number, how many are asked), as the member sees them."""
        asked = self.definition.asked(self.answers)
        done = sum(q.code in self.answers for q in asked)
        return done + 1, len(asked)

    @property
    def how_many(self) -> tuple[int, int]:
        """The fewest and most questions they can be asked in all: "of up to 3" while
        an answer still to give decides, rather than "1 of 1" then "2 of 3"."""
        return self.definition.how_many(self.answers)

    @property
    def completed(self) -> bool:
        return self.response.status == COMPLETED


@dataclass(frozen=True)
class Reward:
    points: int = 0
    coupon: str | None = None  # the catalogue item given
    out_of_stock: str | None = None  # the item that was not


def is_closed(survey: Survey, definition: SurveyDef, programme: Programme,
              now: datetime) -> bool:
    return survey.closed or (definition.closes is not None
                             and now.astimezone(programme.zone).date() > definition.closes)


async def send(uow: UnitOfWork, programme: Programme, survey: Survey, member_id: int,
               via: str, now: datetime, occasion: str = "",
               apart: bool = False) -> Progress:
    """The member's response for this occasion, made if new. Refused when the survey is
    closed, the member turned surveys off, or they have completed it already. An
    unfinished response of another occasion stands in for this one, unless each
    occasion stands `apart` (a rating per support conversation)."""
    definition = surveys.definition(survey)
    if is_closed(survey, definition, programme, now):
        raise SurveyRefused("closed", survey=survey.code)
    if await surveys.opted_out(uow, member_id):
        raise SurveyRefused("opted_out")
    same = SurveyResponse.occasion == occasion if apart else SurveyResponse.status.in_(
        UNFINISHED)
    waiting = await uow.session.scalar(select(SurveyResponse.id).where(
        SurveyResponse.survey_id == survey.id, SurveyResponse.member_id == member_id,
        same).order_by(SurveyResponse.id).limit(1))
    # One response per member: the one they have not finished, else this occasion's.
    if waiting is None:
        waiting = (await open_many(uow, survey.id, [member_id], via, occasion, now))[member_id]
    found = await progress(uow, waiting, member_id)
    assert found is not None
    if found.completed:
        raise SurveyRefused("answered", survey=survey.code)
    return found


def new_responses(uow: UnitOfWork, survey_id: int, member_ids: list[int], via: str,
                  occasion: str, now: datetime) -> Any:
    """The INSERT of these members' responses for this occasion; one that exists
    already is left as it is."""
    return uow.upsert(SurveyResponse).values([dict(
        survey_id=survey_id, member_id=m, occasion=occasion, via=via, status=SENT,
        sent_at=now, updated_at=now) for m in member_ids]).on_conflict_do_nothing(
        index_elements=["survey_id", "member_id", "occasion"])


async def open_many(uow: UnitOfWork, survey_id: int, member_ids: list[int], via: str,
                    occasion: str, now: datetime) -> dict[int, int]:
    """The response of each member for this occasion, made where new: member id to
    response id. A response met again (a claim repeated after a crash) is kept as is."""
    await uow.session.execute(new_responses(uow, survey_id, member_ids, via, occasion, now))
    return {row.member_id: row.id for row in await uow.session.execute(
        select(SurveyResponse.member_id, SurveyResponse.id).where(
            SurveyResponse.survey_id == survey_id, SurveyResponse.occasion == occasion,
            SurveyResponse.member_id.in_(member_ids)))}


async def invite(uow: UnitOfWork, survey_title: dict[str, str],
                 sent: list[tuple[int, int]], now: datetime) -> None:
    """The invitation notice of each (response id, member id), once per response."""
    await announce.tell_many(uow, [(member_id, "survey.invite",
                                    {"title": {"$local": survey_title}},
                                    f"{INVITE}{response_id}")
                                   for response_id, member_id in sent], now)




async def withdraw(uow: UnitOfWork, survey_id: int) -> int:
    """The survey was closed: invitations still waiting to go out are withdrawn with
    their responses, so nobody is invited to a survey they can no longer answer. One
    on its way already is not stopped; answering it says the survey is closed."""
    invited = cast(func.substr(Notice.idempotency_key, len(INVITE) + 1), Integer)
    keys = list(await uow.session.scalars(
        update(Notice).where(
            Notice.status == "pending", Notice.key == "survey.invite",
            select(SurveyResponse.id).where(
                SurveyResponse.id == invited, SurveyResponse.survey_id == survey_id,
                SurveyResponse.status == SENT).exists())
        .values(status=notices.WITHDRAWN).returning(Notice.idempotency_key)
        .execution_options(synchronize_session=False)))
    ids = [int(key.removeprefix(INVITE)) for key in keys]
    if ids:
        await uow.session.execute(update(SurveyResponse).where(
            SurveyResponse.id.in_(ids), SurveyResponse.status == SENT)
            .values(status=WITHDRAWN).execution_options(synchronize_session=False))
    return len(ids)


_R, _S = SurveyResponse.__table__, Survey.__table__
_PROGRESS = select(_R, *(c.label(f"s_{c.name}") for c in _S.c)).join(
    _S, _S.c.id == _R.c.survey_id).where(_R.c.id == bindparam("b_id"),
                                          _R.c.member_id == bindparam("b_member"))
_PROGRESS_LOCKED = _PROGRESS.with_for_update(of=_R)
_A = SurveyAnswer.__table__
# The statements every answer runs, built once (on SQLite a repeated statement runs
# straight on sqlite3: domain.storage.sqlite_direct).
_ANSWERS = select(_A.c.question, _A.c.value).where(_A.c.response_id == bindparam("b_id"))
_ADD = _A.insert().values(response_id=bindparam("b_id"), question=bindparam("b_question"),
                          value=bindparam("b_value", type_=_A.c.value.type),
                          answered_at=bindparam("b_now", type_=_A.c.answered_at.type))
_CHANGE = (update(_A).where(_A.c.response_id == bindparam("b_id"),
                            _A.c.question == bindparam("b_question"))
           .values(value=bindparam("b_value", type_=_A.c.value.type),
                   answered_at=bindparam("b_now", type_=_A.c.answered_at.type)))
# (The statuses as ORs, not IN: an IN list would take SQLAlchemy's slower path.)
_ANSWERED = (update(_R).where(_R.c.id == bindparam("b_id"),
                              or_(*(_R.c.status == status for status in UNFINISHED)))
             .values(status=bindparam("b_status"),
                     opened_at=bindparam("b_opened", type_=_R.c.opened_at.type),
                     updated_at=bindparam("b_now", type_=_R.c.updated_at.type),
                     completed_at=bindparam("b_completed", type_=_R.c.completed_at.type))
             .returning(_R.c.status))


async def progress(uow: UnitOfWork, response_id: int, member_id: int,
                   lock: bool = False) -> Progress | None:
    """The member's own response (None for anybody else's), with its survey. Read as
    plain rows (every answer reads it): the objects are detached snapshots, changed
    only by the statements here."""
    # SQLite's BEGIN IMMEDIATE already holds the lock.
    stmt = _PROGRESS_LOCKED if lock and uow.dialect == "postgresql" else _PROGRESS
    row = (await uow.execute(stmt, {"b_id": response_id, "b_member": member_id})).first()
    if row is None:
        return None
    values = dict(row._mapping)
    survey = Survey(**{c.name: values[f"s_{c.name}"] for c in _S.c})
    response = SurveyResponse(**{c.name: values[c.name] for c in _R.c})
    return Progress(response, survey, surveys.definition(survey),
                    await _answers(uow, response.id))


async def unfinished(uow: UnitOfWork, programme: Programme, member_id: int,
                     now: datetime, closed: bool = False) -> Progress | None:
    """Their latest survey still to finish and still open, to come back to; with
    `closed`, the latest one that closed before they finished it (an invitation that
    was on its way when staff closed the survey)."""
    waiting = await uow.session.scalars(
        select(SurveyResponse.id).where(SurveyResponse.member_id == member_id,
                                        SurveyResponse.status.in_(UNFINISHED))
        .order_by(SurveyResponse.sent_at.desc(), SurveyResponse.id.desc()).limit(20))
    for response_id in list(waiting):
        found = await progress(uow, response_id, member_id)
        if found is not None and is_closed(found.survey, found.definition, programme,
                                           now) == closed:
            return found
    return None


@dataclass(frozen=True)
class Answered:
    progress: Progress
    changed: bool  # False: the same answer again (a double tap), nothing written
    reward: Reward | None  # set once, when this answer completed the survey


async def answer(uow: UnitOfWork, programme: Programme, response_id: int, member_id: int,
                 question: str, value: Any, now: datetime) -> Answered:
    """Record (or change) one answer; `value` None skips an optional question."""
    found = await progress(uow, response_id, member_id, lock=True)
    if found is None:
        raise SurveyRefused("not_asked")
    if found.completed:
        raise SurveyRefused("finished", survey=found.survey.code)
    if is_closed(found.survey, found.definition, programme, now):
        raise SurveyRefused("closed", survey=found.survey.code)
    # Answerable: one answered already (to change it) or the one asked now; never a
    # later question (a forged button skipping ahead of a required score).
    upcoming = found.next
    asked = {q.code: q for q in found.definition.asked(found.answers)
             if q.code in found.answers or (upcoming is not None and q.code == upcoming.code)}
    q = asked.get(question)
    if q is None:
        raise SurveyRefused("not_asked")
    if value is None and not q.optional:
        raise SurveyRefused("required")
    if value is not None and not q.valid(value):
        raise SurveyRefused("invalid", kind=q.kind)
    if q.kind == "multiple" and value is not None:  # in the question's order, always
        value = [c.code for c in q.choices if c.code in value]
    if question in found.answers and found.answers[question] == value:
        return Answered(found, changed=False, reward=None)
    answers = {**found.answers, question: value}
    await _store(uow, response_id, question, value, question in found.answers, now)
    # A changed answer may hide questions answered before: their answers go.
    still = {q.code for q in found.definition.asked(answers)}
    hidden = [code for code in answers if code not in still]
    if hidden:
        await uow.session.execute(delete(SurveyAnswer).where(
            SurveyAnswer.response_id == response_id, SurveyAnswer.question.in_(hidden)))
        answers = {k: v for k, v in answers.items() if k in still}
    response = found.response
    opened = response.opened_at or now
    done = found.definition.next_question(answers) is None
    # One conditional UPDATE: completing is won by one transaction only.
    status = await uow.scalar(_ANSWERED, {
        "b_id": response_id, "b_status": COMPLETED if done else OPEN, "b_opened": opened,
        "b_now": now, "b_completed": now if done else None})
    response.opened_at, response.updated_at = opened, now  # as written
    reward = None
    if status is not None:
        response.status = status
    if status == COMPLETED:
        response.completed_at = now
        reward = await _pay(uow, programme, found, now)
        if low_scores(found.definition, answers):
            await alerts.alert_staff(uow, programme, response.member_id, "survey.low_score",
                                     _alert(found, answers), now)
    return Answered(Progress(response, found.survey, found.definition, answers),
                    changed=True, reward=reward)


def low_scores(definition: SurveyDef, answers: dict[str, Any]) -> list[str]:
    """The questions answered with a score at or below LOW: NPS 0-6, a rating of 1-2."""
    return [q.code for q in definition.questions if q.kind in LOW
            and isinstance(answers.get(q.code), int) and answers[q.code] <= LOW[q.kind]]


def _alert(found: Progress, answers: dict[str, Any]) -> dict[str, Any]:
    """What staff are told: the member's number and every answer they gave, in words."""
    return {"number": members.member_number(found.response.member_id),
            "survey": {"$local": found.definition.title.model_dump()},
            "answers": alerts.survey_answers(found.definition, answers),
            "response": found.response.id}


async def _pay(uow: UnitOfWork, programme: Programme, found: Progress,
               now: datetime) -> Reward:
    definition, member_id = found.definition, found.response.member_id
    points = definition.reward_points
    if points:
        await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=points, kind="earn", reason="survey_completed",
            key=f"survey:{found.response.id}",
            # The title as it was: the statement names the survey, even one made in
            # chat or dropped from the file since.
            params={"survey": found.survey.code, "title": definition.title.model_dump()},
            expires_at=expires_at(programme.expiry, programme, now)), now)
    if definition.reward is None:
        return Reward(points)
    coupon = await gifts.give_coupon(uow, programme, member_id, definition.reward, now)
    if coupon is None:
        return Reward(points, out_of_stock=definition.reward)
    return Reward(points, coupon=definition.reward)


async def _answers(uow: UnitOfWork, response_id: int) -> dict[str, Any]:
    rows = await uow.execute(_ANSWERS, {"b_id": response_id})
    return {row.question: row.value for row in rows}


async def _store(uow: UnitOfWork, response_id: int, question: str, value: Any,
                 known: bool, now: datetime) -> None:
    """Write one answer: a new row, or the answer it changes (`known`: read with the
    response, under its lock)."""
    await uow.execute(_CHANGE if known else _ADD, {
        "b_id": response_id, "b_question": question, "b_value": value, "b_now": now})
