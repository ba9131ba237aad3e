"""Consent: each grant and withdrawal of a purpose recorded (which purpose, under which
version of the privacy notice, when, through which channel), and applied where the
rest of the bot reads it.

Three purposes, as PIPL (Art. 13-14, 24) and the GDPR (Art. 6-7, 21) ask them kept apart:
- marketing: campaign messages and win-back offers; off until the member agrees;
- surveys: service questions; on unless the member turns them off;
- recommendations: personal reward picks; on unless turned off. The plain catalogue
  is always shown beneath them, and with them off it is all /rewards shows.

A record (ConsentRecord) is appended for every change, never updated. The state each
purpose's readers filter by stays where they find it in one lookup, and only `choose`
writes it: members.marketing_consent (campaign segments, and each campaign batch as it
is claimed, so a withdrawal holds from the next batch), survey_opt_outs (survey
triggers and survey campaigns), members.personalised (reward picks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domain.config import Programme
from domain.feedback import surveys
from domain.members.tables import Member
from domain.privacy.tables import ConsentRecord
from domain.storage.database import UnitOfWork

PURPOSES = ("marketing", "surveys", "recommendations")


@dataclass(frozen=True)
class Standing:
    """Where a purpose stands for a member. `at` and `version` are those of their last
    choice; None when they never chose (the default holds), and `version` also for a
    choice made before records were kept."""

    purpose: str
    granted: bool
    at: datetime | None
    version: str | None


async def granted(uow: UnitOfWork, member: Member, purpose: str) -> bool:
    if purpose == "marketing":
        return member.marketing_consent
    if purpose == "surveys":
        return not await surveys.opted_out(uow, member.id)
    if purpose == "recommendations":
        return member.personalised
    raise ValueError(f"no such purpose: {purpose}")


async def choose(uow: UnitOfWork, programme: Programme, member: Member, purpose: str,
                 grant: bool, channel: str, now: datetime) -> bool:
    """The member grants or withdraws `purpose` through `channel` (a platform, or
    "staff"). Recorded and applied when it changes something, and also for a first
    answer to the marketing question (a "no" is an answer worth keeping); False when
    nothing changed."""
    first_answer = purpose == "marketing" and member.consent_at is None
    if await granted(uow, member, purpose) == grant and not first_answer:
        return False
    if purpose == "marketing":
        member.marketing_consent, member.consent_at = grant, now
    elif purpose == "surveys":
        if grant:
            await surveys.opt_in(uow, member.id)
        else:
            await surveys.opt_out(uow, member.id, now)
    else:
        member.personalised = grant
    uow.session.add(ConsentRecord(member_id=member.id, purpose=purpose, granted=grant,
                                  version=programme.privacy.version, channel=channel, at=now))
    await uow.flush()
    return True


async def records(uow: UnitOfWork, member_id: int) -> list[ConsentRecord]:
    """Every choice the member made, oldest first."""
    return list(await uow.session.scalars(select(ConsentRecord).where(
        ConsentRecord.member_id == member_id).order_by(ConsentRecord.id)))


async def standing(uow: UnitOfWork, member: Member) -> list[Standing]:
    """Each purpose, in PURPOSES order."""
    last = {r.purpose: r for r in await records(uow, member.id)}
    found = []
    for purpose in PURPOSES:
        record = last.get(purpose)
        at = record.at if record is not None else (
            member.consent_at if purpose == "marketing" else None)
        found.append(Standing(purpose, await granted(uow, member, purpose), at,
                              record.version if record is not None else None))
    return found
