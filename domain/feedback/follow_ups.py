"""A staff member's follow-up (回访): one survey sent to one member now, by hand.

Sent anew, the member is invited, as by any other sending. Already waiting for them
(sent before and not finished) nothing new is made, and saying "sent" would claim a
second invitation that never went: they are reminded instead, at most once a day,
and only once the invitation has gone out (one still held by their quiet hours or
their platform would otherwise arrive beside its own reminder). The caller tells
staff which it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from domain.config import Programme
from domain.feedback import responses
from domain.feedback.responses import Progress
from domain.feedback.tables import Survey, SurveyResponse
from domain.notices import announce, notices
from domain.notices.tables import Notice
from domain.storage.database import UnitOfWork

SENT, REMINDED, REMINDED_TODAY, ON_ITS_WAY = "sent", "reminded", "reminded_today", "on_its_way"
REMIND = "survey.remind"  # the reminder's notice (a catalog key)
_REMIND = "survey:remind:"  # + survey id : response id : the day, in the programme's zone
NOT_OUT = ("pending", "sending", "deferred")  # a notice still on its way


@dataclass(frozen=True)
class FollowUp:
    progress: Progress
    outcome: str  # SENT, REMINDED, REMINDED_TODAY or ON_ITS_WAY

    @property
    def waiting(self) -> bool:
        """Whether the member had it already (it was not sent anew)."""
        return self.outcome != SENT


async def send(uow: UnitOfWork, programme: Programme, survey: Survey, member_id: int,
               now: datetime) -> FollowUp:
    """Send the survey to the member, or remind them of it; SurveyRefused as
    responses.send (closed, opted out, answered already)."""
    had = await uow.session.scalar(select(SurveyResponse.id).where(
        SurveyResponse.survey_id == survey.id, SurveyResponse.member_id == member_id,
        SurveyResponse.status.in_(responses.UNFINISHED)).limit(1))
    sent = await responses.send(uow, programme, survey, member_id, "staff", now)
    title = sent.definition.title.model_dump()
    response_id = sent.response.id
    if had is None:
        await responses.invite(uow, title, [(response_id, member_id)], now)
        return FollowUp(sent, SENT)
    if await _on_its_way(uow, survey.id, response_id):
        return FollowUp(sent, ON_ITS_WAY)
    day = now.astimezone(programme.zone).date().isoformat()
    key = f"{_REMIND}{survey.id}:{response_id}:{day}"
    if await uow.session.scalar(select(Notice.id).where(Notice.idempotency_key == key)):
        return FollowUp(sent, REMINDED_TODAY)
    await announce.tell(uow, member_id, REMIND, {"title": {"$local": title}}, key, now)
    return FollowUp(sent, REMINDED)


async def _on_its_way(uow: UnitOfWork, survey_id: int, response_id: int) -> bool:
    """Whether the response's invitation, or a reminder of it, has yet to go out."""
    found = await uow.session.scalar(select(Notice.id).where(
        Notice.status.in_(NOT_OUT),
        or_(Notice.idempotency_key == f"{responses.INVITE}{response_id}",
            Notice.idempotency_key.startswith(f"{_REMIND}{survey_id}:{response_id}:",
                                              autoescape=True))).limit(1))
    return found is not None


async def withdraw_reminders(uow: UnitOfWork, survey_id: int) -> int:
    """The survey was closed: reminders of it not yet out are withdrawn."""
    return await uow.changed(update(Notice).where(
        Notice.status == "pending", Notice.key == REMIND,
        Notice.idempotency_key.startswith(f"{_REMIND}{survey_id}:", autoescape=True))
        .values(status=notices.WITHDRAWN).execution_options(synchronize_session=False))
