"""A gate's join picture: chats that staff keep by hand, joined by scanning a QR image

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

Some platforms cannot let a bot manage a group; the programme then names the group's
join QR image per gate (domain/community/gates.py, kind "qr"), kept with the gate so
every worker shows the same picture.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("community_gates") as batch:
        batch.add_column(sa.Column("join_image", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("community_gates") as batch:
        batch.drop_column("join_image")
