"""Schema migrations, run programmatically so an installed package needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def _run(engine: AsyncEngine, action: Any, *args: Any, **attributes: Any) -> None:
    cfg = alembic_config()
    cfg.attributes.update(attributes)  # what a migration needs from the programme

    def run(connection: Any) -> None:
        cfg.attributes["connection"] = connection
        action(cfg, *args)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def upgrade(engine: AsyncEngine, revision: str = "head", *,
                  phone_country_code: int | None = None) -> None:
    """`phone_country_code` is the programme's: 0013 reads stored local phones in it."""
    await _run(engine, command.upgrade, revision, phone_country_code=phone_country_code)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, command.downgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
