"""Part of benchmarks/surveys.py: a survey started to every member by campaign, and
the answers members give through the whole Telegram path.

* start: `/survey send CODE` to a segment of every member on Telegram (10% holdout):
  `campaigns.start_due` writes the deliveries; against one bare INSERT .. SELECT of a
  delivery per member in the same run. Peak memory of the same start again, traced
  (tracemalloc), and the process's peak RSS. Then the send: the dispatcher claims every
  delivery, making each member's response, with a pusher that takes each at once.
* answers: members press the survey's buttons (score, then Skip on the optional "why?",
  each an answer written in its own transaction), handed to the engine as the adapter
  hands them, and again over the local Bot API server with real aiogram; answers/s
  against the inbound Telegram benchmark's memberbot figure (/points, /checkin, a
  button), measured in the same run.
"""

from __future__ import annotations

import asyncio
import resource
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import func, select, text

from benchmarks import campaigns as seeding
from benchmarks import telegram_inbound
from bot import programme as programme_file
from bot.campaign_dispatch import Dispatcher
from domain.campaigns.campaigns import Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Delivery
from domain.config import Programme
from domain.feedback import responses, surveys
from domain.feedback.tables import SurveyAnswer
from domain.members.tables import Identity
from domain.storage import schema
from domain.storage.database import Database
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.support.fake_telegram import FakeBotAPI

NOW = seeding.NOW
FIRST_USER = 10_000


async def _taken(external_id: str, message: object) -> str:
    return "sent"


async def measure_start(db: Database, members: int) -> dict[str, float]:
    programme = programme_file.load()
    await seeding.fresh(db)
    await seeding.generate(db, members)
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, NOW)
        nps = await surveys.by_code(uow, "nps")
        assert nps is not None
        draft = Draft(Segment(platforms=("telegram",)), (), holdout=10, survey=nps.id,
                      survey_title=surveys.definition(nps).title.model_dump())
        await uow.commit()
    timed = await seeding.campaign(db, programme, "timed", draft)
    started = time.perf_counter()
    assert await seeding.campaigns.start_due(db, programme, NOW) == 1
    start_s = time.perf_counter() - started
    count = await seeding.written(db, timed)
    dispatcher = Dispatcher(db, programme, {"telegram": _taken}, clock=lambda: NOW,
                            every=0.01)
    started = time.perf_counter()
    await dispatcher.run_until_idle()
    send_s = time.perf_counter() - started
    async with db.uow() as uow:
        sent = await uow.session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.campaign_id == timed, Delivery.status == "sent")) or 0
    traced = await seeding.campaign(db, programme, "traced", draft)
    tracemalloc.start()
    try:
        assert await seeding.campaigns.start_due(db, programme, NOW) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert await seeding.written(db, traced) > 0
    bare_s = await seeding.bare_start(db, programme)
    return {"deliveries": count, "start_s": start_s, "bare_s": bare_s, "sent": sent,
            "send_s": send_s, "traced_mb": peak / 2**20,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


async def measure_answers(folder: Path, members: int, updates: int) -> dict[str, float]:
    async with FakeBotAPI() as api:
        inbound_s = await telegram_inbound.memberbot(api, members, updates, folder)
    db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'answers.db'}")
    try:
        async with FakeBotAPI() as api:
            answers_s = await _answers(api, db, members)
    finally:
        await db.dispose()
    db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'engine.db'}")
    try:
        engine_s = await _engine_answers(db, members)
    finally:
        await db.dispose()
    return {"members": members, "answers": 2 * members, "answers_per_s": 2 * members / answers_s,
            "engine_per_s": 2 * members / engine_s, "inbound_per_s": updates / inbound_s}


async def _nps_for_everyone(db: Database, programme: Programme) -> dict[str, int]:
    """The example's NPS survey sent to every member: each account's response id."""
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, NOW)
        nps = await surveys.by_code(uow, "nps")
        assert nps is not None
        ids = dict((await uow.session.execute(select(Identity.external_id,
                                                     Identity.member_id))).all())
        asked = await responses.open_many(uow, nps.id, list(ids.values()), "bench", "", NOW)
        await uow.commit()
    return {account: asked[member_id] for account, member_id in ids.items()}


async def _engine_answers(db: Database, members: int) -> float:
    """The same answers handed to the engine as the Telegram adapter hands them (all
    members at once, as the updates of a busy minute arrive), without Telegram: what
    recording an answer costs the bot itself."""
    await schema.upgrade(db.engine)
    programme = programme_file.load()
    engine = build_engine(db, programme)
    users = [str(user) for user in range(FIRST_USER, FIRST_USER + members)]
    for user in users:
        await engine.handle(Inbound(platform="telegram", user_id=user, chat_id=user,
                                    text="/start", locale="en"))
    asked = await _nps_for_everyone(db, programme)
    started = time.perf_counter()
    for step in range(2):
        await asyncio.gather(*(engine.handle(Inbound(
            platform="telegram", user_id=user, chat_id=user, message_id="1", locale="en",
            action=(f"sv:{asked[user]}:score:{int(user) % 11}" if step == 0
                    else f"svs:{asked[user]}:why"))) for user in users))
    took = time.perf_counter() - started
    async with db.uow() as uow:
        stored = await uow.session.scalar(select(func.count()).select_from(SurveyAnswer))
    assert stored == 2 * members, stored
    return took


async def _answers(api: FakeBotAPI, db: Database, members: int) -> float:
    programme = programme_file.load()
    async with telegram_inbound.serving(api, db, programme):
        return await _answered(api, db, programme, members)


async def _answered(api: FakeBotAPI, db: Database, programme: Programme,
                    members: int) -> float:
    users = range(FIRST_USER, FIRST_USER + members)
    base = len(api.sent())
    for user in users:
        api.message(user, "/start")
    await telegram_inbound.Acted(api).reach(base + members)
    asked = await _nps_for_everyone(db, programme)
    response = {user: asked[str(user)] for user in users}
    base = len(api.sent("sendMessage"))
    for user in users:
        api.message(user, "/survey")
    await telegram_inbound.Acted(api, "sendMessage").reach(2 * members + base)
    question = {int(c.chat_id): int(c.result["message_id"]) for c in api.sent("sendMessage")}
    acted = telegram_inbound.Acted(api, "sendMessage")
    acted()  # the calls so far, counted before the clock starts
    started = time.perf_counter()
    # A score is answered by the next question; Skip, the last, by thanks and points.
    for step in range(2):
        before = acted()
        for user in users:
            rid = response[user]
            data = f"sv:{rid}:score:{user % 11}" if step == 0 else f"svs:{rid}:why"
            api.callback(user, data, question[user])
        await acted.reach(before + members)
    took = time.perf_counter() - started
    async with db.uow() as uow:
        stored = await uow.session.scalar(select(func.count()).select_from(SurveyAnswer))
    assert stored == 2 * members, stored
    return took
