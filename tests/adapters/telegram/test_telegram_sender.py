"""The Sender: pacing, flood waits and outcomes.

Pacing and pauses are checked in virtual time (an injected clock and sleep) against an
in-memory transport; the outcomes are then checked for real, through aiogram and PTB,
against the fake Bot API server.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import Counter

import pytest

from bot.telegram.sender import Sender
from bot.telegram.transport import (
    FloodWait,
    Part,
    Rejected,
    TelegramFailure,
    TransientFailure,
    Unreachable,
)
from handlers.engine.types import Rendered

HI = Rendered("hi")


class VirtualTime:
    """A clock that jumps to the next sleeper's wake-up once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._seq), waiter))
        await waiter

    async def run(self, *coros):
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(30):  # let every runnable task run until it blocks
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                return [t.result() for t in tasks]
            if not self._sleepers:
                raise AssertionError("deadlock: tasks wait and nobody sleeps")
            wake, _, waiter = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not waiter.done():
                waiter.set_result(None)


class Recorder:
    """An in-memory transport: records what went out and when, fails as scripted."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.latency: dict[str, float] = {}  # per chat, before the answer comes back
        self.attempts: list[tuple[float, str, str]] = []
        self.sent: list[tuple[float, str, str, bool]] = []  # (time, chat, text, paid)
        self.failures: dict[int, TelegramFailure] = {}  # by attempt number, from 1
        self.chat_failures: dict[str, list[TelegramFailure]] = {}

    async def send_part(self, chat_id: str, part: Part, *, paid: bool = False) -> str:
        started = self.time.now
        self.attempts.append((started, chat_id, part.text))
        if chat_id in self.latency:
            await self.time.sleep(self.latency[chat_id])
        failure = self.failures.pop(len(self.attempts), None)
        if failure is None and self.chat_failures.get(chat_id):
            failure = self.chat_failures[chat_id].pop(0)
        if failure is not None:
            raise failure
        self.sent.append((started, chat_id, part.text, paid))
        return str(len(self.sent))


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def out(vt) -> Recorder:
    return Recorder(vt)


def sender(out: Recorder, vt: VirtualTime, **kwargs) -> Sender:
    return Sender(out, clock=vt.clock, sleep=vt.sleep, **kwargs)


def times(out: Recorder) -> list[float]:
    return [round(t, 9) for t, *_ in out.sent]


# ---------------------------------------------------------------- pacing, virtual time


async def test_global_rate_is_paced_exactly_under_concurrency(vt, out):
    s = sender(out, vt, rate=10)
    results = await vt.run(*(s.send(str(i), Rendered(f"m{i}")) for i in range(50)))
    assert all(r.status == "sent" for r in results)
    assert times(out) == [round(i / 10, 9) for i in range(50)]  # first at once, then 1/rate
    assert [text for _, _, text, _ in out.sent] == [f"m{i}" for i in range(50)]  # FIFO
    assert s.counters.sent == 50


async def test_private_chats_get_one_message_a_second_in_order(vt, out):
    s = sender(out, vt, rate=30)
    await vt.run(*(s.send("42", Rendered(f"m{i}")) for i in range(4)),
                 s.send("43", Rendered("other")))
    mine = [(t, text) for t, chat, text, _ in out.sent if chat == "42"]
    assert mine == [(0.0, "m0"), (1.0, "m1"), (2.0, "m2"), (3.0, "m3")]
    assert [t for t, chat, *_ in out.sent if chat == "43"] == [pytest.approx(1 / 30)]


async def test_group_chats_get_group_per_minute(vt, out):
    s = sender(out, vt, rate=10, group_per_minute=20)
    await vt.run(*(s.send("-100", Rendered(f"m{i}"), group=True) for i in range(22)))
    t = times(out)
    assert t[:20] == [round(i / 10, 9) for i in range(20)]
    assert t[20:] == [60.0, 60.1]  # the window frees as the first two age out


async def test_interactive_skips_chat_spacing_but_not_the_global_rate(vt, out):
    s = sender(out, vt, rate=10)
    await vt.run(*(s.send("42", Rendered(f"m{i}"), interactive=True) for i in range(3)))
    assert times(out) == [0.0, 0.1, 0.2]
    await vt.run(s.send("42", Rendered("bulk")))  # recorded in the window all the same
    assert times(out)[-1] == pytest.approx(1.2)


async def test_interactive_replies_go_before_queued_bulk(vt, out):
    s = sender(out, vt, rate=10)

    async def answer_later():
        await vt.sleep(0.05)
        return await s.send("9", Rendered("answer"), interactive=True)

    await vt.run(*(s.send(str(i), Rendered(f"bulk{i}")) for i in range(20)), answer_later())
    # the head of the queue already holds the 0.1 slot; the answer takes the next one
    assert [text for *_, text, _ in out.sent].index("answer") == 2
    assert times(out)[2] == pytest.approx(0.2)


async def test_a_flood_wait_pauses_every_send_then_retries(vt, out):
    s = sender(out, vt, rate=10)
    out.failures[3] = FloodWait(5)
    results = await vt.run(*(s.send(str(i), Rendered(f"m{i}")) for i in range(6)))
    assert [r.status for r in results] == ["sent"] * 6
    assert results[2].attempts == 2
    assert times(out) == [0.0, 0.1, 5.2, 5.3, 5.4, 5.5]  # nothing between 0.2 and 0.2 + 5
    assert sorted(text for *_, text, _ in out.sent) == [f"m{i}" for i in range(6)]
    assert s.counters.flood_waits == 1 and s.paused_until == pytest.approx(5.2)


async def test_a_shorter_flood_wait_never_cuts_a_pause_short(vt, out):
    s = sender(out, vt, rate=10, private_interval=0)
    out.chat_failures = {"a": [FloodWait(10)], "b": [FloodWait(1)]}
    out.latency = {"a": 0.5, "b": 0.6}  # both in flight when the first 429 comes back
    await vt.run(s.send("a", HI), s.send("b", HI), s.send("c", HI))
    assert s.paused_until == pytest.approx(10.5)  # the 429 that came at 0.5 holds
    assert [(round(t, 9), chat) for t, chat, *_ in out.sent] == [
        (0.2, "c"), (10.5, "a"), (10.6, "b")]


async def test_unreachable_is_reported_once_and_not_retried(vt, out):
    gone: list[str] = []

    async def mark(chat_id: str) -> None:
        gone.append(chat_id)

    s = sender(out, vt, on_unreachable=mark)
    out.failures[1] = Unreachable("Forbidden: bot was blocked by the user")
    [result] = await vt.run(s.send("42", HI))
    assert (result.status, result.attempts, result.message_id) == ("unreachable", 1, None)
    assert "blocked" in result.detail and gone == ["42"] and out.sent == []
    assert s.counters.unreachable == 1


async def test_rejected_is_logged_with_the_chat_and_not_retried(vt, out, caplog):
    rejected: list[str] = []

    async def note(chat_id: str) -> None:
        rejected.append(chat_id)

    s = sender(out, vt, on_rejected=note)
    out.failures[1] = Rejected("Bad Request: chat not found")
    with caplog.at_level(logging.WARNING, logger="bot.telegram.sender"):
        [result] = await vt.run(s.send("42", HI))
    assert (result.status, result.attempts) == ("rejected", 1)
    assert rejected == ["42"] and len(out.attempts) == 1
    [record] = [r for r in caplog.records if r.msg == "telegram rejected a message"]
    assert record.chat_id == "42" and "chat not found" in record.detail


async def test_a_failing_callback_does_not_lose_the_result(vt, out):
    async def broken(chat_id: str) -> None:
        raise RuntimeError("database down")

    s = sender(out, vt, on_unreachable=broken)
    out.failures[1] = Unreachable("Forbidden: user is deactivated")
    [result] = await vt.run(s.send("42", HI))
    assert result.status == "unreachable"


async def test_transient_failures_back_off_exponentially(vt, out):
    s = sender(out, vt, backoff=0.5, private_interval=0)
    for n in (1, 2, 3):
        out.failures[n] = TransientFailure("Bad Gateway")
    [result] = await vt.run(s.send("42", HI))
    assert (result.status, result.attempts) == ("sent", 4)
    assert [t for t, *_ in out.attempts] == [0.0, 0.5, 1.5, 3.5]


async def test_transient_failures_give_up_after_max_attempts(vt, out):
    s = sender(out, vt, max_attempts=3)
    out.chat_failures["42"] = [TransientFailure("timeout")] * 5
    [result] = await vt.run(s.send("42", HI))
    assert (result.status, result.attempts, result.detail) == ("failed", 3, "timeout")
    assert s.counters.failed == 1


async def test_a_retry_never_repeats_a_part_that_went_out(vt, out):
    s = sender(out, vt, private_interval=0)
    out.failures[2] = TransientFailure("reset")
    [result] = await vt.run(s.send("42", Rendered("caption", image=b"PNG", file=("a", b"1"))))
    assert result.status == "sent" and result.attempts == 3
    assert [text for *_, text, _ in out.sent] == ["", "caption"]  # photo once, then document


async def test_paid_broadcast_only_within_its_rate_and_budget(vt, out):
    s = sender(out, vt, rate=10, paid_rate=100, paid_budget=5)
    await vt.run(*(s.send(str(i), Rendered(f"m{i}")) for i in range(12)))
    paid = [round(t, 9) for t, _, _, p in out.sent if p]
    assert paid == [0.0, 0.01, 0.02, 0.03, 0.04] and s.counters.paid == 5
    assert [t for t, *_, p in out.sent if not p] == pytest.approx([0.0] + [
        0.1 * i for i in range(1, 7)])  # the first free, then the rest at the free rate


async def test_interactive_sends_are_never_paid(vt, out):
    s = sender(out, vt, rate=10, paid_rate=100, paid_budget=5)
    await vt.run(*(s.send(str(i), HI, interactive=True) for i in range(3)))
    assert [p for *_, p in out.sent] == [False] * 3 and times(out) == [0.0, 0.1, 0.2]


@pytest.mark.parametrize("paid", [{}, {"paid_budget": 100}, {"paid_rate": 100}])
async def test_paid_broadcast_needs_both_a_rate_and_a_budget(vt, out, paid):
    s = sender(out, vt, **paid)
    await vt.run(*(s.send(str(i), HI) for i in range(40)))
    assert not any(p for *_, p in out.sent) and s.counters.paid == 0


@pytest.mark.parametrize("kwargs", [
    {"rate": 0}, {"rate": -1}, {"private_interval": -1}, {"group_per_minute": 0},
    {"max_attempts": 0}, {"backoff": -0.1}, {"paid_rate": 1001, "paid_budget": 1},
    {"paid_rate": -1}, {"paid_budget": -1},
])
def test_nonsense_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Sender(object(), **kwargs)  # type: ignore[arg-type]


async def test_idle_chats_are_forgotten(vt, out):
    s = sender(out, vt, rate=1000)
    await vt.run(*(s.send(f"old{i}", HI) for i in range(1100)))
    vt.now += 120
    await vt.run(*(s.send(f"new{i}", HI) for i in range(1200)))
    assert len(s._chats) <= 1200  # the old ones went once their windows were empty


# ---------------------------------------------------------------- real libraries, real HTTP


async def test_a_429_pauses_all_later_sends(api, transport):
    s = Sender(transport, rate=5, private_interval=0)  # no send in flight when the 429 comes
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    results = await asyncio.gather(*(s.send(str(i), Rendered(f"m{i}")) for i in range(5)))
    assert [r.status for r in results] == ["sent"] * 5
    flood = next(c for c in api.calls if c.status == 429)
    assert all(c.at >= flood.at + 1 for c in api.sent())  # nothing during the pause
    assert sorted(c.text for c in api.sent()) == [f"m{i}" for i in range(5)]
    assert s.counters.flood_waits == 1


async def test_a_blocked_member_is_reported_once(api, transport):
    gone: list[str] = []

    async def mark(chat_id: str) -> None:
        gone.append(chat_id)

    s = Sender(transport, on_unreachable=mark)
    api.blocked.add(42)
    result = await s.send("42", HI)
    assert (result.status, result.attempts, gone) == ("unreachable", 1, ["42"])
    assert len([c for c in api.calls if c.method == "sendMessage"]) == 1


async def test_a_bad_request_is_not_retried(api, transport):
    s = Sender(transport)
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    result = await s.send("42", HI)
    assert (result.status, result.attempts) == ("rejected", 1)
    assert [c.status for c in api.calls if c.method == "sendMessage"] == [400]


async def test_network_errors_are_retried(api, transport):
    s = Sender(transport, backoff=0.01, private_interval=0)
    api.disconnect_next("sendMessage")
    api.fail_next("sendMessage", 502, "Bad Gateway")
    result = await s.send("42", HI)
    assert (result.status, result.attempts, result.message_id) == ("sent", 3, "1")
    assert len(api.sent("sendMessage")) == 1


async def test_order_kept_and_nothing_doubled_under_concurrency(api, transport):
    s = Sender(transport, rate=200, private_interval=0.02, backoff=0.01)
    api.fail_next("sendMessage", 502, "Bad Gateway")
    api.disconnect_next("sendMessage")
    jobs = [(str(chat), f"{chat}:{n}") for n in range(5) for chat in (1, 2, 3)]
    results = await asyncio.gather(*(s.send(chat, Rendered(text)) for chat, text in jobs))
    assert all(r.status == "sent" for r in results)
    texts = [c.text for c in api.sent("sendMessage")]
    assert Counter(texts) == Counter(text for _, text in jobs)  # each exactly once
    for chat in ("1", "2", "3"):
        assert [t for t in texts if t.startswith(f"{chat}:")] == [f"{chat}:{n}" for n in range(5)]


async def test_edit_through_the_sender(api, transport):
    s = Sender(transport)
    first = await s.send("42", Rendered("page 1"), interactive=True)
    again = await s.send("42", Rendered("page 2", edit=True), edit_message_id=first.message_id,
                         interactive=True)
    assert again.message_id == first.message_id
    assert api.messages[(42, int(first.message_id))]["text"] == "page 2"
