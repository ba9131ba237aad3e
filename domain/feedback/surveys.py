"""The surveys members can be sent, and who asked to be sent none.

Surveys of the programme file are kept in the database (`keep_from_file`, at start):
a response names its survey by id, and every worker reads the same definition. The
file wins for its own surveys; one it dropped is closed, never deleted, so its
responses keep their questions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.sql.elements import ColumnElement

from domain.config import Programme
from domain.feedback.definitions import SurveyDef
from domain.feedback.tables import Survey, SurveyOptOut, SurveyResponse
from domain.members.tables import Member
from domain.storage.database import UnitOfWork

FILE = "file"
STAFF = "staff"


def definition(survey: Survey) -> SurveyDef:
    return SurveyDef.model_validate(survey.definition)


async def keep_from_file(uow: UnitOfWork, programme: Programme, now: datetime) -> int:
    """Bring the file's surveys into the database: how many changed. A survey staff
    closed stays closed while the file holds the same version of it."""
    stored = {s.code: s for s in await uow.session.scalars(select(Survey))}
    changed = 0
    for survey in programme.surveys:
        wanted = survey.model_dump(mode="json")
        row = stored.get(survey.code)
        if row is None:
            uow.session.add(Survey(code=survey.code, source=FILE, definition=wanted,
                                   closed=False, created_by="programme", created_at=now,
                                   updated_at=now))
            changed += 1
        elif row.source == FILE and (row.definition != wanted or _closed_by_file(row)):
            # A new version reopens even what staff closed; the same one does not.
            row.definition, row.closed, row.closed_by = wanted, False, None
            row.updated_at = now
            changed += 1
    in_file = {s.code for s in programme.surveys}
    for row in stored.values():
        if row.source == FILE and row.code not in in_file and not row.closed:
            row.closed, row.closed_by, row.updated_at = True, FILE, now
            changed += 1
    await uow.flush()
    return changed


def _closed_by_file(row: Survey) -> bool:
    """Closed because the file had dropped it (rows closed before closed_by was kept
    count as the file's)."""
    return row.closed and row.closed_by != STAFF


async def by_code(uow: UnitOfWork, code: str) -> Survey | None:
    return await uow.session.scalar(select(Survey).where(Survey.code == code))


async def by_id(uow: UnitOfWork, survey_id: int) -> Survey | None:
    return await uow.session.get(Survey, survey_id)


async def listing(uow: UnitOfWork) -> list[Survey]:
    return list(await uow.session.scalars(select(Survey).order_by(Survey.code)))


async def opted_out(uow: UnitOfWork, member_id: int) -> bool:
    return await uow.session.get(SurveyOptOut, member_id) is not None


async def opt_out(uow: UnitOfWork, member_id: int, now: datetime) -> bool:
    """No more surveys for them; False when they had said so already."""
    if await opted_out(uow, member_id):
        return False
    uow.session.add(SurveyOptOut(member_id=member_id, at=now))
    await uow.flush()
    return True


async def opt_in(uow: UnitOfWork, member_id: int) -> bool:
    return bool(await uow.changed(delete(SurveyOptOut).where(
        SurveyOptOut.member_id == member_id)))


def reachable(survey_id: int) -> ColumnElement[bool]:
    """The members (a condition on `members`) survey `survey_id` may be sent to by
    campaign: a survey is a service message, so no marketing consent is asked, but never
    to anyone who turned surveys off, nor to one who has it already (answered, or
    waiting to be answered: one response per member)."""
    return and_(~exists().where(SurveyOptOut.member_id == Member.id),
                ~exists().where(SurveyResponse.survey_id == survey_id,
                                SurveyResponse.member_id == Member.id))


def quiet_until(programme: Programme, zone: str | None, now: datetime) -> datetime | None:
    """When a member in `zone` (None: the programme's) may next be sent a survey, if it
    is their quiet hours now: the next whole hour, looked at again then."""
    try:
        where = ZoneInfo(zone) if zone else programme.zone
    except (ZoneInfoNotFoundError, ValueError):
        where = programme.zone
    local = now.astimezone(where)
    if not programme.quiet_hours.holds(local.hour):
        return None
    return local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
