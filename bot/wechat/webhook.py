"""The /wechat callback: verify, record, handle once, answer within WeChat's 5 seconds.

POST: open the envelope (signature, timestamp, decryption; 4xx for anything forged,
stale or malformed), write the delivery down with the member's new service window,
then race the handling against `deadline`. In time, the answer goes back as the
passive reply. Too slow, WeChat gets "success" and the answer follows as a
customer-service message when ready. Exactly one of the two happens, also across a
crash: the delivery is written down as awaiting a passive reply, and the transaction
that records the answer thereby records it as given (no commit is added before the
reply); a callback that answers "success" instead first declines durably, and only a
declined answer is ever sent as customer-service messages. WeChat retries a callback
that got no response within 5 s; a retry carries an owed answer again, from the
inbox, so an answer recorded just before a crash still arrives. What remains: down
for longer than WeChat's retries (about 15 s) after the answer was recorded but
before the reply left, the member gets nothing.

An answer with pictures (coupon QR codes, the member's scene code) is composed by
`pictures` before its first message is offered, so uploads count against the
deadline like handling does; the passive reply is the first message (a text or an
image) and the rest follow as customer-service messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.pipeline import IN_FLIGHT, Pipeline
from bot.wechat import asides, render
from bot.wechat.api import ApiError
from bot.wechat.cards import Cards
from bot.wechat.envelope import Envelope, Refused
from bot.wechat.messages import PLATFORM, Incoming, read
from bot.wechat.pictures import Pictures
from bot.wechat.programme import WeChat
from bot.wechat.push import Pusher
from bot.wechat.render import Message
from bot.wechat.store import service_window
from domain.conversations import inbox
from domain.members import members
from domain.notices import notices
from domain.storage.database import Database
from domain.storage.group_commit import GroupCommit
from handlers.engine.engine import Answer

log = logging.getLogger(__name__)
DEADLINE = 4.0
EXPIRED = object()  # the slot's answer once the deadline passed


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class Slot:
    """Where a handler leaves its passive reply while the HTTP request still waits, and
    learns, if it came too late, whether the first message went passively after all."""

    future: asyncio.Future[Message | None | object] = field(default_factory=_future)
    # Whether a callback carried the first message: set by the request when it answers
    # without it, or beforehand by recovery.
    carried: asyncio.Future[bool] = field(default_factory=_future)
    closed: bool = False
    held: bool = False
    due: bool = False

    def offer(self, message: Message) -> bool:
        if self.closed or self.future.done():
            return False
        self.future.set_result(message)
        return True

    def expire(self) -> None:
        """WeChat's deadline: stop waiting for a passive reply (unless one is being
        taken over from the inbox right now)."""
        if self.held:
            self.due = True
            return
        self.closed = True
        if not self.future.done():
            self.future.set_result(EXPIRED)

    def hold(self) -> bool:
        """Keep the request waiting while a retry takes over an owed answer: once taken,
        it must go out in this response (late, WeChat simply retries again)."""
        if self.closed or self.future.done():
            return False
        self.held = True
        return True

    def unhold(self) -> None:
        self.held = False
        if self.due:
            self.expire()

    def settle(self, carried: bool) -> None:
        if not self.carried.done():
            self.carried.set_result(carried)


def _success() -> web.Response:
    """WeChat's "received, no reply now" (a Response object serves one request only)."""
    return web.Response(text="success")


