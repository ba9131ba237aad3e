"""Delivers queued notices on whichever platform reaches the member.

A pusher per platform sends one rendered message to one account and says how it
went: "sent", "unreachable" (blocked, unfollowed: try the member's next account),
"rejected" (the platform refused this message), "retry" (a passing failure),
"deferred" (WeChat's window is closed: wait until the member writes) or "wait" (the
platform is still connecting: try again shortly, no attempt counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from domain.config import Programme
from domain.members import members
from domain.notices import notices
from domain.notices.tables import Notice
from domain.rewards import catalogue
from domain.storage.database import Database
from handlers.engine.types import Rendered
from handlers.notices.notices import locale_for, render_notice

log = logging.getLogger(__name__)
Push = Callable[[str, Rendered], Awaitable[str]]
WAIT = "wait"


async def connecting(external_id: str, message: Rendered) -> str:
    """The pusher of a platform still connecting (Telegram while its Bot API is out of
    reach at start), in its place among the pushers until the real one comes: it sends
    nothing, and what would go through it waits for it."""
    return WAIT


class Notifier:
    def __init__(self, db: Database, programme: Programme, pushers: dict[str, Push],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.programme = programme
        self.pushers = pushers  # in order of preference
        self.clock = clock

    async def run_once(self, limit: int = 100) -> int:
        """Send what is due; returns how many notices were attempted."""
        async with self.db.uow() as uow:
            due = await notices.claim(uow, self.clock(), limit)
            if due:  # a notice may name a reward, in the wording operators gave it
                await catalogue.refresh(uow, self.programme)
            work = [(n.id, await self._targets(uow, n)) for n in due]
            await uow.commit()
        results = await asyncio.gather(*(self._send(nid, targets) for nid, targets in work))
        async with self.db.uow() as uow:
            for (nid, _), (outcome, platform, detail) in zip(work, results, strict=True):
                await notices.finish(uow, nid, outcome, self.clock(), platform, detail)
            await uow.commit()
        return len(work)

    async def run(self, every: float = 2.0) -> None:
        while True:
            try:
                while await self.run_once() > 0:
                    pass
            except Exception:
                log.exception("notifier pass failed")
            await asyncio.sleep(every)

    async def _targets(self, uow, notice: Notice) -> list[tuple[str, str, Rendered]]:
        member = await members.get(uow, notice.member_id)
        if member.status in ("erased", "unreachable"):
            return []
        message = render_notice(notice.key, notice.params,
                                locale_for(member.locale, self.programme, member.language_hint),
                                self.programme)
        accounts = {i.platform: i.external_id for i in await members.identities(uow, member.id)}
        return [(p, accounts[p], message) for p in self.pushers if p in accounts]

    async def _send(self, notice_id: int,
                    targets: list[tuple[str, str, Rendered]]) -> tuple[str, str | None, str]:
        outcome, platform = "unreachable", None
        for platform, external_id, message in targets:
            try:
                outcome = await self.pushers[platform](external_id, message)
            except Exception as exc:  # noqa: BLE001 - a broken pusher must not stop the queue
                log.exception("push failed", extra={"notice": notice_id, "platform": platform})
                outcome = "retry"
                return outcome, platform, type(exc).__name__
            if outcome != "unreachable":
                break
        return outcome, platform, ""
