"""Consent records, personal reward picks a member can turn off, data exports

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06

Each grant and withdrawal of a purpose (marketing, surveys, personal recommendations)
is recorded with the version of the privacy notice and the channel (consent_records).
Personal picks are on unless the member turns them off (members.personalised). Each
export of a member's data is kept (data_exports): a member may ask once a day. Where
a platform cannot send a document, the export waits for one download by a secret link
(data_downloads).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_consent_records_member", "consent_records",
                    ["member_id", "purpose", "id"])
    op.create_table(
        "data_exports",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("staff_id", _ID, sa.ForeignKey("members.id"), nullable=True),
    )
    op.create_index("ix_data_exports_member", "data_exports", ["member_id", "at"])
    op.create_table(
        "data_downloads",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("member_id", _ID, sa.ForeignKey("members.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_data_downloads_member_id", "data_downloads", ["member_id"])
    op.create_index("ix_data_downloads_expires_at", "data_downloads", ["expires_at"])
    # A plain ADD COLUMN with a constant default: no copy of the members on either backend.
    op.add_column("members", sa.Column("personalised", sa.Boolean(), nullable=False,
                                       server_default=sa.true()))


def downgrade() -> None:
    op.drop_column("members", "personalised")  # SQLite 3.35+: no copy of the members
    op.drop_index("ix_data_downloads_expires_at", table_name="data_downloads")
    op.drop_index("ix_data_downloads_member_id", table_name="data_downloads")
    op.drop_table("data_downloads")
    op.drop_index("ix_data_exports_member", table_name="data_exports")
    op.drop_table("data_exports")
    op.drop_index("ix_consent_records_member", table_name="consent_records")
    op.drop_table("consent_records")
