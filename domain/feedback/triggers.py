"""Surveys the scheduler sends by itself: after a purchase or a redemption, when a
member lapses, and every so many days.

Each run selects who is due from a snapshot (ids only, a page at a time), then sends
in short transactions (Database.in_turns): a response row per member, unique per
(survey, member, occasion), and its invitation notice keyed by that response, so a
late, repeated or doubled run sends nobody twice. Nobody is invited in the quiet
hours of their own day, nor after turning surveys off, nor once a survey closed; a
member skipped for the hour is found again by a later run, as the windows are wide.

* after a purchase: `after_purchase_hours` after the member's latest purchase, within
  CATCH_UP, to members who never had this survey (one response per member);
* after a redemption: likewise, `after_redemption_hours` after the member redeemed a
  reward with points or used a coupon at the till;
* on lapse: to lapsing members (the stage win-back coupons go to) who never had it;
* every N days: to members who bought at least once and had no response to it in the
  last N days; the occasion is the day it was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select

from domain.config import Programme
from domain.feedback import responses, surveys
from domain.feedback.tables import SurveyOptOut, SurveyResponse
from domain.lifecycle.lifecycle import stage_clause
from domain.members.tables import Member
from domain.rewards.tables import Coupon, Redemption
from domain.storage.database import Database, UnitOfWork

CATCH_UP = timedelta(days=2)  # how late after its moment a survey is still sent
WINDOW = 1000  # member ids (a range of them) judged by one read: its rows are handled on the loop
# Members invited by the first short transaction; later ones as fit (Database.in_slices).
SLICE = {"sqlite": 50, "postgresql": 200}


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    sent: dict[str, int] = {}
    for definition in programme.surveys:
        trigger = definition.trigger
        if trigger is None:
            continue
        async with db.uow() as uow:
            found = await surveys.by_code(uow, definition.code)
            if found is None or responses.is_closed(found, definition, programme, now):
                continue
            survey = _Sending(found.id, found.code, definition.title.model_dump())
        never_had = ~exists().where(SurveyResponse.survey_id == survey.id,
                                    SurveyResponse.member_id == Member.id)
        if trigger.after_purchase_hours is not None:
            due = now - timedelta(hours=trigger.after_purchase_hours)
            sent[f"{survey.code}:purchase"] = await _invite(
                db, programme, survey, "purchase", "", now,
                Member.last_purchase_at <= due, Member.last_purchase_at > due - CATCH_UP,
                never_had)
        if trigger.after_redemption_hours is not None:
            due = now - timedelta(hours=trigger.after_redemption_hours)
            sent[f"{survey.code}:redemption"] = await _invite(
                db, programme, survey, "redemption", "", now, never_had, or_(
                    exists().where(Redemption.member_id == Member.id,
                                   Redemption.created_at <= due,
                                   Redemption.created_at > due - CATCH_UP),
                    exists().where(Coupon.member_id == Member.id, Coupon.used_at <= due,
                                   Coupon.used_at > due - CATCH_UP)))
        if trigger.on_lapse:
            sent[f"{survey.code}:lapse"] = await _invite(
                db, programme, survey, "lapse", "", now,
                stage_clause("lapsing", programme.lifecycle, now), never_had)
        if trigger.every_days is not None:
            since = now - timedelta(days=trigger.every_days)
            sent[f"{survey.code}:every"] = await _invite(
                db, programme, survey, "periodic", f"every:{now.date().isoformat()}", now,
                Member.purchase_count > 0,
                ~exists().where(SurveyResponse.survey_id == survey.id,
                                SurveyResponse.member_id == Member.id,
                                SurveyResponse.sent_at > since))
    return sent


@dataclass(frozen=True)
class _Sending:
    id: int
    code: str
    title: dict[str, str]


async def _invite(db: Database, programme: Programme, survey: _Sending, via: str,
                  occasion: str, now: datetime, *due: Any) -> int:
    chosen = select(Member.id, Member.timezone).where(
        Member.status == "active", *due,
        ~exists().where(SurveyOptOut.member_id == Member.id))
    invited, size = 0, SLICE.get(db.dialect, 50)
    async with db.snapshot() as snap:
        top = await snap.scalar(select(func.max(Member.id))) or 0
    # A window of member ids at a time, not "the next PAGE after this id": given a
    # range on last_purchase_at, PostgreSQL reads the whole range and sorts it for each
    # page (1.5-4 s a page at 100,000 buyers); a window bounds what any plan reads.
    for low in range(0, top, WINDOW):
        async with db.snapshot() as snap:
            page = list(await snap.session.execute(chosen.where(
                Member.id > low, Member.id <= low + WINDOW)))
        awake = sorted(member_id for member_id, zone in page
                       if surveys.quiet_until(programme, zone, now) is None)
        invited += sum(await db.in_slices(awake, lambda uow, ids: _send(
            uow, survey, ids, via, occasion, now), size))
    return invited


async def _send(uow: UnitOfWork, survey: _Sending, member_ids: Sequence[int], via: str,
                occasion: str, now: datetime) -> int:
    """Responses for these members (one met already stays as it is), and an invitation
    for each response made now."""
    made: list[Any] = list(await uow.session.execute(
        responses.new_responses(uow, survey.id, list(member_ids), via, occasion, now)
        .returning(SurveyResponse.id, SurveyResponse.member_id)))
    await responses.invite(uow, survey.title, [(r.id, r.member_id) for r in made], now)
    return len(made)

