"""Inbox-first delivery: a delivery acts once, answers once, and survives a crash."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.pipeline import Pipeline
from domain.conversations import inbox
from domain.conversations.tables import InboxItem
from domain.points.tables import Checkin
from handlers.engine.types import Inbound
from tests.support.transcript import Clock, member

PAYLOAD = {"text": "/checkin"}


def checkin(key: str | None = "u1", text: str = "/checkin") -> Inbound:
    return Inbound(platform="console", user_id="alice", chat_id="alice", text=text, key=key,
                   locale="en")


async def count(db, model) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


def pipeline(db, programme, clock) -> Pipeline:
    return Pipeline(db, member(db, programme, clock).chat.engine, "console", clock=clock)


async def test_the_same_key_acts_once_and_replays_the_first_answer(db, programme, now):
    clock = Clock(now)
    engine = member(db, programme, clock).chat.engine
    first = await engine.handle(checkin())
    again = await engine.handle(checkin())
    assert not first.replayed and again.replayed
    assert [m.text for m in again.rendered()] == [m.text for m in first.rendered()]
    assert "+5" in first.rendered()[-1].text
    assert await count(db, Checkin) == 1
    other = await engine.handle(checkin(key="u2"))
    assert "already checked in" in other.rendered()[-1].text


async def test_concurrent_copies_of_one_delivery_act_once_and_answer_once(db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("u1", PAYLOAD)])
    sent = []

    async def deliver(answer):
        sent.append(answer.rendered()[-1].text)

    await asyncio.gather(*(pipe.handle(checkin(), deliver) for _ in range(8)))
    assert len(sent) == 1 and "+5" in sent[0]
    assert await count(db, Checkin) == 1


async def test_a_crash_before_sending_is_finished_by_recovery_without_acting_again(
        db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("u1", PAYLOAD)])

    async def down(answer):
        raise ConnectionError("platform down")

    try:
        await pipe.handle(checkin(), down)
    except ConnectionError:
        pass
    assert await count(db, Checkin) == 1
    sent = []

    async def process(payload):
        await pipe.handle(checkin(text=payload["text"]), lambda a: _append(sent, a))

    assert await pipe.recover(process) == 0 or sent == []  # the lease still holds
    clock.advance(seconds=31)
    assert await pipe.recover(process) == 0  # the lease ran out, but it is in flight still
    clock.advance(seconds=30)
    assert await pipe.recover(process) == 1
    assert len(sent) == 1 and "+5" in sent[0]
    assert await count(db, Checkin) == 1
    clock.advance(seconds=31)
    assert await pipe.recover(process) == 0


async def test_a_delivery_recorded_but_never_handled_is_handled_by_recovery(db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("u1", PAYLOAD), ("u2", {"text": "/points"})])
    await pipe.receive([("u1", {"text": "ignored: already recorded"})])
    sent: list[str] = []
    process = _replaying(pipe, sent)

    # Just received: the process that received them may still be handling them, and a
    # chat's next message must not be answered before them.
    assert await pipe.recover(process) == 0 and sent == []
    assert await pipe.recover(process, alone=True) == 2  # nobody else could be
    assert "+5" in sent[0] and "Points balance: 5" in sent[1]
    assert await count(db, Checkin) == 1
    async with db.uow() as uow:
        assert await inbox.unfinished(uow, "console", clock()) == []


async def test_recovery_beside_other_workers_takes_only_deliveries_out_of_flight(
        db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("u1", PAYLOAD)])
    clock.advance(seconds=59)
    await pipe.receive([("u2", {"text": "/points"})])
    sent: list[str] = []
    process = _replaying(pipe, sent)

    assert await pipe.recover(process) == 0
    clock.advance(seconds=2)
    assert await pipe.recover(process) == 1 and "+5" in sent[0]  # u1 only
    clock.advance(seconds=60)
    assert await pipe.recover(process) == 1 and "Points balance: 5" in sent[1]


async def test_a_refusal_is_finished_by_delivering_it_and_old_rows_are_pruned(
        db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("big", {"text": "x"})])
    sent = []
    await pipe.handle(checkin(key="big", text="x" * 5000), lambda a: _append(sent, a))
    assert "too long" in sent[0]
    async with db.uow() as uow:
        assert await inbox.unfinished(uow, "console", clock()) == []
        assert await inbox.prune(uow, clock() - timedelta(days=1)) == 0
        assert await inbox.prune(uow, clock() + timedelta(seconds=1)) == 1
        await uow.commit()
    assert await count(db, InboxItem) == 0


def _replaying(pipe: Pipeline, sent: list[str]):
    """Recovery's way back into the pipeline for u1 (/checkin) and u2 (/points)."""
    async def process(payload):
        key = "u1" if payload["text"] == "/checkin" else "u2"
        await pipe.handle(checkin(key=key, text=payload["text"]),
                          lambda a: _append(sent, a))
    return process


async def _append(sent: list, answer) -> None:
    sent.append("\n".join(m.text for m in answer.rendered()))


async def test_a_lone_poller_takes_over_the_leases_a_dead_process_left(db, programme, now):
    clock = Clock(now)
    pipe = pipeline(db, programme, clock)
    await pipe.receive([("u1", PAYLOAD)])

    async def dies(answer):
        raise ConnectionError("killed")

    try:
        await pipe.handle(checkin(), dies)
    except ConnectionError:
        pass
    sent = []

    async def process(payload):
        await pipe.handle(checkin(text=payload["text"]), lambda a: _append(sent, a))

    await pipe.recover(process)
    assert sent == []  # another worker might still be sending
    assert await pipe.recover(process, alone=True) == 1
    assert len(sent) == 1 and "+5" in sent[0]
    assert await count(db, Checkin) == 1
