"""Tables of staff roles, the audit log and the scheduled jobs' state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class StaffRole(Base):
    __tablename__ = "staff_roles"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: who did what to whom, for every operator action. Indexed by target
    and action: a report's actions, a chat's refused removals and a survey's making
    are read back by them, and the log grows with everything operators do."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target_action", "target", "action"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class JobState(Base):
    """One row per scheduled job: what operators see and steer."""

    __tablename__ = "scheduler_jobs"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # ok, failed, waiting
    last_result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # counts, for /jobs
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_runner: Mapped[str | None] = mapped_column(String(64))
    run_requested_at: Mapped[datetime | None]
    requested_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class SchedulerRunner(Base):
    """Which process schedules now, and when it last said so."""

    __tablename__ = "scheduler_runner"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]
