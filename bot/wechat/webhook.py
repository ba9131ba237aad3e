"""The /wechat callback: verify, record, handle once, answer within WeChat's 5 seconds.

POST: open the envelope (signature, timestamp, decryption; 4xx for anything forged,
stale or malformed), write the delivery down with the member's new service window,
then race the handling against `deadline`. In time, the answer goes back as the
passive reply. Too slow, WeChat gets "success" and the answer follows as a
customer-service message when ready. The pipeline's lease lets exactly one of the
two happen, also when WeChat retries the same MsgId meanwhile.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.pipeline import Pipeline
from bot.wechat import render
from bot.wechat.api import ApiError
from bot.wechat.cards import Cards
from bot.wechat.envelope import Envelope, Refused
from bot.wechat.messages import PLATFORM, Incoming, read
from bot.wechat.pictures import Pictures
from bot.wechat.push import Pusher
from bot.wechat.render import Message
from domain import inbox, members, service_window
from domain.config import WeChat
from domain.database import Database
from domain.group_commit import GroupCommit
from handlers.engine import Answer

log = logging.getLogger(__name__)
DEADLINE = 4.0
IN_FLIGHT = timedelta(seconds=60)  # younger deliveries are still being handled elsewhere
EXPIRED = object()  # the slot's answer once the deadline passed


@dataclass
class Slot:
    """Where a handler leaves its passive reply while the HTTP request still waits."""

    future: asyncio.Future[Message | None | object] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())
    closed: bool = False

    def offer(self, message: Message) -> bool:
        if self.closed or self.future.done():
            return False
        self.future.set_result(message)
        return True

    def expire(self) -> None:
        """WeChat's deadline: stop waiting for a passive reply."""
        self.closed = True
        if not self.future.done():
            self.future.set_result(EXPIRED)


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
        if message is EXPIRED:
            return _success()  # the answer, when ready, goes out as a customer-service message
        if message is None:
            return _success()  # nothing to say, or a retry whose answer another request sends
        body = render.passive(incoming.account, incoming.openid, message)  # type: ignore[arg-type]
        return web.Response(text=self.envelope.seal(body, encrypted),
                            content_type="application/xml")

    async def process(self, payload: dict[str, Any]) -> None:
        """Recovery: finish a recorded delivery with no HTTP request waiting for it."""
        received = datetime.fromisoformat(payload["received"])
        if self.clock() - received < IN_FLIGHT:
            return
        incoming = read(payload["fields"])
        if incoming.inbound is None:
            await self._settle(incoming)
        else:
            slot = Slot(closed=True)
            await self._handle(incoming, slot)

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
                                items[0][2])
            await service_window.opened_many(
                uow, PLATFORM, [(i.openid, now) for i, _, now in items if i.opens_window],
                self.config.window_hours, self.config.window_quota)
            await uow.commit()
        return [None] * len(items)

    async def _handle(self, incoming: Incoming, slot: Slot) -> None:
        assert incoming.inbound is not None

        async def deliver(answer: Answer) -> None:
            messages: list[Message] = (
                list(render.pieces(answer)) if self.pictures is None
                else await self.pictures.compose(answer.rendered(), answer.locale))
            if messages and slot.offer(messages[0]):
                messages = messages[1:]
            if messages:
                await self._send_later(incoming.openid, messages)

        try:
            await self.pipeline.handle(incoming.inbound, deliver)
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
