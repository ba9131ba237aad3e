"""Reports: someone points the admins to a message; admins deal with it until it is done.

A report stays open while admins act on it: they may delete the message and warn, mute
or ban its author, each at most once, as Rose and Marie let them; "resolved" (or the
message deleted and its author banned, when nothing is left to do) closes it. Two
admins pressing the same button at once act once.

The reporter's reason and what each admin did are kept in the audit log (filed, then
one entry per action), which group_reports has no columns for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from domain.community.tables import GroupReport
from domain.staff import audit
from domain.staff.tables import AuditEntry
from domain.storage.database import UnitOfWork

OPEN = "open"
RESOLVED = "resolved"
OUTCOMES = ("delete", "warn", "mute", "ban", RESOLVED)
FINAL = frozenset({"delete", "ban"})  # once both are done, nothing is left to do
FILED, ACTED = "group.report_filed", "group.report"
REASON = 200  # characters of a reporter's reason kept
NAME = 64  # characters of a name or title kept


@dataclass(frozen=True)
class Filed:
    """What was said when a report was filed: the reporter's reason (after /report),
    their name and the group's title, as shown then."""

    reason: str
    reporter: str
    title: str


@dataclass(frozen=True)
class Done:
    """An action taken on a report: what, and the admin's name as shown then."""

    what: str
    admin: str


@dataclass(frozen=True)
class Acted:
    """What `act` did: `new` is False when that action was taken already (another
    admin was first); `done` is every action taken so far, in order; `closed`, whether
    the report is closed now."""

    new: bool
    done: tuple[Done, ...]
    closed: bool


async def file(uow: UnitOfWork, platform: str, chat_id: str, reporter_id: str,
               target_id: str, message_id: str | None, now: datetime,
               reason: str = "", reporter: str = "", title: str = "",
               ) -> tuple[GroupReport, bool]:
    """A report of the message (its author `target_id`), and whether it is new: a
    message already reported and still open is not reported twice. `reason`, the
    reporter's name and the group's title are kept to say again when admins act (from
    the log chat too, which knows neither)."""
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
    await audit.record(uow, f"{platform}:{reporter_id}", FILED, _target(row),
                       {"chat": chat_id, "user": target_id, "reason": reason[:REASON],
                        "reporter": reporter[:NAME], "title": title[:NAME]}, now)
    return row, True


async def find(uow: UnitOfWork, platform: str, report_id: int) -> GroupReport | None:
    report = await uow.session.get(GroupReport, report_id)
    return report if report is not None and report.platform == platform else None


async def details(uow: UnitOfWork, report: GroupReport) -> Filed:
    """What was said when the report was filed ("" for what is not known)."""
    params = await uow.session.scalar(select(AuditEntry.params).where(
        AuditEntry.action == FILED, AuditEntry.target == _target(report))
        .order_by(AuditEntry.id.desc()).limit(1)) or {}
    return Filed(*(str(params.get(name) or "") for name in ("reason", "reporter", "title")))


async def done(uow: UnitOfWork, report: GroupReport) -> tuple[Done, ...]:
    """The actions taken on the report so far, in order."""
    rows: list[Any] = list(await uow.session.scalars(select(AuditEntry.params).where(
        AuditEntry.action == ACTED, AuditEntry.target == _target(report))
        .order_by(AuditEntry.id)))
    return tuple(Done(str(p.get("outcome")), str(p.get("admin") or ""))
                 for p in rows if p.get("outcome") in OUTCOMES)


def settled(done: tuple[Done, ...], outcome: str) -> bool:
    """Whether `outcome` needs no doing: done already, or a ban made a warn or a mute
    pointless."""
    taken = {d.what for d in done}
    return outcome in taken or (outcome in ("warn", "mute") and "ban" in taken)


async def act(uow: UnitOfWork, report: GroupReport, outcome: str, actor: str, admin: str,
              now: datetime) -> Acted | None:
    """Record that `outcome` was done (by `actor`, shown as `admin`); None when the
    report is closed. The report's row is written first, which holds other admins'
    presses until this one commits, so each action is recorded (and done) once."""
    assert outcome in OUTCOMES
    won = await uow.changed(update(GroupReport).where(
        GroupReport.id == report.id, GroupReport.status == OPEN)
        .values(resolved_by=actor[:64], resolved_at=now))  # the last admin to act
    if not won:
        return None
    before = await done(uow, report)
    if outcome != RESOLVED and settled(before, outcome):
        return Acted(False, before, False)
    await audit.record(uow, actor, ACTED, _target(report),
                       {"chat": report.chat_id, "user": report.target_id,
                        "outcome": outcome, "admin": admin[:64]}, now)
    after = (*before, Done(outcome, admin))
    closed = outcome == RESOLVED or FINAL <= {d.what for d in after}
    if closed:
        await uow.changed(update(GroupReport).where(GroupReport.id == report.id)
                          .values(status=outcome))
    return Acted(True, after, closed)


def _target(report: GroupReport) -> str:
    return f"report:{report.id}"
