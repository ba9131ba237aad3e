"""refund keys carry their order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A refund was keyed `refund:{refund_id}` across all orders, so a refund id reused on
another order answered as a duplicate of the first and refunded nothing. Keys now
name their order (domain.refunds.refund_key); recorded refunds are rekeyed so that a
till retrying one of them after the upgrade still gets its first answer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUNDS = sa.table("refunds", sa.column("id", sa.BigInteger), sa.column("key", sa.String),
                    sa.column("purchase_id", sa.BigInteger))
_PURCHASES = sa.table("purchases", sa.column("id", sa.BigInteger),
                      sa.column("order_id", sa.String))


def _new_key(old: str, order_id: str) -> str:
    """`refund:{order}:{amount|rest}` when no refund id was given, else `refund:{id}`."""
    own = f"refund:{order_id}:"
    if old.startswith(own):
        tail = old[len(own):]
        if tail == "rest" or (tail.isascii() and tail.isdigit()):
            return f"refund:{order_id}|amount={tail}"
    return f"refund:{order_id}|id={old.removeprefix('refund:')}"


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_REFUNDS.c.id, _REFUNDS.c.key, _PURCHASES.c.order_id)
                        .join(_PURCHASES, _PURCHASES.c.id == _REFUNDS.c.purchase_id)
                        .where(_REFUNDS.c.key.not_like("%|%"))).all()
    for refund_id, key, order_id in rows:
        conn.execute(_REFUNDS.update().where(_REFUNDS.c.id == refund_id)
                     .values(key=_new_key(str(key), str(order_id))))


def downgrade() -> None:
    """The old keys are not restored: they lost refunds, and nothing reads them."""
