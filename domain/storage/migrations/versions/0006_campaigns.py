"""member tags, campaigns and deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_identities_member_platform", "identities", ["member_id", "platform"])
    op.create_table(
        "member_tags",
        sa.Column("member_id", ID, nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("member_id", "tag"),
    )
    op.create_index("ix_member_tags_tag", "member_tags", ["tag", "member_id"])
    op.create_table(
        "campaigns",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("holdout", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("coupon_reward", sa.String(length=32), nullable=True),
        sa.Column("bonus_percent", sa.Integer(), nullable=True),
        sa.Column("bonus_days", sa.Integer(), nullable=True),
        sa.Column("bonus_starts", sa.DateTime(), nullable=True),
        sa.Column("bonus_ends", sa.DateTime(), nullable=True),
        sa.Column("attribution_days", sa.Integer(), nullable=False),
        sa.Column("send_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("operator_platform", sa.String(length=16), nullable=False),
        sa.Column("operator_chat", sa.String(length=128), nullable=False),
        sa.Column("operator_locale", sa.String(length=16), nullable=False),
        sa.Column("progress_message", sa.String(length=64), nullable=True),
        sa.Column("progress_at", sa.DateTime(), nullable=True),
        sa.Column("start_cursor", sa.BigInteger(), nullable=False),
        sa.Column("start_lease_until", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_campaigns_status_send_at", "campaigns", ["status", "send_at"])
    op.create_table(
        "campaign_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("variant", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("coupon_id", ID, nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "member_id", name="uq_campaign_deliveries_member"),
    )
    op.create_index("ix_campaign_deliveries_due", "campaign_deliveries",
                    ["campaign_id", "status", "id"])
    op.create_index("ix_campaign_deliveries_member", "campaign_deliveries", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_campaign_deliveries_member", table_name="campaign_deliveries")
    op.drop_index("ix_campaign_deliveries_due", table_name="campaign_deliveries")
    op.drop_table("campaign_deliveries")
    op.drop_index("ix_campaigns_status_send_at", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index("ix_member_tags_tag", table_name="member_tags")
    op.drop_table("member_tags")
    op.drop_index("ix_identities_member_platform", table_name="identities")
