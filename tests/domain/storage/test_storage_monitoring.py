"""The unit of work reports database errors to domain.monitoring by kind: a conflict the
database settled (run again) apart from real failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from domain.members.tables import Identity
from domain.storage.database import again_if_transient


class Deadlock(Exception):
    sqlstate = "40P01"  # as asyncpg's DeadlockDetectedError carries it


async def test_errors_are_counted_by_kind_and_a_settled_conflict_apart(db, heard):
    tries = 0

    async def attempt() -> None:
        nonlocal tries
        tries += 1
        async with db.uow() as uow:
            await uow.session.connection()
            if tries == 1:
                raise DBAPIError("UPDATE members ...", None, Deadlock("deadlock detected"))
            await uow.commit()
    await again_if_transient(attempt)
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:  # no member 999: the foreign key refuses it
            uow.session.add(Identity(member_id=999, platform="console", external_id="x",
                                     linked_at=now))
            await uow.flush()
    with pytest.raises(ValueError):
        async with db.uow():
            raise ValueError("not the database's")
    assert (tries, heard.failed) == (2, {"transient": 1, "IntegrityError": 1})
