"""Tables of surveys, their responses and answers, and who turned surveys off."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

# The tables this one's foreign keys name, so the metadata can resolve them.
from domain.members import tables as _members  # noqa: F401
from domain.storage.tables import Base, Id


class Survey(Base):
    """A survey members can be sent. `definition` is a checked SurveyDef as JSON; one
    from the programme file (source "file") is brought in line with it at start."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(8))  # "file" or "chat"
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    closed: Mapped[bool] = mapped_column(default=False)
    # Who closed it: "file" (the file dropped it; it opens again when the file lists it
    # again) or "staff" (/survey close; it stays closed until the file changes it).
    closed_by: Mapped[str | None] = mapped_column(String(8), default=None)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SurveyResponse(Base):
    """One member's turn at one survey. `occasion` tells apart the times the same
    survey reaches the same member ("" for a survey answered once; a period for
    periodic NPS): the unique triple is "one response per member" for each occasion.
    sent -> open (first answer) -> completed; stopped when they said no more."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("survey_id", "member_id", "occasion",
                         name="uq_survey_responses_member"),
        Index("ix_survey_responses_member", "member_id", "status"),
        Index("ix_survey_responses_survey", "survey_id", "status"),
        Index("ix_survey_responses_sent_at", "sent_at"),  # /stats: sent in a period
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(Id, ForeignKey("surveys.id"))
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    occasion: Mapped[str] = mapped_column(String(64), default="")
    via: Mapped[str] = mapped_column(String(32))  # staff, campaign, purchase, ...
    status: Mapped[str] = mapped_column(String(12))
    sent_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class SurveyAnswer(Base):
    """One answer of a response: a choice code, a list of them, a score, a text, or
    null for an optional question skipped. Changed in place until the response is
    completed."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question",
                                       name="uq_survey_answers_question"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    response_id: Mapped[int] = mapped_column(Id, ForeignKey("survey_responses.id"))
    question: Mapped[str] = mapped_column(String(32))
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    answered_at: Mapped[datetime]


class SurveyOptOut(Base):
    """A member who asked for no more surveys (the button under each, or /privacy)."""

    __tablename__ = "survey_opt_outs"

    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), primary_key=True)
    at: Mapped[datetime]
