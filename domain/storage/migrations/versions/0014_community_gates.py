"""Gated community chats and who sits in them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10

A gate opens a chat to members of a tier and above (domain/community/gates.py); a seat
is someone seen in a gated chat and whether they still qualify (seats.py), with the
time a lapsed one is due to be removed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "community_gates",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("min_tier", sa.String(32), nullable=False),
        sa.Column("grace_s", sa.Integer(), nullable=False),
        sa.Column("on_lapse", sa.String(8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("join_link", sa.String(256), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("platform", "chat_id"),
    )
    op.create_table(
        "community_seats",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("gate_id", _ID, sa.ForeignKey("community_gates.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("chat_admin", sa.Boolean(), nullable=False),
        sa.Column("lapsed_at", sa.DateTime(), nullable=True),
        sa.Column("remove_after", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("gate_id", "user_id"),
    )
    op.create_index("ix_community_seats_due", "community_seats", ["status", "remove_after"])
    op.create_index("ix_community_seats_member", "community_seats", ["member_id"])


def downgrade() -> None:
    op.drop_table("community_seats")
    op.drop_table("community_gates")
