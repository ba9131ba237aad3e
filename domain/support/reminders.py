"""The support job, every minute: staff are reminded of conversations left
unanswered past `[support] remind_after_minutes` (once per wait), and told of replies
that could not reach the member yet (a closed service window: the notice waits for
the member's next message). Keyed, so a repeated run tells nobody twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from domain.config import Programme
from domain.members import members
from domain.notices.tables import Notice
from domain.storage.database import Database
from domain.support import alerts, conversations
from domain.support.tables import SupportConversation, SupportMessage

BATCH = 200


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    async with db.uow() as uow:
        reminded = 0
        for conv in (await conversations.overdue(uow, programme, now))[:BATCH]:
            assert conv.waiting_since is not None
            minutes = int((now - conv.waiting_since).total_seconds() // 60)
            await alerts.tell_staff(
                uow, conv.member_id, "support.staff.overdue",
                {"conversation": conv.id, "member": members.member_number(conv.member_id),
                 "minutes": minutes},
                f"support:remind:{conv.id}:{conv.waiting_since.isoformat()}", now)
            conv.reminded_at = now
            reminded += 1
        waiting = (await uow.session.execute(
            select(SupportMessage, SupportConversation.member_id)
            .join(SupportConversation,
                  SupportConversation.id == SupportMessage.conversation_id)
            .join(Notice, Notice.idempotency_key == SupportMessage.notice_key)
            .where(SupportMessage.direction == conversations.OUT,
                   SupportMessage.waiting_told_at.is_(None), Notice.status == "deferred")
            .order_by(SupportMessage.id).limit(BATCH))).all()
        for message, member_id in waiting:
            await alerts.tell_staff(
                uow, member_id, "support.staff.reply_waiting",
                {"conversation": message.conversation_id,
                 "member": members.member_number(member_id)},
                f"support:reply_waiting:{message.id}", now)
            message.waiting_told_at = now
        await uow.commit()
    return {"reminded": reminded, "replies_waiting": len(waiting)}
