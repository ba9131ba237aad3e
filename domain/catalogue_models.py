"""Operators' edits of the rewards catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.models import Base


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
