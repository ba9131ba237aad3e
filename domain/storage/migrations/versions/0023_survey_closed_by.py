"""A survey remembers who closed it

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

A programme-file survey that staff closed with /survey close stayed closed only until
the next start, which reopened every file survey the file still listed. Who closed it
("file" when the file dropped it, "staff") lets a start reopen only what the file
itself closed, and a staff close last until the file changes the survey.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("closed_by", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("closed_by")