class Webhook:
    def __init__(self, envelope: Envelope, pipeline: Pipeline, db: Database, pusher: Pusher,
                 config: WeChat, cards: Cards | None = None, deadline: float = DEADLINE,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 pictures: Pictures | None = None) -> None:
        self.envelope = envelope
        self.pipeline = pipeline
        self.db = db
        self.pusher = pusher
        self.config = config
        self.cards = cards
        self.deadline = deadline
        self.clock = clock
        self.pictures = pictures
        self.tasks: set[asyncio.Task[Any]] = set()
        # Deliveries arriving together are written down in one transaction.
        self._recording: GroupCommit[tuple[Incoming, dict[str, Any], datetime], None] = \
            GroupCommit(self._record_many)

    async def verify(self, request: web.Request) -> web.Response:
        """Server verification: echo `echostr` only to a correctly signed request."""
        try:
            self.envelope.verify(request.query)
        except Refused as refused:
            return web.Response(status=refused.status, text=str(refused))
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        started = asyncio.get_running_loop().time()  # WeChat's 5 s run from here, not later
        try:
            fields = self.envelope.open(request.query, await request.read())
            incoming = read(fields)
        except Refused as refused:
            log.info("wechat callback refused", extra={"why": str(refused),
                                                       "status": refused.status})
            return web.Response(status=refused.status, text=str(refused))
        encrypted = request.query.get("encrypt_type", "").lower() == "aes"
        try:
            await self._record(incoming, fields)
        except Exception:
            log.exception("cannot record a wechat delivery")
            return web.Response(status=503)  # not written down: WeChat must try again
        if incoming.inbound is None:
            try:
                await self._settle(incoming)
            except Exception:
                log.exception("wechat event failed; recovery will retry",
                              extra={"key": incoming.key})
            return _success()
        slot = Slot()
        task = asyncio.create_task(self._handle(incoming, slot))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: slot.future.done() or slot.future.set_result(None))
        left = self.deadline - (asyncio.get_running_loop().time() - started)
        timer = asyncio.get_running_loop().call_later(max(left, 0.05), slot.expire)
        message = await slot.future
        timer.cancel()
        if message is EXPIRED or message is None:
            # Too slow (the answer follows as customer-service messages), nothing to say,
            # or a retry whose answer another request sends.
            return await self._decline(incoming, slot)
        slot.settle(True)
        body = render.passive(incoming.account, incoming.openid, message)  # type: ignore[arg-type]
        return web.Response(text=self.envelope.seal(body, encrypted),
                            content_type="application/xml")

    async def process(self, payload: dict[str, Any]) -> None:
        """Recovery: finish a recorded delivery with no HTTP request waiting for it."""
        received = datetime.fromisoformat(payload["received"])
        if self.clock() - received < IN_FLIGHT:  # still in its receiver's hands
            return
        incoming = read(payload["fields"])
        if incoming.inbound is None:
            await self._settle(incoming)
        else:
            async with self.db.uow() as uow:
                sent = await inbox.passive_sent(uow, PLATFORM, incoming.key)
                await uow.commit()
            slot = Slot(closed=True)
            slot.settle(sent)
            await self._handle(incoming, slot, live=False)

    async def drain(self, grace: float = DEADLINE + 1) -> None:
        """At shutdown: let handlers finish briefly; recovery redoes the rest."""
        if self.tasks:
            _done, pending = await asyncio.wait(set(self.tasks), timeout=grace)
            for task in pending:
                task.cancel()

    async def _record(self, incoming: Incoming, fields: dict[str, str]) -> None:
        """Written down before WeChat hears from us: the delivery and, in the same
        transaction, the service window the member's action opens."""
        now = self.clock()
        await self._recording.submit((incoming, {"fields": fields, "received": now.isoformat()},
                                      now))

    async def _record_many(self, items: list[tuple[Incoming, dict[str, Any], datetime]]) -> list:
        async with self.db.uow() as uow:
            await inbox.receive(uow, PLATFORM, [(i.key, payload) for i, payload, _ in items],
                                items[0][2], passive=True)
            opened = [(i.openid, now) for i, _, now in items if i.opens_window]
            await service_window.opened_many(uow, PLATFORM, opened, self.config.window_hours,
                                             self.config.window_quota)
            # Notices that waited for the window (WeChat would not take them) go now.
            await notices.wake_accounts(uow, PLATFORM, [openid for openid, _ in opened],
                                        items[0][2])
            await uow.commit()
        return [None] * len(items)

    async def _decline(self, incoming: Incoming, slot: Slot) -> web.Response:
        """Answer "success" without the answer, after writing that down: whoever sends
        the answer then sends all of it."""
        try:
            async with self.db.uow() as uow:
                declined = await inbox.decline_passive(uow, PLATFORM, incoming.key)
                await uow.commit()
        except Exception:
            log.exception("cannot decline a passive reply", extra={"key": incoming.key})
            slot.settle(True)  # still owed to a callback: a WeChat retry carries it
            return web.Response(status=503)
        # Not declined: a retry's callback carried it (WeChat had given up on this one).
        slot.settle(not declined)
        return _success()

    async def _compose(self, incoming: Incoming, answer: Answer) -> list[Message]:
        said = asides.apply(incoming.aside, answer.rendered(), answer.locale)
        if self.pictures is None:
            return render.pieces(said, answer.locale)
        return await self.pictures.compose(said, answer.locale)

    async def _handle(self, incoming: Incoming, slot: Slot, live: bool = True) -> None:
        assert incoming.inbound is not None
        owed = True  # False once the inbox says a recorded answer goes whole, by the API

        async def deliver(answer: Answer) -> None:
            messages = await self._compose(incoming, answer)
            if messages and await carried(answer, messages[0]):
                messages = messages[1:]
            if messages:
                await self._send_later(incoming.openid, messages)

        async def carried(answer: Answer, first: Message) -> bool:
            if (answer.leased or not answer.replayed) and slot.offer(first):
                return True  # answered here and now: a replay is never offered unasked
            return owed and await slot.carried

        async def again(answer: Answer) -> bool:
            """A WeChat retry: carry the recorded answer if a passive reply owes it."""
            nonlocal owed
            messages = await self._compose(incoming, answer)
            if not messages:
                return True
            if not slot.hold():
                return False  # too late: the request declines, or says a retry carried it
            try:
                async with self.db.uow() as uow:
                    owed = await inbox.take_passive(uow, PLATFORM, incoming.key)
                    await uow.commit()
                if owed:
                    slot.offer(messages[0])  # the rest is sent by the first request or recovery
                return owed
            finally:
                slot.unhold()

        try:
            await self.pipeline.handle(incoming.inbound, deliver, again if live else None)
        except Exception:
            log.exception("wechat delivery failed; recovery will retry",
                          extra={"key": incoming.key})
        if self.cards is not None:
            self.cards.nudge()

    async def _send_later(self, openid: str, messages: list[Message]) -> None:
        result = await self.pusher.custom(openid, messages)
        if result.outcome == "sent":
            return
        if result.retryable:
            raise ApiError(result.errcode or -1, "will retry")  # the lease runs out; retried
        log.warning("a late reply could not be sent", extra={
            "outcome": result.outcome, "errcode": result.errcode})

    async def _settle(self, incoming: Incoming) -> None:
        """Deliveries that need no reply: unfollow, card events, VIEW, location reports."""
        if incoming.kind == "unsubscribe":
            async with self.db.uow() as uow:
                await members.set_reachable(uow, PLATFORM, incoming.openid, False, self.clock())
                await uow.commit()
        elif incoming.kind == "card" and incoming.card is not None and self.cards is not None:
            await self.cards.link(incoming.openid, *incoming.card)
        await self.pipeline.finish(incoming.key)
