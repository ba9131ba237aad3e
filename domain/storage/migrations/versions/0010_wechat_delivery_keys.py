"""WeChat deliveries: keys per sender, and answers owed to a passive reply

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

WeChat messages were keyed by MsgId alone and events by sender + time + event, so a
second member's message with a seen MsgId, or a second menu CLICK in the same second,
was dropped as a retry. Keys now name the sender, and events their EventKey
(bot.wechat.messages.delivery_key). Deliveries that can still matter are rekeyed with
the same rule, frozen here: those not yet delivered, which recovery replays under the
key it computes, and those of the last day, which a WeChat retry may still name.
Older delivered rows keep their old keys; nothing looks them up again, and no new key
can equal one (new keys have a space after the openid, old ones a colon or none).

`inbox.passive` says whether a waiting callback carries a delivery's answer as its
passive reply (`awaited`, `given`) or it goes as a customer-service message
(`released`); domain.conversations.inbox explains the states.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INBOX = sa.table("inbox", sa.column("platform", sa.String), sa.column("key", sa.String),
                  sa.column("payload", sa.JSON), sa.column("received_at", sa.DateTime),
                  sa.column("delivered_at", sa.DateTime))
RECENT = timedelta(days=1)


def _new_key(fields: dict[str, str]) -> str:
    openid, msg_id = fields.get("FromUserName", ""), fields.get("MsgId", "")
    if msg_id.isascii() and msg_id.isdigit() and len(msg_id) <= 32:
        return f"{openid} {msg_id}"
    event = fields.get("Event", "")
    what = "\n".join((fields.get("MsgType", ""), event, fields.get("EventKey", "")))
    digest = hashlib.blake2b(what.encode(), digest_size=8).hexdigest()
    return f"{openid} {fields.get('CreateTime', '')} {event[:32]} {digest}"


def upgrade() -> None:
    op.add_column("inbox", sa.Column("passive", sa.String(length=8), nullable=True))
    conn = op.get_bind()
    since = datetime.now(UTC).replace(tzinfo=None) - RECENT  # stored as naive UTC
    rows = conn.execute(sa.select(_INBOX.c.key, _INBOX.c.payload).where(
        _INBOX.c.platform == "wechat",
        sa.or_(_INBOX.c.delivered_at.is_(None), _INBOX.c.received_at >= since))).all()
    moves = []
    for key, payload in rows:
        fields = payload.get("fields") if isinstance(payload, dict) else None
        if isinstance(fields, dict) and fields.get("FromUserName"):
            new = _new_key(fields)
            if new != key:
                moves.append({"old": key, "new": new})
    if moves:
        conn.execute(_INBOX.update()
                     .where(_INBOX.c.platform == "wechat", _INBOX.c.key == sa.bindparam("old"))
                     .values(key=sa.bindparam("new")), moves)


def downgrade() -> None:
    """Keys are not put back: old ones dropped real messages, and two members' messages
    with one MsgId could not both keep theirs."""
    op.drop_column("inbox", "passive")
