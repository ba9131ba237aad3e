"""domain/community/seats.mmd draws a seat's life; this holds the drawing to the code.

The diagram follows the flows' convention (tests/handlers/test_flows.py): a state is a
node of class `state` labelled with its name, here `seat.<status>`. Its states must be
exactly the statuses domain.community.seats names, and every arrow from one state to
another (through the prose nodes between them) is walked here through the domain: a
drawn arrow without a walk, or a walk the diagram does not draw, fails.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

import domain.community
from domain.community import gates, removals, seats
from domain.members.tables import Member
from handlers.community import joining
from tests.handlers.test_flows import diagram_states
from tests.support.lifecycle_helpers import a_member

DIAGRAM = Path(domain.community.__file__).with_name("seats.mmd")
STATUSES = (seats.IN, seats.LAPSED, seats.REMOVED, seats.LEFT)
T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
CHAT, USER, GRACE = "-1001000000009", "3003", timedelta(hours=1)

_NODE = r'(\w+)(?:\s*[\[({]+"[^"]*"[\])}]+)?(?::::\w+)?'
# Solid arrows only: `a --> b`, `a -- yes --> b`, `a -- "why" --> b`. Dotted ones are notes.
ARROW = re.compile(rf'^\s*{_NODE}\s*(?:--\s*(?:"[^"]*"|[^"\->]+?)\s*-->|-->)\s*{_NODE}', re.M)
STATE_ID = re.compile(r'(\w+)\s*[\[({]+"(seat\.\w+)[^"]*"[\])}]+:::state\b')
START = None  # where a transition begins for someone first seen in the chat


def transitions(text: str) -> set[tuple[str | None, str]]:
    """(from, to) statuses the diagram draws: state to state through prose nodes, and
    (START, to) from a node no arrow leads to."""
    status = {node: name.removeprefix("seat.") for node, name in STATE_ID.findall(text)}
    arrows: dict[str, set[str]] = {}
    targets: set[str] = set()
    for source, target in ARROW.findall(text):
        arrows.setdefault(source, set()).add(target)
        targets.add(target)

    def reached(node: str, seen: set[str]) -> set[str]:
        found: set[str] = set()
        for nxt in arrows.get(node, ()):
            if nxt in status:
                found.add(status[nxt])
            elif nxt not in seen:
                found |= reached(nxt, seen | {nxt})
        return found

    drawn: set[tuple[str | None, str]] = set()
    for node in arrows:
        if node in status:
            drawn |= {(status[node], to) for to in reached(node, set())}
        elif node not in targets:
            drawn |= {(START, to) for to in reached(node, set())}
    return drawn


# ------------------------------------------------------------------ states

def test_the_diagram_draws_exactly_the_seat_statuses():
    assert diagram_states(DIAGRAM.read_text()) == {f"seat.{s}" for s in STATUSES}


def test_the_statuses_are_the_ones_seats_py_names():
    """A status added to seats.py without a place in the diagram is caught here."""
    named = {value for name, value in vars(seats).items()
             if name.isupper() and isinstance(value, str)}
    assert named == set(STATUSES) and seats.PRESENT == (seats.IN, seats.LAPSED)


def test_every_arrow_is_read():
    text = DIAGRAM.read_text()
    solid = sum(line.count("-->") for line in text.splitlines() if "-.->" not in line)
    assert len(ARROW.findall(text)) == solid


@pytest.mark.parametrize("change", [
    lambda t: t.replace('"seat.left: went"]:::state', '"seat.left: went"]'),
    lambda t: t.replace('"seat.lapsed:', '"seat.lapse:'),
    lambda t: t.replace("    classDef", '    ban["seat.banned: for ever"]:::state\n    classDef'),
], ids=["unmarked", "misspelt", "extra"])
def test_a_drifted_state_is_caught(change):
    text = DIAGRAM.read_text()
    changed = change(text)
    assert changed != text
    try:
        drawn = diagram_states(changed)
    except ValueError:
        return
    assert drawn != {f"seat.{s}" for s in STATUSES}


def test_a_drifted_arrow_is_caught():
    text = DIAGRAM.read_text()
    changed = text.replace("    left -- \"rejoins\" --> arrive\n", "")
    assert changed != text and transitions(changed) != transitions(text)


# ------------------------------------------------------------------ transitions, walked

async def _gate(db, programme):
    async with db.uow() as uow:
        gate = await gates.open_gate(uow, programme, "telegram", CHAT, "supergroup", "Den",
                                     "gold", GRACE, "https://t.me/+den", "test", T0)
        await uow.commit()
        return gate.id


async def _status(db) -> str | None:
    async with db.uow() as uow:
        gate = await gates.find(uow, "telegram", CHAT)
        seat = await seats.find(uow, gate, USER)
        return seat.status if seat else None


class Walk:
    """One seat, moved by what the platform reports and the domain decides."""

    def __init__(self, db, programme) -> None:
        self.db, self.programme, self.now = db, programme, T0

    async def start(self, tier: str) -> None:
        await _gate(self.db, self.programme)
        self.member = await a_member(self.db, self.programme, T0 - timedelta(days=30), USER,
                                     tier=tier)

    async def seen(self, status: str) -> None:
        await joining.seen(self.db, self.programme, "telegram", CHAT, USER, status, self.now)

    async def tier(self, tier: str) -> None:
        """The member's tier changes, and the change re-checks their seats."""
        async with self.db.uow() as uow:
            await uow.session.execute(update(Member).where(Member.id == self.member)
                                      .values(tier=tier))
            await seats.recheck(uow, self.programme.tiers, [self.member], self.now)
            await uow.commit()

    async def grace_over(self) -> None:
        self.now += GRACE + timedelta(minutes=1)
        async with self.db.uow() as uow:
            due = await removals.due(uow, "telegram", self.now, 10)
            assert [r.user_id for r in due] == [USER]
            assert await removals.removed(uow, due[0], self.now)
            await uow.commit()

    async def into(self, status: str) -> None:
        """Put the seat in `status` the way the diagram reaches it."""
        await self.start("member" if status in (seats.LAPSED, seats.REMOVED) else "gold")
        await self.seen("member")
        if status == seats.REMOVED:
            await self.grace_over()
        elif status == seats.LEFT:
            await self.seen("left")


