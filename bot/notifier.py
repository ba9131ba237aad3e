"""Delivers queued notices on whichever platform reaches the member.

A pusher per platform sends one rendered message to one account and says how it
went: "sent", "unreachable" (blocked, unfollowed: try the member's next account),
"rejected" (the platform refused this message), "retry" (a passing failure),
"deferred" (WeChat's window is closed: wait until the member writes) or "wait" (the
platform is still connecting: try again shortly, no attempt counted).

A notice naming a support photo (domain.support.pictures.PARAM) takes it along, made
ready for each account just before it is tried (bot/notice_pictures.py); while the
platform holding the photo is still connecting, the notice waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot import notice_pictures
from bot.notice_pictures import Photo
from domain.config import Programme
from domain.members import members
from domain.members.tables import Member
from domain.notices import notices
from domain.notices.tables import Notice
from domain.rewards import catalogue
from domain.storage.database import Database
from domain.support import pictures
from handlers.engine.types import Rendered
from handlers.notices.notices import drawn, locale_for, render_drawn, render_notice

log = logging.getLogger(__name__)
Push = Callable[[str, Rendered], Awaitable[str]]
WAIT = "wait"
Target = tuple[str, str, Rendered]  # platform, account, message


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
            # Everyone's row and accounts in two queries, not two for each notice.
            people = await members.many(uow, [n.member_id for n in due])
            accounts = await members.accounts_of(uow, people)
            work = [(n.id, *await self._targets(uow, n, people[n.member_id],
                                                accounts.get(n.member_id, {})))
                    for n in due]
            drawing = {n.id: (n.key, dict(n.params), self._locale(people[n.member_id]))
                       for n in due if drawn(n.key)}
            await uow.commit()
        for i, (nid, targets, photo) in enumerate(work):
            if nid in drawing and targets:  # its chart is drawn now, out of the transaction
                message = await render_drawn(*drawing[nid], self.programme)
                if message is not None:
                    work[i] = (nid, [(p, a, message) for p, a, _ in targets], photo)
        results = await asyncio.gather(*(self._send(nid, targets, photo)
                                         for nid, targets, photo in work))
        if work:
            async with self.db.uow() as uow:
                await notices.finish_all(uow, [
                    (nid, outcome, platform, detail)
                    for (nid, _, _), (outcome, platform, detail) in zip(work, results,
                                                                        strict=True)],
                    self.clock())
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

    def _locale(self, member: Member) -> str:
        return locale_for(member.locale, self.programme, member.language_hint)

    async def _targets(self, uow, notice: Notice, member: Member, accounts: dict[str, str],
                       ) -> tuple[list[Target], Photo | None]:
        if member.status in ("erased", "unreachable"):
            return [], None
        locale = self._locale(member)
        message = render_notice(notice.key, notice.params, locale, self.programme)
        photo = None
        if pictures.PARAM in notice.params:
            picture = await pictures.find(uow, int(notice.params[pictures.PARAM]))
            if picture is not None:
                photo = Photo(picture, locale)
            else:  # the words promise a photo that is not kept
                message = notice_pictures.unavailable(message, locale, self.programme)
        return [(p, accounts[p], message) for p in self.pushers if p in accounts], photo

    async def _send(self, notice_id: int, targets: list[Target],
                    photo: Photo | None) -> tuple[str, str | None, str]:
        outcome, platform = "unreachable", None
        if photo is not None and targets \
                and self.pushers.get(photo.picture.platform) is connecting:
            return WAIT, photo.picture.platform, ""  # the photo is there once it is
        for platform, external_id, message in targets:
            try:
                outcome = await self._push(platform, external_id, message, photo)
            except Exception as exc:  # noqa: BLE001 - a broken pusher must not stop the queue
                log.exception("push failed", extra={"notice": notice_id, "platform": platform})
                outcome = "retry"
                return outcome, platform, type(exc).__name__
            if outcome != "unreachable":
                break
        return outcome, platform, ""

    async def _push(self, platform: str, external_id: str, message: Rendered,
                    photo: Photo | None) -> str:
        """One account tried, the notice's photo made ready for it first. A photo sent
        by reference and refused (Telegram no longer knows the file) leaves the words
        with the line saying so."""
        push = self.pushers[platform]
        if photo is None:
            return await push(external_id, message)
        source = self.pushers.get(photo.picture.platform)
        shown = await notice_pictures.attach(message, photo, platform, source,
                                             self.programme)
        outcome = await push(external_id, shown)
        if outcome == "rejected" and shown.image_ref is not None:
            outcome = await push(external_id, notice_pictures.unavailable(
                message, photo.locale, self.programme))
        return outcome
