"""Exactly one scheduling process per programme.

On PostgreSQL the leader holds a session-level advisory lock on a connection it keeps
open for as long as it leads. PostgreSQL releases the lock when that session ends, so
a process that dies (even `kill -9`: the kernel closes its socket) hands over to the
next standby that tries. The key includes the schema, so programmes sharing a
database in different schemas each get their own scheduler.

On SQLite a single process is assumed, and leading always succeeds.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.storage.database import Database

log = logging.getLogger(__name__)
LOCK_CLASS = 0x6D62  # "mb": the first half of the advisory lock key
_TRY = text("SELECT pg_try_advisory_lock(:cls, hashtext('memberbot.scheduler:' "
            "|| current_schema()))")
_UNLOCK = text("SELECT pg_advisory_unlock(:cls, hashtext('memberbot.scheduler:' "
               "|| current_schema()))")


class Leadership:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: AsyncConnection | None = None

    @property
    def exclusive(self) -> bool:
        """Whether leading excludes other processes (False on SQLite: one is assumed)."""
        return self.db.dialect == "postgresql"

    async def acquire(self) -> bool:
        """Try once; True when this process now leads."""
        if not self.exclusive:
            return True
        if self._conn is not None:
            return await self.holding()
        conn = await self.db.engine.connect()
        try:
            # Autocommit: the session holds the lock, no transaction stays open.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            won = bool((await conn.execute(_TRY, {"cls": LOCK_CLASS})).scalar())
        except BaseException:
            await conn.close()
            raise
        if not won:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def holding(self) -> bool:
        """Whether the lock's session is still alive; a lost one is let go."""
        if not self.exclusive:
            return True
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means the session is gone
            log.warning("scheduler lost its database session; stepping down")
            await self._drop()
            return False

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(_UNLOCK, {"cls": LOCK_CLASS})
        except Exception:  # noqa: BLE001 - closing the session releases it anyway
            log.info("advisory unlock failed; closing the session releases it")
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # noqa: BLE001 - it is already broken
                pass
            await conn.close()
