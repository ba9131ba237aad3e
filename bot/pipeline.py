"""Inbox-first handling, shared by every platform adapter.

record the delivery -> acknowledge it to the platform -> handle it once -> send the
answer once. A crash anywhere leaves a row that `recover` finishes: handled rows
only resend their recorded answer, unhandled ones are handled now, and a redelivery
that arrives meanwhile changes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import metrics
from domain.conversations import inbox
from domain.storage.database import Database
from domain.storage.group_commit import GroupCommit
from handlers.engine.engine import Answer, Engine
from handlers.engine.types import Inbound

log = logging.getLogger(__name__)
Deliver = Callable[[Answer], Awaitable[None]]
# A redelivery's own way with a recorded answer; False: send it once, as usual.
Again = Callable[[Answer], Awaitable[bool]]
Process = Callable[[dict[str, Any]], Awaitable[None]]
FINISH_LINGER = 0.01
# How long the process that received a delivery may still be handling it; recovery
# beside other processes leaves younger deliveries to it.
IN_FLIGHT = timedelta(seconds=60)


class Pipeline:
    def __init__(self, db: Database, engine: Engine, platform: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 linger: float = FINISH_LINGER) -> None:
        self.db = db
        self.engine = engine
        self.platform = platform
        self.clock = clock
        # Concurrent calls share one transaction (group commit): on SQLite every
        # transaction queues for the one write lock. Each caller still returns only
        # after its own rows are committed.
        self._receiving: GroupCommit[list[tuple[str, dict[str, Any]]], None] = GroupCommit(
            self._commit_received)
        self._finishing: GroupCommit[str, None] = GroupCommit(self._commit_finished,
                                                              limit=500, linger=linger)

    async def receive(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Write deliveries down; only after this may the platform be told we have them."""
        await self._receiving.submit(items)

    async def _commit_received(self, batches: list[list[tuple[str, dict[str, Any]]]]) -> list:
        async with self.db.uow() as uow:
            await inbox.receive(uow, self.platform, [i for b in batches for i in b],
                                self.clock())
            await uow.commit()
        return [None] * len(batches)

    async def handle(self, inbound: Inbound, deliver: Deliver,
                     again: Again | None = None) -> Answer:
        """Handle once and deliver once. `again` sees a recorded answer first (a WeChat
        retry carries one owed to a passive reply back itself, with no lease).
        Counted for monitoring (bot.metrics): by outcome, and the time to answer."""
        began = time.perf_counter()
        kind = "callback" if inbound.action else "update"
        try:
            answer = await self.engine.handle(inbound)
            if inbound.key is None:
                await deliver(answer)
            elif answer.leased:  # the handling transaction took the lease with the answer
                await deliver(answer)
                await self.finish(inbound.key)
            elif not (again is not None and answer.replayed and await again(answer)):
                await self.once(inbound.key, lambda: deliver(answer))
        except Exception:
            metrics.handled(self.platform, kind, "failed")
            raise
        if answer.replayed:
            metrics.handled(self.platform, kind, "replayed")
        elif answer.replies:
            metrics.handled(self.platform, kind, "answered")
            metrics.replied(self.platform, time.perf_counter() - began)
        else:
            metrics.handled(self.platform, kind, "silent")
        return answer

    async def once(self, key: str, send: Callable[[], Awaitable[None]]) -> bool:
        """Send at most once across workers: take the lease, send, mark delivered.
        If `send` raises, the lease runs out and recover() tries again."""
        async with self.db.uow() as uow:
            won = await inbox.lease(uow, self.platform, key, self.clock())
            await uow.commit()
        if won:
            await send()
            await self.finish(key)
        return won

    async def finish(self, key: str) -> None:
        """Mark a delivery done (also those that need no answer: a block, an edit).
        Marks wait `linger` for company: a sent answer is already with the member,
        and one commit then covers many. If the commit fails, the rows stay for
        recovery."""
        await self._finishing.submit(key)

    async def _commit_finished(self, keys: list[str]) -> list:
        async with self.db.uow() as uow:
            await inbox.delivered(uow, self.platform, keys, self.clock())
            await uow.commit()
        return [None] * len(keys)

    async def recover(self, process: Process, alone: bool = False) -> int:
        """Run every unfinished delivery through `process` again; returns how many.
        `alone`: no other process can be sending, so leases left by a dead one are void."""
        async with self.db.uow() as uow:
            if alone:
                await inbox.take_over(uow, self.platform)
                await uow.commit()
        now = self.clock()
        async with self.db.uow() as uow:
            # Not alone, a delivery younger than IN_FLIGHT may still be queued in the
            # process that received it: taken here too, a chat's next message could be
            # answered before it (nothing would happen twice: claims are once only).
            pending = await inbox.unfinished(
                uow, self.platform, now, received_before=None if alone else now - IN_FLIGHT)
        done = 0
        for item in pending:
            if item.payload is None:
                continue  # claimed by an engine call that had no payload to replay
            try:
                await process(item.payload)
                done += 1
            except Exception:
                log.exception("recovering a delivery failed", extra={
                    "platform": self.platform, "key": item.key})
        return done

    async def keep_recovering(self, process: Process, every: float = 30.0) -> None:
        """Answers whose sending failed (the platform was down) are retried here."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.recover(process)
            except Exception:
                log.exception("recovery pass failed", extra={"platform": self.platform})
