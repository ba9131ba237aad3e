"""What staff see first in a member's topic: the member card (tier, points, last
purchase, open coupons, the last survey scores), and the topic's name. Codes and
numbers only, as notice parameters; the staff chat's language words them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from domain.feedback import surveys
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members import members
from domain.rewards.tables import Coupon
from domain.storage.database import UnitOfWork

SCORED = ("rating", "nps")
RECENT_SURVEYS = 3
COUPONS_SHOWN = 5


async def topic_name(uow: UnitOfWork, member_id: int) -> dict[str, Any]:
    """The parameters of a topic's name: member number, tier, platforms."""
    member = await members.get(uow, member_id)
    platforms = sorted({i.platform for i in await members.identities(uow, member_id)})
    return {"member": members.member_number(member_id),
            "tier": {"$tier": member.tier or ""}, "platforms": ", ".join(platforms) or "-"}


async def member_card(uow: UnitOfWork, member_id: int, now: datetime) -> dict[str, Any]:
    member = await members.get(uow, member_id)
    coupons = list(await uow.session.scalars(
        select(Coupon.reward).where(Coupon.member_id == member_id, Coupon.status == "issued",
                                    Coupon.expires_at > now)
        .order_by(Coupon.expires_at).limit(COUPONS_SHOWN)))
    held: list[dict[str, str]] = [{"$reward": code} for code in coupons]
    scores: list[Any] = await _scores(uow, member_id)
    return {
        **await topic_name(uow, member_id),
        "points": member.points_balance,
        "last_purchase": ({"$moment": member.last_purchase_at.isoformat()}
                          if member.last_purchase_at is not None
                          else {"$text": "support.card.never"}),
        "coupons": held or [{"$text": "support.card.none"}],
        "scores": scores or [{"$text": "support.card.none"}],
    }


async def _scores(uow: UnitOfWork, member_id: int) -> list[str]:
    """"nps 9", "satisfaction 4": the scores of the member's latest completed surveys."""
    done = (await uow.session.execute(
        select(SurveyResponse.id, Survey)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.member_id == member_id, SurveyResponse.status == "completed")
        .order_by(SurveyResponse.completed_at.desc()).limit(RECENT_SURVEYS))).all()
    lines = []
    for response_id, survey in done:
        scored = {q.code for q in surveys.definition(survey).questions if q.kind in SCORED}
        answers = await uow.session.execute(
            select(SurveyAnswer.question, SurveyAnswer.value)
            .where(SurveyAnswer.response_id == response_id))
        values = [str(row.value) for row in answers if row.question in scored
                  and isinstance(row.value, int)]
        if values:
            lines.append(f"{survey.code} {'/'.join(values)}")
    return lines
