"""The jobs: what each runs and when, in the programme's time zone.

Each job is a domain service of (db, programme, now) returning counts for /jobs. None
relies on running exactly on time or exactly once: they select by a window and act
through unique keys, so a late, repeated or made-up run gives the same result.
Member-facing jobs run in the daytime; birthdays hourly, because the gift is due at
`send_hour` in each member's own zone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from domain.community import seats
from domain.config import Programme
from domain.feedback import triggers
from domain.insight import distinct, reach, report, rollups, scores, snapshots
from domain.lifecycle import birthdays, expiry_reminders, winback
from domain.membership import subscriptions
from domain.points import writeoffs
from domain.privacy import erasure, retention
from domain.staff import jobs
from domain.storage import backups
from domain.storage.database import Database
from domain.support import reminders as support
from domain.tiers import tier_review
from scheduler import campaign_starts as campaigns

Run = Callable[[Database, Programme, datetime], Awaitable[dict[str, Any]]]
HOUR = 3600


@dataclass(frozen=True)
class Job:
    name: str
    run: Run
    trigger: Callable[[Programme], BaseTrigger]
    # How late a fire may still run (the loop was busy, the process paused); beyond it
    # the fire is dropped, and the next one's window covers what it would have done.
    grace_seconds: int


async def _expiry(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    summary = await writeoffs.run(db, now.astimezone(programme.zone).date(), now)
    return {"members": summary.members, "points": summary.points}


async def _campaigns(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    return {"started": await campaigns.start_due(db, programme, now)}


async def _rollups(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    done = await rollups.run(db, programme, now)
    return {**done, "spans": await distinct.keep(db, programme, now),
            "campaigns": await reach.keep(db, now)}


async def _surveys(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    sent = await triggers.run(db, programme, now)
    return {"invited": sum(sent.values()), **sent}


def _daily(hour: int, minute: int) -> Callable[[Programme], BaseTrigger]:
    return lambda p: CronTrigger(hour=hour, minute=minute, timezone=p.zone)


JOBS: tuple[Job, ...] = (
    Job("birthdays", birthdays.run, lambda p: CronTrigger(minute=5, timezone=p.zone),
        HOUR - 60),
    Job("winback", winback.run, _daily(10, 30), 6 * HOUR),
    Job("expiry", _expiry, _daily(0, 10), 12 * HOUR),
    Job("expiry_reminders", expiry_reminders.run, _daily(11, 0), 6 * HOUR),
    Job("tier_review", tier_review.run, _daily(9, 0), 6 * HOUR),
    Job("campaigns", _campaigns, lambda p: CronTrigger(second=0, timezone=p.zone), 50),
    # Tier changes re-check a member's seats at once; this catches the rest.
    Job("community", seats.sweep, lambda p: CronTrigger(minute=20, timezone=p.zone),
        HOUR - 60),
    # Hourly: a purchase's survey is due so many hours after it, in each member's day.
    Job("surveys", _surveys, lambda p: CronTrigger(minute=40, timezone=p.zone),
        HOUR - 60),
    # Every minute: unanswered support conversations remind staff past [support]'s time.
    Job("support", support.run, lambda p: CronTrigger(second=30, timezone=p.zone), 50),
    # /stats adds what came after the last roll-up itself: this keeps that part short,
    # and keeps what no longer changes: the named periods' distinct members of days
    # that ended, the reach of campaigns whose attribution window closed.
    Job("rollups", _rollups, lambda p: CronTrigger(minute="*/10", timezone=p.zone),
        600 - 60),
    # Hourly, and the day's last reading stays that day's: /stats compares with it.
    Job("standing", snapshots.take, lambda p: CronTrigger(minute=55, timezone=p.zone),
        HOUR - 60),
    # Nightly: campaign segments by RFM segment or churn risk read these scores.
    Job("scores", scores.run, _daily(3, 30), 12 * HOUR),
    # Weekly, to the operators who asked: keyed by ISO week and reader, so once a week.
    Job("report", report.run, lambda p: CronTrigger(
        day_of_week=p.insight.report_weekday, hour=p.insight.report_hour, minute=0,
        timezone=p.zone), 12 * HOUR),
    # Every 15 minutes: members whose /deleteme cooling-off ended are erased.
    Job("erasure", erasure.run, lambda p: CronTrigger(minute="*/15", timezone=p.zone),
        900 - 60),
    # Daily, in the daytime (it warns members): [privacy] retention_days, off unless set.
    Job("retention", retention.run, _daily(11, 15), 6 * HOUR),
    # Hourly: paid plans whose renewal is missed past [membership] grace_days end.
    Job("membership", subscriptions.lapse_due,
        lambda p: CronTrigger(minute=25, timezone=p.zone), HOUR - 60),
    # [backup] every_hours, which divides a day: at :45 of the same hours each day (once
    # a day, 02:45).
    Job("backup", backups.run, lambda p: CronTrigger(
        hour=",".join(str(h) for h in range(2 % p.backup.every_hours, 24,
                                             p.backup.every_hours)),
        minute=45, timezone=p.zone), HOUR - 60),
)
assert tuple(j.name for j in JOBS) == jobs.NAMES, "domain.staff.jobs.NAMES lists every job"
