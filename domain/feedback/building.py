"""Surveys an operator makes in chat (`/survey new`), and closing any survey.

A survey made in chat is kept with source "chat": keep_from_file changes and closes
rows of source "file" only, so the programme file never touches it. It is checked by
the same SurveyDef as the file's, and then by what only the programme and the table
know: its code is free (in the table and in the file, which would otherwise lose its
survey at the next start), its coupon is in the catalogue, its close date is neither
past nor more than CLOSES_WITHIN_YEARS ahead (9999-12-31 is a slip, not a plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from domain.campaigns import campaigns
from domain.config import Programme
from domain.errors import Refused
from domain.feedback import follow_ups, responses, surveys
from domain.feedback.definitions import SurveyDef
from domain.feedback.tables import Survey
from domain.staff import audit
from domain.staff.tables import AuditEntry
from domain.storage.database import UnitOfWork

CHAT = "chat"
CLOSES_WITHIN_YEARS = 2


class BuildRefused(Refused):
    """invalid, code_taken, reward, closes, closes_far, trigger, unknown, already_closed."""


def latest_close(today: date) -> date:
    """The last close date a survey may be given: CLOSES_WITHIN_YEARS from today (the
    28th of February for a 29th that the year lacks)."""
    year = today.year + CLOSES_WITHIN_YEARS
    try:
        return today.replace(year=year)
    except ValueError:
        return today.replace(year=year, day=28)


@dataclass(frozen=True)
class Built:
    survey: Survey
    duplicate: bool  # the same request again (a double tap): nothing new was made


async def taken(uow: UnitOfWork, programme: Programme, code: str) -> bool:
    """Whether a survey has this code already, in the table or in the programme file."""
    if any(s.code == code for s in programme.surveys):
        return True
    return await surveys.by_code(uow, code) is not None


def check(draft: dict[str, Any], programme: Programme, now: datetime) -> SurveyDef:
    """The draft as a SurveyDef, or BuildRefused with what is wrong."""
    try:
        definition = SurveyDef.model_validate(draft)
    except ValidationError as error:
        raise BuildRefused("invalid", count=len(error.errors())) from error
    if any(s.code == definition.code for s in programme.surveys):
        raise BuildRefused("code_taken", survey=definition.code)
    if definition.reward is not None and programme.reward(definition.reward) is None:
        raise BuildRefused("reward", reward=definition.reward)
    today = now.astimezone(programme.zone).date()
    if definition.closes is not None and definition.closes < today:
        raise BuildRefused("closes", closes=definition.closes.isoformat())
    if definition.closes is not None and definition.closes > latest_close(today):
        raise BuildRefused("closes_far", closes=definition.closes.isoformat(),
                           latest=latest_close(today).isoformat())
    if definition.trigger is not None:  # the scheduler reads triggers from the file only
        raise BuildRefused("trigger")
    return definition


async def create(uow: UnitOfWork, programme: Programme, draft: dict[str, Any],
                 author_id: int, key: str, now: datetime) -> Built:
    """Write the survey once per `key`: the same key again finds the survey it made."""
    definition = check(draft, programme, now)
    actor = audit.member_actor(author_id)
    new_id = await uow.session.scalar(
        uow.upsert(Survey).values(
            code=definition.code, source=CHAT, definition=definition.model_dump(mode="json"),
            closed=False, created_by=actor, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["code"]).returning(Survey.id))
    if new_id is None:
        existing = await surveys.by_code(uow, definition.code)
        if existing is not None and await _made_by(uow, definition.code, key):
            return Built(existing, duplicate=True)
        raise BuildRefused("code_taken", survey=definition.code)
    await audit.record(uow, actor, "survey.create", definition.code, {
        "key": key, "questions": len(definition.questions),
        "reward_points": definition.reward_points, "reward": definition.reward,
        "closes": definition.closes.isoformat() if definition.closes else None}, now)
    made = await surveys.by_id(uow, new_id)
    assert made is not None  # inserted by this transaction
    return Built(made, duplicate=False)


async def _made_by(uow: UnitOfWork, code: str, key: str) -> bool:
    """Whether the survey `code` was made by the request `key` (its audit entry says)."""
    rows: list[Any] = list(await uow.session.scalars(select(AuditEntry.params).where(
        AuditEntry.action == "survey.create", AuditEntry.target == code)))
    return any(isinstance(p, dict) and p.get("key") == key for p in rows)


@dataclass(frozen=True)
class Stopped:
    """What closing a survey called off: campaigns cancelled, invitations withdrawn."""

    campaigns: int
    invitations: int


async def close(uow: UnitOfWork, code: str, author_id: int,
                now: datetime) -> tuple[Survey, Stopped]:
    """Close a survey now: nobody is sent it or answers it any more, so its campaigns
    still to send are cancelled and invitations not yet out are withdrawn (reminders
    too, uncounted). A file survey stays closed until the file changes it
    (keep_from_file); the caller says so."""
    survey = await surveys.by_code(uow, code)
    if survey is None:
        raise BuildRefused("unknown", survey=code)
    won = await uow.changed(update(Survey).where(Survey.id == survey.id,
                                                 Survey.closed.is_(False))
                            .values(closed=True, closed_by=surveys.STAFF,
                                    updated_at=now))
    if not won:
        raise BuildRefused("already_closed", survey=code)
    stopped = Stopped(await campaigns.cancel_for_survey(uow, survey.id, now),
                      await responses.withdraw(uow, survey.id))
    await follow_ups.withdraw_reminders(uow, survey.id)
    await audit.record(uow, audit.member_actor(author_id), "survey.close", code,
                       {"source": survey.source, "campaigns": stopped.campaigns,
                        "invitations": stopped.invitations}, now)
    await uow.session.refresh(survey)
    return survey, stopped
