"""The composition root: settings in, a wired application out. Nothing connects at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot import programme as programme_file
from bot.campaign_dispatch import Edit
from bot.notifier import Push
from bot.ordering import cancel
from bot.settings import Settings
from bot.wechat.store import erasure as wechat_erasure
from domain import config
from domain.campaigns import segments
from domain.config import Programme
from domain.feedback import surveys
from domain.insight import cooccurrence
from domain.staff import roles
from domain.storage import schema, sqlite_in_use
from domain.storage.database import Database
from handlers.engine.engine import Engine
from handlers.routers import build_engine

log = logging.getLogger(__name__)
RETRY_MODEL_S = 60.0  # a failed first build of the picks' model is tried again after this
READY_S = 3.0  # how long a start waits for the picks' first model before serving


@dataclass
class App:
    settings: Settings
    programme: Programme
    db: Database
    engine: Engine
    # Each platform service registers how it pushes a notice to one of its accounts.
    pushers: dict[str, Push] = field(default_factory=dict)
    # And, where it can, how it shows and edits a message in a chat (campaign progress).
    editors: dict[str, Edit] = field(default_factory=dict)


@asynccontextmanager
async def lifespan(settings: Settings, migrate: bool = True,
                   programme: programme_file.Programme | None = None) -> AsyncIterator[App]:
    """Owns the database engine for the life of the process. `programme`: the file as
    the caller already loaded it (`memberbot run` checks it before its banner).

    It also holds the model behind members' reward picks (domain.insight.cooccurrence),
    kept on the programme where /rewards and the campaign dispatcher find it. Its first
    build starts once the database is ready and runs in the background: members are
    served meanwhile, without picks, and no member's transaction ever waits for it."""
    programme = programme or programme_file.load(settings.programme_file)
    wechat_erasure.register()  # erasure reaches the platform state bot/ keeps
    programme.keep_reach(reach(settings))
    db = Database.from_url(settings.database_url)
    models = cooccurrence.Models(db)
    programme.keep_recommender(models)
    first: list[asyncio.Task[None]] = []
    # Held for the process's life: `memberbot restore` refuses while any process holds it.
    user = sqlite_in_use.user_of(settings.database_url)
    try:
        if migrate:
            await schema.upgrade(db.engine, phone_country_code=programme.phone_country_code)
            log.info("database ready", extra={"backend": db.dialect,
                                              "revision": await schema.current(db.engine)})
            async with db.uow() as uow:  # the file's surveys, as the file says now
                await surveys.keep_from_file(uow, programme, datetime.now(UTC))
                await uow.commit()
            if settings.owner:  # the owner follows the settings at every start
                async with db.uow() as uow:
                    try:
                        await roles.set_owner(uow, programme, settings.owner, datetime.now(UTC))
                    except roles.RoleRefused:
                        raise config.ConfigError("MEMBERBOT_OWNER must look like "
                                                 "platform:id, e.g. telegram:12345") from None
                    await uow.commit()
        first.append(asyncio.create_task(first_model(models), name="recommendations model"))
        # A small programme's model is built in a moment: wait that long, so the first
        # /rewards after a start has its picks; a big one goes on building meanwhile.
        await asyncio.wait(first, timeout=READY_S)
        yield App(settings, programme, db,
                  build_engine(db, programme, public_url=settings.public_url))
    finally:
        # A build under way stops after its current read, before the database goes
        # (cancelled mid-read, SQLite's worker thread would go on reading); then the
        # start-up task, done or waiting to try again, is cancelled.
        await models.close()
        await cancel(first)
        try:
            await db.dispose()
        finally:
            user.close()


async def first_model(models: cooccurrence.Models, retry_s: float = RETRY_MODEL_S) -> None:
    """The picks' first model, tried again while a build fails (it is logged): until one
    is built, /rewards shows no picks."""
    while True:
        try:
            await models.rebuild(datetime.now(UTC))
            return
        except Exception:
            log.exception("the recommendations model could not be built")
            await asyncio.sleep(retry_s)


def reach(settings: Settings) -> segments.Reach:
    """Which accounts campaigns are sent to: console members too when the console is
    the only chat, or when MEMBERBOT_CONSOLE_REACHABLE says so."""
    return segments.EVERY_ACCOUNT if settings.console_reached else segments.Reach()
