"""A staff member's long read (Ctx.read) runs outside the batch: members' messages go
on meanwhile, and the staff step runs again with the figure, its writes made once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from domain.staff import audit, roles
from domain.staff.tables import AuditEntry
from handlers.engine.engine import READ_PASSES, Engine
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Inbound, reply

NOW = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
HANG_GUARD = 10  # seconds: only so that a regression fails instead of hanging the run


def _say(user: str, text: str) -> Inbound:
    return Inbound(platform="console", user_id=user, chat_id=user, text=text)


class _Reads:
    """A router whose /count writes an audit row, then reads a figure that is only
    ready when the test says so; /ping answers at once."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0
        self.router = Router()
        self.router.command("count")(self.count)
        self.router.command("ping")(self.ping)
        self.router.command("start")(self.ping)  # a new member's welcome
        self.router.command("moving")(self.moving)

    async def _figure(self, _snapshot) -> int:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return 42

    async def count(self, ctx: Ctx) -> Outcome:
        await audit.record(ctx.uow, f"member:{ctx.member.id}", "count", "-", {}, ctx.now)
        figure = await ctx.read("figure", self._figure)
        return Outcome([reply("echo", said=str(figure))])

    async def ping(self, ctx: Ctx) -> Outcome:
        return Outcome([reply("echo", said="pong")])

    async def moving(self, ctx: Ctx) -> Outcome:
        """Asks for a new figure on every pass, as if the data moved under it."""
        self.calls += 1
        figure = await ctx.read(f"figure:{self.calls}", self._instant)
        return Outcome([reply("echo", said=str(figure))])

    async def _instant(self, _snapshot) -> int:
        return self.calls


async def _engine_with_owner(db, programme, reads: _Reads) -> Engine:
    engine = Engine(db, programme, reads.router, clock=lambda: NOW)
    await engine.handle(_say("boss", "/start"))
    await engine.handle(_say("alice", "/start"))
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:boss", NOW)
        await uow.commit()
    return engine


async def _audit_rows(db) -> int:
    async with db.uow() as uow:
        return int(await uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "count")))


async def test_a_member_is_answered_while_a_staff_members_read_runs(db, programme):
    reads = _Reads()
    engine = await _engine_with_owner(db, programme, reads)
    staff = asyncio.create_task(engine.handle(_say("boss", "/count")))
    await asyncio.wait_for(reads.started.wait(), HANG_GUARD)

    answer = await asyncio.wait_for(engine.handle(_say("alice", "/ping")), HANG_GUARD)
    assert answer.replies == [reply("echo", said="pong")]
    assert not staff.done()  # the read still runs: the member did not wait for it

    reads.release.set()
    answer = await asyncio.wait_for(staff, HANG_GUARD)
    assert answer.replies == [reply("echo", said="42")]
    assert reads.calls == 1  # read once, before the second pass
    assert await _audit_rows(db) == 1  # the first pass's write was rolled back


async def test_a_members_read_runs_in_place(db, programme):
    """Members hold no savepoint: their step reads where it stands, once."""
    reads = _Reads()
    engine = await _engine_with_owner(db, programme, reads)
    reads.release.set()
    answer = await asyncio.wait_for(engine.handle(_say("alice", "/count")), HANG_GUARD)
    assert answer.replies == [reply("echo", said="42")]
    assert reads.calls == 1
    assert await _audit_rows(db) == 1


async def test_a_read_that_keeps_moving_is_read_in_place_at_last(db, programme):
    """A step that asks for a new figure on every pass does not loop: after READ_PASSES
    passes it reads in place."""
    reads = _Reads()
    engine = await _engine_with_owner(db, programme, reads)
    answer = await asyncio.wait_for(engine.handle(_say("boss", "/moving")), HANG_GUARD)
    assert reads.calls == READ_PASSES + 1
    assert answer.replies == [reply("echo", said=str(READ_PASSES + 1))]
