"""Migrations build exactly the schema the models describe, and run both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import bot.tables  # noqa: F401  (the schema the migrations build: every table)
from domain.storage import schema
from domain.storage.tables import Base


async def _diff(engine):
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))


async def _tables(engine):
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_from_empty_matches_the_models_then_down_and_up_again(backend):
    db = await backend.empty()
    try:
        assert await schema.current(db.engine) is None
        await schema.upgrade(db.engine)
        assert await schema.current(db.engine) == schema.head()
        assert await _diff(db.engine) == []
        assert {"members", "ledger_entries", "identities", "conversations"} <= await _tables(
            db.engine)
        await schema.downgrade(db.engine, "base")
        assert await schema.current(db.engine) is None
        assert await _tables(db.engine) <= {"alembic_version"}
        await schema.upgrade(db.engine)
        assert await schema.current(db.engine) == schema.head()
        assert await _diff(db.engine) == []
    finally:
        await db.dispose()
