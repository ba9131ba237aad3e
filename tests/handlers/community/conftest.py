"""Fixtures of the gated-chat conversations: a clock, the engine over FakeRooms, the owner."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.handlers.community import FakeRooms, Person, engine_for, owner
from tests.support.transcript import Clock

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def rooms() -> FakeRooms:
    return FakeRooms()


@pytest.fixture
def engine(db, programme, clock, rooms):
    return engine_for(db, programme, clock, rooms)


@pytest.fixture
async def boss(db, programme, engine, clock) -> Person:
    return await owner(db, programme, engine, clock)