Step = Callable[[Walk], Awaitable[None]]


async def _arrive_gold(w: Walk) -> None:
    await w.start("gold")
    await w.seen("member")


async def _arrive_plain(w: Walk) -> None:
    await w.start("member")
    await w.seen("member")


async def _requalify_and_rejoin(w: Walk) -> None:
    await w.tier("gold")
    await w.seen("member")


async def _drop_and_rejoin(w: Walk) -> None:
    await w.tier("member")
    await w.seen("member")


# (from, to): the walk from `from` (set up by Walk.into) that should end in `to`.
WALKS: dict[tuple[str | None, str], Step] = {
    (START, seats.IN): _arrive_gold,
    (START, seats.LAPSED): _arrive_plain,
    (seats.IN, seats.LAPSED): lambda w: w.tier("member"),
    (seats.IN, seats.LEFT): lambda w: w.seen("left"),
    (seats.LAPSED, seats.IN): lambda w: w.tier("gold"),
    (seats.LAPSED, seats.REMOVED): lambda w: w.grace_over(),
    (seats.LAPSED, seats.LEFT): lambda w: w.seen("kicked"),
    (seats.REMOVED, seats.IN): _requalify_and_rejoin,
    (seats.REMOVED, seats.LAPSED): lambda w: w.seen("member"),
    (seats.LEFT, seats.IN): lambda w: w.seen("member"),
    (seats.LEFT, seats.LAPSED): _drop_and_rejoin,
}


def test_the_walks_are_the_arrows_drawn():
    assert transitions(DIAGRAM.read_text()) == set(WALKS)


@pytest.mark.parametrize("arrow", sorted(WALKS, key=str), ids=lambda a: f"{a[0]}->{a[1]}")
async def test_each_drawn_arrow_happens(db, programme, arrow):
    source, target = arrow
    walk = Walk(db, programme)
    if source is not START:
        await walk.into(source)
        assert await _status(db) == source
    await WALKS[arrow](walk)
    assert await _status(db) == target
