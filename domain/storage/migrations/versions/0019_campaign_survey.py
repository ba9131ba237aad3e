"""A campaign may carry a survey

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

A survey sent to a segment is a campaign whose message is the survey's invitation
(domain/campaigns/campaigns.py): same segments, holdout, deliveries and senders.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("survey_id", _ID, nullable=True))
        batch.create_foreign_key("fk_campaigns_survey_id", "surveys", ["survey_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("fk_campaigns_survey_id", type_="foreignkey")
        batch.drop_column("survey_id")
