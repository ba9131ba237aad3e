"""Alembic environment. It runs on a connection handed in by domain.storage.schema, or on
MEMBERBOT_DATABASE_URL when invoked as `alembic` from a checkout."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import domain.tables  # noqa: F401  (every table, so the metadata is whole)
from domain.storage.database import create_engine
from domain.storage.tables import Base

target_metadata = Base.metadata
# Workers started together (or restarted onto a new release together) all migrate: on
# PostgreSQL the first holds this lock until its migration commits, and the others then
# find the schema at head instead of creating the same tables again and failing. Keyed
# by schema, like the scheduler's lock; released with the transaction.
_ONE_AT_A_TIME = text("SELECT pg_advisory_xact_lock(hashtext('memberbot.migrations:' "
                      "|| current_schema()))")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(_ONE_AT_A_TIME)
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_migrate)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    asyncio.run(_run_from_url(os.environ.get("MEMBERBOT_DATABASE_URL",
                                             "sqlite+aiosqlite:///memberbot.db")))
