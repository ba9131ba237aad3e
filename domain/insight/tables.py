"""Tables of the daily roll-ups the figures of /stats are read from.

A roll-up is kept by a job (domain/insight/rollups.py) reading what was appended since
its mark, never by the transactions that record a purchase or move points: those stay
as short as they were, and a roll-up can be rebuilt from the records at any time.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.campaigns import tables as _campaigns  # noqa: F401
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class InsightDay(Base):
    """One figure of one day in the programme's zone: `amount` (points or minor units)
    and `number` (rows counted) of `measure` ("points.issued") for one `dimension`
    (a source, a tier, a reward code; "" when it has none)."""

    __tablename__ = "insight_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(48), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    number: Mapped[int] = mapped_column(BigInteger, default=0)


class InsightMemberDay(Base):
    """What one member did on one day: the distinct members of a period (active, buyers,
    repeat buyers) are counted from these, as daily counts cannot be added up."""

    __tablename__ = "insight_member_days"
    __table_args__ = (Index("ix_insight_member_days_member", "member_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    moves: Mapped[int] = mapped_column(Integer, default=0)  # points earned or redeemed
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    checkins: Mapped[int] = mapped_column(Integer, default=0)


class InsightDistinct(Base):
    """The distinct members of a span of days that ended (domain/insight/distinct.py),
    kept as they no longer change: counting them anew takes seconds."""

    __tablename__ = "insight_distinct"

    first: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[date] = mapped_column(Date, primary_key=True)
    active: Mapped[int] = mapped_column(BigInteger)
    buyers: Mapped[int] = mapped_column(BigInteger)
    repeat_buyers: Mapped[int] = mapped_column(BigInteger)
    checkin_members: Mapped[int] = mapped_column(BigInteger)
    counted_at: Mapped[datetime]


class InsightCampaignReach(Base):
    """Members a campaign reached (holdout aside) and those of them who bought within
    its attribution window, kept once neither can change (domain/insight/reach.py)."""

    __tablename__ = "insight_campaign_reach"

    campaign_id: Mapped[int] = mapped_column(Id, ForeignKey("campaigns.id"), primary_key=True)
    reached: Mapped[int] = mapped_column(BigInteger)
    bought: Mapped[int] = mapped_column(BigInteger)
    counted_at: Mapped[datetime]


class InsightMark(Base):
    """How far one source (an append-only table) has been rolled up: every row with an
    id up to `last_id` is in the roll-ups, none after it."""

    __tablename__ = "insight_marks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class InsightSnapshot(Base):
    """A figure of the members as they stood (by tier, by stage, outstanding points):
    taken again through the day, so a past day keeps its last reading."""

    __tablename__ = "insight_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    taken_at: Mapped[datetime]


class InsightMemberScore(Base):
    """A member's RFM cell and churn risk as the nightly scoring left them: what
    campaign segments filter by ("at risk", "champions"), as both rank a member among
    all the others and cannot be one SQL condition."""

    __tablename__ = "insight_member_scores"
    __table_args__ = (Index("ix_insight_member_scores_segment", "segment", "member_id"),
                      Index("ix_insight_member_scores_risk", "risk", "member_id"))

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    segment: Mapped[str | None] = mapped_column(String(24))  # an RFM code; None: never bought
    recency: Mapped[int] = mapped_column(Integer, default=0)  # 1-5; 0 when never bought
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary: Mapped[int] = mapped_column(Integer, default=0)
    risk: Mapped[int] = mapped_column(Integer, default=0)  # 0-100
    scored_at: Mapped[datetime]


class InsightLookBack(Base):
    """How well the churn score foretold churn, worked out by the nightly scoring
    (domain/insight/churn.py `evaluate`): /segments shows the last one, as working it
    out takes a second read of every purchase, seconds on a large programme."""

    __tablename__ = "insight_look_backs"

    scored_at: Mapped[datetime] = mapped_column(primary_key=True)
    as_of: Mapped[datetime]
    until: Mapped[datetime]
    threshold: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(BigInteger)
    true_positives: Mapped[int] = mapped_column(BigInteger)
    false_positives: Mapped[int] = mapped_column(BigInteger)
    false_negatives: Mapped[int] = mapped_column(BigInteger)
    true_negatives: Mapped[int] = mapped_column(BigInteger)


class InsightSegmentReport(Base):
    """The figures of /segments as the nightly scoring worked them out
    (domain/insight/segment_reports.py): a large programme's /segments shows the last
    one, as working them out reads every member and what each spent, ten seconds at a
    million members. Its segments and its members at highest risk are rows beside it."""

    __tablename__ = "insight_segment_reports"

    scored_at: Mapped[datetime] = mapped_column(primary_key=True)
    buyers: Mapped[int] = mapped_column(BigInteger)
    revenue: Mapped[int] = mapped_column(BigInteger)  # minor units
    threshold: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(BigInteger)
    at_risk: Mapped[int] = mapped_column(BigInteger)
    reached: Mapped[int] = mapped_column(BigInteger)


class InsightSegmentFigure(Base):
    """One RFM segment of a kept report: its buyers and their revenue."""

    __tablename__ = "insight_segment_figures"

    scored_at: Mapped[datetime] = mapped_column(
        ForeignKey("insight_segment_reports.scored_at"), primary_key=True)
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    members: Mapped[int] = mapped_column(BigInteger)
    revenue: Mapped[int] = mapped_column(BigInteger)


class InsightSegmentAtRisk(Base):
    """One of a kept report's members at highest risk, as they stood then (rank 0 is
    the highest)."""

    __tablename__ = "insight_segment_at_risk"

    scored_at: Mapped[datetime] = mapped_column(
        ForeignKey("insight_segment_reports.scored_at"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    score: Mapped[int] = mapped_column(Integer)
    idle_days: Mapped[int] = mapped_column(Integer)
    usual_gap_days: Mapped[int | None] = mapped_column(Integer)
    reachable: Mapped[bool] = mapped_column(Boolean)
    winback: Mapped[bool] = mapped_column(Boolean)


class InsightReportReader(Base):
    """A staff member who asked for the weekly report (/report on)."""

    __tablename__ = "insight_report_readers"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    since: Mapped[datetime]


class InsightMemberMonth(Base):
    """A member was active (moved points, bought, checked in) in a month: kept once, so a
    cohort's month counts each member once however often they came."""

    __tablename__ = "insight_member_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)


class InsightCohort(Base):
    """How many members who joined in `cohort` were active in `month` (first days of
    months in the programme's zone): the retention grid of /stats."""

    __tablename__ = "insight_cohorts"

    cohort: Mapped[date] = mapped_column(Date, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    members: Mapped[int] = mapped_column(BigInteger, default=0)


class StoreTakings(Base):
    """What the tills took in one day from every customer, members or not, as they
    report it (POST /api/v1/store-sales): the whole that members' share of revenue is
    of. A day reported again is corrected."""

    __tablename__ = "store_takings"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)  # minor units
    orders: Mapped[int] = mapped_column(BigInteger)
    reported_at: Mapped[datetime]
