"""Segments: which members a campaign is for, as one SQL condition on `members`.

A segment is plain data (it is stored with its campaign as JSON) and every filter is
optional; the filters given must all hold, and within one filter any value may match
(tier gold or silver). Marketing consent and reachability are not filters: a member
without consent, or one we cannot reach, is never in a segment, whatever it says (a
survey is no marketing: sent to a segment, it asks instead that the member has not
turned surveys off nor answered it, `surveys.reachable`). We
cannot reach a member whose `status` is not "active" (blocked the bot, unfollowed,
erased), nor one with no account on a platform campaigns are sent on: counting them
would promise the operator messages nobody can be sent. Which platforms those are is
the deployment's to say (`Reach`, handed in with the programme by the composition
root): every one but the terminal's, unless the terminal is where members are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from domain import identifiers
from domain.config import LOCALES, Programme
from domain.errors import DomainError
from domain.feedback import surveys
from domain.insight import rfm
from domain.insight.tables import InsightMemberScore
from domain.lifecycle import lifecycle
from domain.members import members, tags
from domain.members.tables import Identity, Member, MemberTag
from domain.storage.database import UnitOfWork

STAGES = lifecycle.STAGES
# Identities of the terminal chat: unless the deployment says otherwise (Reach), nothing
# is pushed there, so no campaign reaches them.
TERMINAL = "console"
PURCHASE = ("within", "over", "never")  # bought in the last N days; not; never at all
MAX_DAYS = 3650
MAX_POINTS = 1_000_000_000


@dataclass(frozen=True)
class Reach:
    """The platforms whose accounts campaigns are never sent to in this deployment.
    The composition root decides it from its settings (Programme.keep_reach); a
    programme it never told reaches every account but the terminal's."""

    unsent: frozenset[str] = frozenset({TERMINAL})


EVERY_ACCOUNT = Reach(frozenset())


def reach(programme: Programme) -> Reach:
    told = programme.reach
    return told if isinstance(told, Reach) else Reach()


class SegmentRefused(DomainError):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        super().__init__(**params)


