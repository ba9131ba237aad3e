"""Fixtures of the gated-chat conversations: a clock, the engine over FakeRooms, the owner,
and the language of the test groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from domain.community import group_settings
from handlers.engine.rooms import Room
from tests.handlers.community import (
    GOLD_LOUNGE,
    PLATFORM,
    TEA,
    FakeRooms,
    Person,
    engine_for,
    owner,
)
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


@pytest.fixture
def group_language(db, clock) -> Callable[[Room, str], Awaitable[None]]:
    """Sets a group's language as /grouplang does: what /gate says in a group is said in
    the group's language (else the programme's, Chinese here), not the sender's."""

    async def change(chat: Room, language: str) -> None:
        async with db.uow() as uow:
            await group_settings.change(uow, PLATFORM, chat.chat_id, "test", clock.now,
                                        language=language)
            await uow.commit()

    return change


@pytest.fixture
async def english_groups(group_language) -> None:
    """TEA and GOLD_LOUNGE speak English. Not autouse: other modules here rely on the
    programme's own language in those groups (test_trial_gates.py); a module opts in
    with `pytestmark = pytest.mark.usefixtures("english_groups")`."""
    for chat in (TEA, GOLD_LOUNGE):
        await group_language(chat, "en")
