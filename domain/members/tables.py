"""Tables of members, their platform identities, link codes, tags and referral rewards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.storage.tables import Base, Id


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("points_balance >= 0", name="ck_members_balance_not_negative"),
        Index("ix_members_next_expiry_at", "next_expiry_at"),
        # Lifecycle jobs: lapse windows, birthdays, tier reviews (domain/lifecycle/lifecycle.py).
        # The lapse window is a range on last_active_at; the index also carries what the
        # stage and win-back test per row, so a selection never visits the table.
        Index("ix_members_lifecycle", "last_active_at", "status", "marketing_consent",
              "joined_at", "purchase_count", "first_purchase_at", "last_purchase_at"),
        Index("ix_members_birthday", "birth_month", "birth_day"),
        Index("ix_members_tier_valid_until", "tier_valid_until"),
        # Tills and the CSV import find members by phone.
        Index("ix_members_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    birth_month: Mapped[int | None]
    birth_day: Mapped[int | None]
    birth_year: Mapped[int | None]
    # The language the member chose (/language); else the one their platform last
    # hinted (a phone's language, one we speak), else the programme's default.
    locale: Mapped[str | None] = mapped_column(String(16))
    language_hint: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    # Personal reward picks (domain/privacy/consents.py): on unless the member turns them off.
    personalised: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    status: Mapped[str] = mapped_column(String(16), default="active")
    joined_at: Mapped[datetime]
    last_active_at: Mapped[datetime]
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    # Caches derived from the ledger, kept in step inside the same transaction.
    points_balance: Mapped[int] = mapped_column(BigInteger, default=0)
    next_expiry_at: Mapped[datetime | None]
    tier: Mapped[str | None] = mapped_column(String(32))
    tier_valid_until: Mapped[datetime | None]
    tier_floor: Mapped[str | None] = mapped_column(String(32))
    # The floor of the member's paid plan while it is active (domain/membership), kept
    # beside the operator's: tier evaluation takes the higher of the two.
    paid_floor: Mapped[str | None] = mapped_column(String(32))
    # Purchase statistics, kept by domain/points/purchases.py and domain/points/imports.py (refunds
    # leave them): the lifecycle stage reads a member's own usual purchase interval.
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None] = mapped_column(index=True)
    purchase_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    linked_at: Mapped[datetime]


class LinkCode(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ReferralReward(Base):
    """Decided once per referee, at their first purchase: rewarded, or why not."""

    __tablename__ = "referral_rewards"
    # /stats counts the referred members who bought first in a period.
    __table_args__ = (Index("ix_referral_rewards_created_at", "created_at"),)

    referee_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    referrer_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


# A segment's platform filter looks a member's accounts up by member and platform; with
# this index that is one exact lookup, whatever the planner's statistics say.
Index("ix_identities_member_platform", Identity.member_id, Identity.platform)


class MemberTag(Base):
    """A label an operator put on a member ("vip", "wholesale"), for segments."""

    __tablename__ = "member_tags"
    __table_args__ = (Index("ix_member_tags_tag", "tag", "member_id"),)

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime]
