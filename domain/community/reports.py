"""Reports: someone points the admins to a message, and one admin deals with it once.

A report stays open until an admin picks what to do (delete the message, warn, mute,
ban, or nothing more: "resolved"); the first choice wins, so two admins pressing at
once act once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from domain.community.tables import GroupReport
from domain.staff import audit
from domain.storage.database import UnitOfWork

OPEN = "open"
OUTCOMES = ("delete", "warn", "mute", "ban", "resolved")


async def file(uow: UnitOfWork, platform: str, chat_id: str, reporter_id: str,
               target_id: str, message_id: str | None, now: datetime) -> tuple[GroupReport, bool]:
    """A report of the message (its author `target_id`), and whether it is new: a
    message already reported and still open is not reported twice."""
    if message_id is not None:
        found = await uow.session.scalar(select(GroupReport).where(
            GroupReport.platform == platform, GroupReport.chat_id == chat_id,
            GroupReport.message_id == message_id, GroupReport.status == OPEN).limit(1))
        if found is not None:
            return found, False
    row = GroupReport(platform=platform, chat_id=chat_id, reporter_id=reporter_id,
                      target_id=target_id, message_id=message_id, status=OPEN,
                      created_at=now)
    uow.session.add(row)
    await uow.flush()
    return row, True


async def find(uow: UnitOfWork, platform: str, report_id: int) -> GroupReport | None:
    report = await uow.session.get(GroupReport, report_id)
    return report if report is not None and report.platform == platform else None


async def settle(uow: UnitOfWork, report: GroupReport, outcome: str, actor: str,
                 now: datetime) -> bool:
    """Close the report with what was done; False when another admin was first."""
    assert outcome in OUTCOMES
    won = await uow.changed(update(GroupReport).where(
        GroupReport.id == report.id, GroupReport.status == OPEN)
        .values(status=outcome, resolved_by=actor[:64], resolved_at=now))
    if not won:
        return False
    await audit.record(uow, actor, "group.report", f"report:{report.id}",
                       {"chat": report.chat_id, "user": report.target_id,
                        "outcome": outcome}, now)
    return True
