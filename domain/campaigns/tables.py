"""Tables of campaigns and their deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.feedback import tables as _feedback  # noqa: F401
from domain.members import tables as _members  # noqa: F401
from domain.rewards import tables as _rewards  # noqa: F401
from domain.storage.tables import Base, Id


class Campaign(Base):
    """A broadcast to a segment. `segment` and `variants` are plain JSON, written once
    when the operator confirms; `seed` makes the variant and holdout assignment of
    every member reproducible. While it starts, `start_cursor` is the highest member id
    whose delivery is written, so a start cut short goes on from there."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_status_send_at", "status", "send_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    # The confirmation's nonce: a double tap creates one campaign.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # scheduled -> starting -> running -> done; paused and cancelled from any before done.
    status: Mapped[str] = mapped_column(String(12))
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # [{"code", "text", "share"}], and "texts" ({"en": .., "zh_Hans": ..}) when the
    # operator wrote the message per language; "text" then goes to any other language.
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    holdout: Mapped[int] = mapped_column(Integer, default=0)  # basis points of the segment
    seed: Mapped[int] = mapped_column(BigInteger)
    coupon_reward: Mapped[str | None] = mapped_column(String(32))
    # A survey sent to the segment: its invitation is the message (variants carry no
    # text), and it reaches members without marketing consent (surveys.reachable).
    survey_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("surveys.id", name="fk_campaigns_survey_id"))
    bonus_percent: Mapped[int | None] = mapped_column(Integer)  # extra; 100 doubles
    bonus_days: Mapped[int | None] = mapped_column(Integer)
    bonus_starts: Mapped[datetime | None]
    bonus_ends: Mapped[datetime | None]
    attribution_days: Mapped[int] = mapped_column(Integer, default=7)
    send_at: Mapped[datetime]
    created_by: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    created_at: Mapped[datetime]
    # Where the operator follows the progress message, and in which language.
    operator_platform: Mapped[str] = mapped_column(String(16))
    operator_chat: Mapped[str] = mapped_column(String(128))
    operator_locale: Mapped[str] = mapped_column(String(16))
    progress_message: Mapped[str | None] = mapped_column(String(64))
    progress_at: Mapped[datetime | None]
    start_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    start_lease_until: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    held_out: Mapped[int] = mapped_column(Integer, default=0)


class Delivery(Base):
    """One member of one campaign, written when it starts. Holdout members get a row
    (status "holdout") and no message. A sender claims pending rows under a lease; the
    unique (campaign, member) pair means nobody is in a campaign twice."""

    __tablename__ = "campaign_deliveries"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", name="uq_campaign_deliveries_member"),
        Index("ix_campaign_deliveries_due", "campaign_id", "status", "id"),
        Index("ix_campaign_deliveries_member", "member_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(Id, ForeignKey("campaigns.id"))
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    variant: Mapped[str] = mapped_column(String(8))  # "A", "B", or "holdout"
    # pending, sending, sent, failed, rejected, unreachable, deferred, skipped, holdout
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    platform: Mapped[str | None] = mapped_column(String(16))
    sent_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(String(200))
    coupon_id: Mapped[int | None] = mapped_column(Id, ForeignKey("coupons.id"))
