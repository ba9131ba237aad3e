"""The outbound side of one bot token: pacing, flood waits, retries and their outcome.

Telegram answers 429 when a bot sends more than about 30 messages a second overall,
more than one a second to one private chat, or more than 20 a minute to one group, and
then refuses everything for `retry_after` seconds. So every send here

1. queues behind earlier sends to the same chat, so order is kept,
2. waits until that chat's window has room: 1 per `private_interval`, `group_per_minute`
   per minute,
3. takes the next slot of the global schedule, first in, first out, `1/rate` apart, and
   never during a flood pause,
4. makes one Bot API call, once per part of the reply (`transport.plan`), so a retry
   never repeats a part that went out.

Interactive sends (answers to what the user just did) skip steps 1 and 2 in private
chats, though they are recorded in the chat's window, and go before queued bulk
sends in step 3; the caller keeps their order by awaiting them one after another. A
group's queue and window hold for them too: Telegram's 20 a minute there is firm, and
its 429 would pause every send of the bot.

A 429 pauses every send of this Sender; 403 and 400 are final; network errors and 5xx
are retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot import metrics
from bot.telegram.transport import (
    FloodWait,
    Part,
    Rejected,
    TransientFailure,
    Unreachable,
    plan,
)
from handlers.engine.types import Rendered

log = logging.getLogger(__name__)
PLATFORM = "telegram"  # as bot.metrics counts its sends
PAID_RATE_MAX = 1000.0  # messages per second Telegram allows with allow_paid_broadcast
MAX_FLOOD_WAITS = 10  # per message; a server that keeps answering 429 gets a "failed"
CATCH_UP = 0.05  # seconds a late slot may be made up for, so timer lag does not cost rate

Status = Literal["sent", "unreachable", "rejected", "failed"]
ChatCallback = Callable[[str], Awaitable[None]]


class PartSender(Protocol):
    async def send_part(self, chat_id: str, part: Part, *, paid: bool = False) -> str: ...


@dataclass(frozen=True)
class SendResult:
    status: Status
    message_id: str | None = None  # of the last part sent
    attempts: int = 0  # Bot API calls made, retries included
    detail: str = ""  # why, when not sent


@dataclass
class Counters:
    """Outcomes so far, for progress displays."""

    sent: int = 0
    unreachable: int = 0
    rejected: int = 0
    failed: int = 0
    flood_waits: int = 0
    paid: int = 0  # calls made with allow_paid_broadcast


class _Chat:
    """Who is queued for one chat, and when its recent messages went."""

    __slots__ = ("lock", "times", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.times: deque[float] = deque()
        self.users = 0


class _Gate:
    """A lock whose waiters are served first in, first out, interactive ones first."""

    def __init__(self) -> None:
        self._busy = False
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    @contextlib.asynccontextmanager
    async def turn(self, *, urgent: bool) -> AsyncIterator[None]:
        if self._busy or any(self._queues):
            queue = self._queues[0 if urgent else 1]
            waiter = asyncio.get_running_loop().create_future()
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._next()  # the turn was handed to us: pass it on
                elif waiter in queue:
                    queue.remove(waiter)
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._next()

    def _next(self) -> None:
        for queue in self._queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # still busy: the turn passes to it
                    return
        self._busy = False


class Sender:
    """One per bot token. Paid broadcast (`allow_paid_broadcast`, billed per message) is
    used only when `paid_rate` and `paid_budget` are both positive, only for bulk sends,
    and only when the free schedule is busy: paid messages come on top of `rate`, at most
    `paid_rate` a second and `paid_budget` in all (a hard cap; then the free rate again)."""

    def __init__(self, transport: PartSender, *, rate: float = 30.0,
                 private_interval: float = 1.0, group_per_minute: int = 20,
                 max_attempts: int = 5, backoff: float = 0.5, paid_rate: float = 0,
                 paid_budget: int = 0, on_unreachable: ChatCallback | None = None,
                 on_rejected: ChatCallback | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if private_interval < 0 or backoff < 0:
            raise ValueError("private_interval and backoff cannot be negative")
        if group_per_minute < 1 or max_attempts < 1:
            raise ValueError("group_per_minute and max_attempts must be at least 1")
        if not 0 <= paid_rate <= PAID_RATE_MAX:
            raise ValueError(f"paid_rate must be between 0 and {PAID_RATE_MAX:.0f}")
        if paid_budget < 0:
            raise ValueError("paid_budget cannot be negative")
        self.transport = transport
        self.rate = rate
        self.private_interval = private_interval
        self.group_per_minute = group_per_minute
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.paid_rate = paid_rate
        self.paid_budget = paid_budget
        self.on_unreachable = on_unreachable
        self.on_rejected = on_rejected
        self.counters = Counters()
        self._clock = clock
        self._sleep = sleep
        self._gate = _Gate()  # the head of the queue waits for its slot
        self._free_next = float("-inf")
        self._paid_next = float("-inf")
        self._paused_until = float("-inf")
        self._chats: dict[str, _Chat] = {}
        self._sweep_at = 1024

    @property
    def paused_until(self) -> float:
        """Clock time before which nothing is sent (a flood wait)."""
        return self._paused_until

    async def send(self, chat_id: str, message: Rendered, *, group: bool = False,
                   edit_message_id: str | None = None, interactive: bool = False,
                   thread_id: int | None = None, close_keyboard: bool = False) -> SendResult:
        """Send `message` (to forum topic `thread_id` of the chat, if given; taking a
        reply keyboard away with it, see `transport.plan`); never raises for Telegram's
        or the network's reasons (a reply that cannot be rendered, such as an over-long
        button action, is a ValueError). Topics share their chat's limits."""
        parts = plan(message, edit_message_id=edit_message_id, thread_id=thread_id,
                     close_keyboard=close_keyboard)
        chat = self._chats.get(chat_id) or self._chats.setdefault(chat_id, _Chat())
        chat.users += 1
        metrics.queue_in(PLATFORM, "sender")
        try:
            if interactive and not group:
                return await self._send_parts(chat_id, parts, chat, group, interactive)
            async with chat.lock:
                return await self._send_parts(chat_id, parts, chat, group, interactive)
        finally:
            chat.users -= 1
            metrics.queue_out(PLATFORM, "sender")
            if len(self._chats) > self._sweep_at:
                self._sweep()

    async def _send_parts(self, chat_id: str, parts: list[Part], chat: _Chat, group: bool,
                          interactive: bool) -> SendResult:
        attempts, last = 0, None
        for part in parts:
            result = await self._send_part(chat_id, part, chat, group, interactive)
            attempts += result.attempts
            if result.status != "sent":
                return SendResult(result.status, last, attempts, result.detail)
            last = result.message_id
        self.counters.sent += 1
        metrics.sent(PLATFORM, "sent")
        return SendResult("sent", last, attempts)

    async def _send_part(self, chat_id: str, part: Part, chat: _Chat, group: bool,
                         interactive: bool) -> SendResult:
        attempts = floods = failures = 0
        while True:
            if group or not interactive:
                await self._chat_turn(chat, group)
            paid = await self._slot(interactive)
            self._record(chat, group)
            attempts += 1
            try:
                message_id = await self.transport.send_part(chat_id, part, paid=paid)
                return SendResult("sent", message_id, attempts)
            except FloodWait as exc:
                self._pause(exc.retry_after)
                floods += 1
                if floods >= MAX_FLOOD_WAITS:
                    return self._fail(chat_id, attempts, f"still flood-limited: {exc}")
            except Unreachable as exc:
                self.counters.unreachable += 1
                metrics.sent(PLATFORM, "403")
                await self._notify(self.on_unreachable, chat_id)
                return SendResult("unreachable", None, attempts, exc.description)
            except Rejected as exc:
                self.counters.rejected += 1
                metrics.sent(PLATFORM, "rejected")
                log.warning("telegram rejected a message", extra={
                    "chat_id": chat_id, "part": part.kind, "detail": exc.description})
                await self._notify(self.on_rejected, chat_id)
                return SendResult("rejected", None, attempts, exc.description)
            except TransientFailure as exc:
                failures += 1
                if failures >= self.max_attempts:
                    return self._fail(chat_id, attempts, exc.description)
                await self._sleep(self.backoff * 2 ** (failures - 1))

    def _fail(self, chat_id: str, attempts: int, detail: str) -> SendResult:
        self.counters.failed += 1
        metrics.sent(PLATFORM, "failed")
        log.warning("telegram send failed", extra={"chat_id": chat_id, "attempts": attempts,
                                                   "detail": detail})
        return SendResult("failed", None, attempts, detail)

    def _pause(self, retry_after: float) -> None:
        """Pause every send until `retry_after` from now; a pause is never shortened."""
        self.counters.flood_waits += 1
        metrics.sent(PLATFORM, "429")  # an attempt refused; the message waits and goes again
        self._paused_until = max(self._paused_until, self._clock() + retry_after)
        log.warning("telegram flood wait", extra={"retry_after": retry_after})

    async def _notify(self, callback: ChatCallback | None, chat_id: str) -> None:
        if callback is None:
            return
        try:
            await callback(chat_id)
        except Exception:  # a failing callback must not lose the result of the send
            log.exception("send outcome callback failed", extra={"chat_id": chat_id})

    # ------------------------------------------------------------------ pacing

    def _window(self, group: bool) -> tuple[int, float]:
        return (self.group_per_minute, 60.0) if group else (1, self.private_interval)

    async def _chat_turn(self, chat: _Chat, group: bool) -> None:
        """Wait until the chat's window has room for one more message."""
        size, period = self._window(group)
        while True:
            now = self._clock()
            while chat.times and chat.times[0] + period <= now:
                chat.times.popleft()
            if len(chat.times) < size:
                return
            await self._sleep(chat.times[0] + period - now)

    def _record(self, chat: _Chat, group: bool) -> None:
        size, _ = self._window(group)
        chat.times.append(self._clock())
        while len(chat.times) > size:
            chat.times.popleft()

    async def _slot(self, interactive: bool) -> bool:
        """Wait for the next free slot, first come first served; True if it is a paid one."""
        async with self._gate.turn(urgent=interactive):
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                free_at = self._free_next if self._free_next >= now - CATCH_UP else now
                at, paid = free_at, False
                if not interactive and self.paid_rate and self.counters.paid < self.paid_budget:
                    paid_at = self._paid_next if self._paid_next >= now - CATCH_UP else now
                    if paid_at < free_at:
                        at, paid = paid_at, True
                if at > now:
                    await self._sleep(at - now)
                    continue  # a flood wait may have begun meanwhile
                if paid:
                    self._paid_next = at + 1 / self.paid_rate
                    self.counters.paid += 1
                else:
                    self._free_next = at + 1 / self.rate
                return paid

    def _sweep(self) -> None:
        """Forget idle chats whose window is empty, so memory follows active chats."""
        now = self._clock()
        period = max(60.0, self.private_interval)
        for key, chat in list(self._chats.items()):
            if chat.users == 0 and (not chat.times or chat.times[-1] + period <= now):
                del self._chats[key]
        self._sweep_at = max(1024, 2 * len(self._chats))
