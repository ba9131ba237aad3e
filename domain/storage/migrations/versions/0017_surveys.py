"""Surveys: their definitions, members' responses and answers, and opt-outs

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

A survey's questions are kept as JSON (domain/feedback/definitions.py); each member's
turn at it is a response, one per occasion, whose answers can change until it is
completed (domain/feedback/tables.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("survey_id", _ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("occasion", sa.String(64), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("survey_id", "member_id", "occasion",
                            name="uq_survey_responses_member"),
    )
    op.create_index("ix_survey_responses_member", "survey_responses", ["member_id", "status"])
    op.create_index("ix_survey_responses_survey", "survey_responses", ["survey_id", "status"])
    op.create_table(
        "survey_answers",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("response_id", _ID, sa.ForeignKey("survey_responses.id"), nullable=False),
        sa.Column("question", sa.String(32), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("response_id", "question", name="uq_survey_answers_question"),
    )
    op.create_table(
        "survey_opt_outs",
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("survey_opt_outs")
    op.drop_table("survey_answers")
    op.drop_index("ix_survey_responses_survey", "survey_responses")
    op.drop_index("ix_survey_responses_member", "survey_responses")
    op.drop_table("survey_responses")
    op.drop_table("surveys")
