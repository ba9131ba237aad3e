"""The rating a closed conversation asks for: a survey answer (the programme's
`support` survey, one rating question), so it shows in /survey results support.
One response per conversation (its occasion), answered once.

The member is asked with five buttons, 1 to 5: in the answer to their own close, or
in the notice that staff closed it (a notice's buttons, handlers/notices). Each
button's action is ACTION:<conversation>:<score>."""

from __future__ import annotations

from datetime import datetime

from domain.config import Programme
from domain.feedback import responses, surveys
from domain.feedback.responses import Answered, SurveyRefused
from domain.storage.database import UnitOfWork
from domain.support.tables import SupportConversation

SURVEY = "support"
ACTION = "spr"  # a rating button's action: spr:<conversation>:<score>
BUTTONS = "buttons"  # the notice parameter its buttons travel in (handlers/notices)
SCORES = range(1, 6)


def occasion(conversation_id: int) -> str:
    return f"support:{conversation_id}"


def buttons(conversation_id: int) -> list[list[dict[str, object]]]:
    """The five rating buttons as a notice carries them: one row, labelled 1 to 5."""
    return [[{"label": "support.score", "params": {"score": score},
              "action": f"{ACTION}:{conversation_id}:{score}"} for score in SCORES]]


async def ask(uow: UnitOfWork, programme: Programme, conv: SupportConversation,
              now: datetime) -> int | None:
    """The response that waits for the member's rating; None when there is no
    support survey, it closed, or the member turned surveys off."""
    survey = await surveys.by_code(uow, SURVEY)
    if survey is None:
        return None
    try:
        sent = await responses.send(uow, programme, survey, conv.member_id, "support", now,
                                    occasion=occasion(conv.id), apart=True)
    except SurveyRefused:
        return None
    return sent.response.id


async def rate(uow: UnitOfWork, programme: Programme, member_id: int, conversation_id: int,
               score: int, now: datetime) -> Answered:
    """The member's rating of their closed conversation, through the survey's own
    rules (a score outside 1-5, a second rating, a closed survey are refused there)."""
    conv = await uow.session.get(SupportConversation, conversation_id)
    survey = await surveys.by_code(uow, SURVEY)
    if conv is None or conv.member_id != member_id or conv.status != "closed" \
            or survey is None:
        raise SurveyRefused("not_asked")
    sent = await responses.send(uow, programme, survey, member_id, "support", now,
                                occasion=occasion(conv.id), apart=True)
    question = sent.definition.questions[0].code
    return await responses.answer(uow, programme, sent.response.id, member_id, question,
                                  score, now)
