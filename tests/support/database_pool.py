"""Test databases with every table, made once and emptied between tests.

Making the tables for each test cost more than most tests themselves once the schema
grew past forty tables: about 0.3 s a PostgreSQL case (CREATE SCHEMA, every CREATE
TABLE, then DROP SCHEMA ... CASCADE). So PostgreSQL schemas are kept in a pool and
emptied in one round trip when a test ends, and each SQLite test gets a copy of one
file made at the start. A schema a test changed (a table more or less, a column
altered) is dropped instead of reused, and so is one that is not empty within a
second or two (a test left many rows, or a connection that holds a lock).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text

from domain.storage.database import Database, create_engine
from domain.storage.tables import Base

# The catalog itself: information_schema's views cost more than emptying the tables.
_SHAPE = text("SELECT count(DISTINCT c.oid), count(a.attnum) FROM pg_class c"
              " JOIN pg_namespace n ON n.oid = c.relnamespace"
              " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
              " AND NOT a.attisdropped WHERE n.nspname = :s AND c.relkind = 'r'")


# Deleting the few rows a test leaves, and restarting the id sequences, in one round
# trip: cheaper than TRUNCATE, which replaces every table's files.
_EMPTY = text("DO $$ DECLARE s text; BEGIN "
              + " ".join(f'DELETE FROM "{t.name}";'
                         for t in reversed(Base.metadata.sorted_tables))
              + " FOR s IN SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                " AND c.relkind = 'S' LOOP"
                " EXECUTE format('ALTER SEQUENCE %I RESTART', s); END LOOP; END $$")


class SchemaPool:
    def __init__(self, url: str) -> None:
        self.url = url
        self.free: list[str] = []
        self.made: list[str] = []
        self.shape: tuple[int, int] | None = None  # (tables, columns) of a whole schema

    def open(self, schema: str) -> Database:
        return Database.from_url(self.url, pool_size=20,
                                 connect_args={"server_settings": {"search_path": schema}})

    async def take(self) -> str:
        if self.free:
            return self.free.pop()
        schema = f"t_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE SCHEMA "{schema}"')
        self.made.append(schema)
        db = self.open(schema)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                if self.shape is None:
                    self.shape = tuple((await conn.execute(_SHAPE, {"s": schema})).one())
        finally:
            await db.dispose()
        return schema

    async def give_back(self, db: Database, schema: str) -> None:
        """Empty the schema through the test's own engine, for the next test."""
        try:
            async with db.engine.begin() as conn:
                shape = tuple((await conn.execute(_SHAPE, {"s": schema})).one())
                if shape != self.shape:
                    raise LookupError(f"schema {schema} was changed: {shape} != {self.shape}")
                # A test that left many rows is quicker to drop than to empty.
                await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                await conn.execute(text("SET LOCAL statement_timeout = '1s'"))
                await conn.execute(_EMPTY)
        except Exception:  # noqa: BLE001 - not reusable: made anew for whoever needs one
            await self._admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.made.remove(schema)
            return
        self.free.append(schema)

    def drop_all(self) -> None:
        async def drop() -> None:
            for schema in self.made:
                await self._admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if self.made:
            asyncio.run(drop())
        self.made, self.free = [], []

    async def _admin(self, statement: str) -> None:
        engine = create_engine(self.url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()


class SqliteTemplate:
    """One SQLite file with every table, copied for each test."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    async def copy_to(self, path: Path) -> None:
        if self.folder is None:
            folder = Path(tempfile.mkdtemp(prefix="memberbot-template-"))
            made = Database.from_url(f"sqlite+aiosqlite:///{folder / 'template.db'}")
            try:
                async with made.engine.begin() as conn:
                    await conn.run_sync(Base.metadata.create_all)
            finally:
                await made.dispose()  # the last connection to close checkpoints the WAL
            self.folder = folder
        shutil.copyfile(self.folder / "template.db", path)

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