@dataclass(frozen=True)
class Segment:
    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    locales: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    purchase: tuple[str, int] | None = None  # ("within", 30), ("over", 90), ("never", 0)
    points_min: int | None = None
    points_max: int | None = None
    birth_months: tuple[int, ...] = ()
    rfm: tuple[str, ...] = ()  # RFM segments as last scored (domain/insight/scores.py)
    risk_min: int | None = None  # churn risk at least this, 1-100, as last scored

    def dump(self) -> dict[str, Any]:
        """JSON for the campaign row: only the filters that are set."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
                if v not in ((), None)}

    @classmethod
    def load(cls, data: dict[str, Any]) -> Segment:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data.items()}
        try:
            return cls(**fields)
        except TypeError:
            raise SegmentRefused("segment_invalid") from None

    @property
    def empty(self) -> bool:
        return not self.dump()


def check(segment: Segment, programme: Programme) -> Segment:
    """The segment if every value is one we know; SegmentRefused naming the filter if not."""
    known = {t.code for t in programme.tiers.levels}
    if not set(segment.tiers) <= known:
        raise SegmentRefused("segment_tier")
    for tag in segment.tags:
        if not tags.valid(tag):
            raise SegmentRefused("segment_tag")
    if not set(segment.locales) <= set(LOCALES):
        raise SegmentRefused("segment_locale")
    unsent = reach(programme).unsent
    if not all(identifiers.valid(identifiers.PLATFORM, p) and p not in unsent
               for p in segment.platforms):
        raise SegmentRefused("segment_platform")
    if not set(segment.stages) <= set(STAGES):
        raise SegmentRefused("segment_stage")
    if segment.purchase is not None:
        kind, days = segment.purchase
        if kind not in PURCHASE or not isinstance(days, int) or not (
                (kind == "never" and days == 0) or 1 <= days <= MAX_DAYS):
            raise SegmentRefused("segment_purchase")
    for bound in (segment.points_min, segment.points_max):
        if bound is not None and not (isinstance(bound, int) and 0 <= bound <= MAX_POINTS):
            raise SegmentRefused("segment_points")
    if (segment.points_min is not None and segment.points_max is not None
            and segment.points_min > segment.points_max):
        raise SegmentRefused("segment_points")
    if not all(isinstance(m, int) and 1 <= m <= 12 for m in segment.birth_months):
        raise SegmentRefused("segment_month")
    if not set(segment.rfm) <= set(rfm.SEGMENTS):
        raise SegmentRefused("segment_rfm")
    if segment.risk_min is not None and not (
            isinstance(segment.risk_min, int) and 1 <= segment.risk_min <= 100):
        raise SegmentRefused("segment_risk")
    return segment


def clause(segment: Segment, programme: Programme, now: datetime,
           survey: int | None = None) -> ColumnElement[bool]:
    """The condition on `members` that picks the segment, consent and reach included;
    for survey `survey` (an id), the survey's own consent instead of marketing's."""
    m = Member.__table__.c
    consent = m.marketing_consent.is_(True) if survey is None else surveys.reachable(survey)
    parts: list[ColumnElement[bool]] = [consent, m.status == "active"]
    # An account on the platforms chosen, or on any we send on: the filter and the
    # reach are one lookup (ix_identities_member_platform).
    unsent = reach(programme).unsent
    account = [Identity.member_id == m.id]
    if segment.platforms:
        account.append(Identity.platform.in_([p for p in segment.platforms if p not in unsent]))
    elif unsent:
        account.append(Identity.platform.not_in(sorted(unsent)))
    parts.append(select(Identity.id).where(*account).exists())
    if segment.tiers:
        lowest = programme.tiers.levels[0].code
        tier = m.tier.in_(segment.tiers)
        parts.append(or_(tier, m.tier.is_(None)) if lowest in segment.tiers else tier)
    if segment.tags:
        parts.append(select(MemberTag.member_id).where(
            MemberTag.member_id == m.id, MemberTag.tag.in_(segment.tags)).exists())
    if segment.locales:  # the language they read: chosen, else hinted, else the default
        parts.append(members.language_column(programme).in_(segment.locales))
    if segment.stages:
        parts.append(or_(*(_stage(stage, programme, now) for stage in segment.stages)))
    if segment.purchase is not None:
        parts.append(_purchase(*segment.purchase, now))
    if segment.points_min is not None:
        parts.append(m.points_balance >= segment.points_min)
    if segment.points_max is not None:
        parts.append(m.points_balance <= segment.points_max)
    if segment.birth_months:
        parts.append(m.birth_month.in_(segment.birth_months))
    # Scores rank a member among all: read as the nightly scoring left them.
    scored = [InsightMemberScore.member_id == m.id]
    if segment.rfm:
        scored.append(InsightMemberScore.segment.in_(segment.rfm))
    if segment.risk_min is not None:
        scored.append(InsightMemberScore.risk >= segment.risk_min)
    if len(scored) > 1:
        parts.append(select(InsightMemberScore.member_id).where(*scored).exists())
    return and_(*parts)


def _purchase(kind: str, days: int, now: datetime) -> ColumnElement[bool]:
    last = Member.__table__.c.last_purchase_at
    since = now - timedelta(days=days)
    if kind == "within":
        return last >= since
    if kind == "over":
        return or_(last.is_(None), last < since)
    return last.is_(None)


def _stage(stage: str, programme: Programme, now: datetime) -> ColumnElement[bool]:
    return lifecycle.stage_clause(stage, programme.lifecycle, now)  # type: ignore[arg-type]


async def size(uow: UnitOfWork, segment: Segment, programme: Programme, now: datetime,
               survey: int | None = None) -> int:
    """How many members the segment reaches now. A count over every member: read it
    through a snapshot (Database.snapshot), which holds no write lock and, on SQLite,
    reads off the event loop."""
    stmt = select(func.count()).select_from(Member).where(
        clause(segment, programme, now, survey))
    return int(await uow.session.scalar(stmt) or 0)


async def by_language(uow: UnitOfWork, segment: Segment, programme: Programme,
                      now: datetime, survey: int | None = None) -> dict[str, int]:
    """How many members the segment reaches now, per language they read (their choice,
    else their platform's hint, else the programme's default), so the message can be
    written and previewed in each."""
    language = members.language_column(programme)
    stmt = (select(language, func.count()).where(clause(segment, programme, now, survey))
            .group_by(language))
    found = list(await uow.session.execute(stmt))
    counts: dict[str, int] = {}
    for locale, number in found:
        counts[locale] = counts.get(locale, 0) + int(number)
    return counts

