"""The scheduler in a process: beside the platforms in `memberbot run`, or alone as
`memberbot scheduler`.

Every process may run one; on PostgreSQL exactly one leads (an advisory lock) and the
rest stand by to take over. Jobs only queue notices; the notifier of a `memberbot run`
process with a platform sends them, so a scheduler alone needs no platform settings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.app import App, lifespan
from bot.ordering import cancel, stop_on_signals
from bot.settings import Settings
from scheduler.service import POLL_SECONDS, Scheduler

log = logging.getLogger(__name__)


@asynccontextmanager
async def running(app: App, poll: float = POLL_SECONDS) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(app.db, app.programme, poll=poll)
    task = asyncio.create_task(scheduler.run(), name="scheduler")
    try:
        yield scheduler
    finally:
        await cancel([task])


async def standalone(settings: Settings, poll: float = POLL_SECONDS,
                     stop: asyncio.Event | None = None) -> int:
    """`memberbot scheduler`: the jobs and nothing else, until SIGINT or SIGTERM."""
    stop = stop or stop_on_signals()
    async with lifespan(settings) as app, running(app, poll) as scheduler:
        log.info("scheduler process started", extra={"runner": scheduler.name,
                                                     "backend": app.db.dialect})
        await stop.wait()
    return 0
