"""Tables of reward stock, redemptions, coupons and operators' catalogue edits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class RewardStock(Base):
    """Live stock of a catalogue item; `remaining` None means unlimited."""

    __tablename__ = "reward_stock"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="ck_reward_stock_not_negative"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    remaining: Mapped[int | None] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class Redemption(Base):
    """A member spent points on a reward; `key` is the tap that asked for it."""

    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_member_reward", "member_id", "reward"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    reward: Mapped[str] = mapped_column(String(32))
    cost: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Coupon(Base):
    __tablename__ = "coupons"
    # /stats counts the coupons used in a period.
    __table_args__ = (Index("ix_coupons_used_at", "used_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    reward: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(8), default="issued")
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    redemption_id: Mapped[int | None] = mapped_column(Id, ForeignKey("redemptions.id"),
                                                      unique=True)


class CouponFailure(Base):
    """A code that did not verify; counted per actor to slow down guessing."""

    __tablename__ = "coupon_failures"
    __table_args__ = (Index("ix_coupon_failures_actor", "actor", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class RewardEdit(Base):
    """What operators changed of one catalogue item (or the whole of an item they
    created), as the programme file's field names. `revision` grows with every change,
    so a worker sees with one small query whether its copy is current."""

    __tablename__ = "reward_edits"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))
