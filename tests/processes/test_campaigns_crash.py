"""Killing the bot mid-campaign: `memberbot run` as a real process against the local Bot
API server, `kill -9` while sends are in flight, restart. What Telegram performed was
recorded and is not sent again; what it never performed is sent after the restart; so
every recipient ends up with exactly one message."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from domain import config
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.storage import schema
from domain.storage.database import Database
from tests.processes import test_telegram_crash
from tests.processes.test_telegram_crash import BotProcess, scalar
from tests.support import crowd
from tests.support.fake_telegram import FakeBotAPI

BOSS = 9000
RECIPIENTS = 120
TEXT = "Campaign crash test: spring tea"
database = test_telegram_crash.database  # the fixture: a SQLite file or a PostgreSQL database


async def prepared(url: str) -> list[str]:
    """A migrated database with an operator, the recipients and a campaign due now."""
    now = datetime.now(UTC)
    db = Database.from_url(url)
    try:
        await schema.upgrade(db.engine)
        await crowd.plain(db, 1, now, consent=False, accounts=(("telegram", str(BOSS)),))
        ids = await crowd.plain(db, RECIPIENTS, now, first_id=2)
        async with db.uow() as uow:
            await campaigns.create(uow, config.load(), Author(1, "telegram", str(BOSS), "en"),
                                   Draft(Segment(), (TEXT,)), "crash", now)
            await uow.commit()
    finally:
        await db.dispose()
    return [str(50_000 + i) for i in ids]


def performed(api: FakeBotAPI) -> Counter:
    return Counter(str(c.chat_id) for c in api.sent("sendMessage")
                   if (c.text or "").startswith(TEXT))


async def until(check, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a test deadline
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - it polls the database
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
async def test_killed_mid_campaign_every_recipient_gets_exactly_one_message(database, tmp_path):
    chats = await prepared(database)
    async with FakeBotAPI() as api:
        bot = BotProcess(api, database, "aiogram", tmp_path)
        bot.env["MEMBERBOT_TELEGRAM_RATE"] = "40"
        await bot.start()
        try:
            await api.wait_for(lambda _: sum(performed(api).values()) >= 30, timeout=60)
            api.hang("sendMessage")  # from now on Telegram performs nothing
            await api.wait_for(lambda calls: any(c.method == "sendMessage" and c.status is None
                                                 for c in calls), timeout=30)
            before = sum(performed(api).values())
            sent_sql = "SELECT count(*) FROM campaign_deliveries WHERE status = 'sent'"

            async def recorded() -> bool:
                return await scalar(database, sent_sql) == before

            await until(recorded)
            assert before < RECIPIENTS
            await bot.kill()  # mid-campaign, with sends in flight
            api.release("sendMessage", perform=False)
            await bot.start()
            await api.wait_for(lambda _: sum(performed(api).values()) >= RECIPIENTS,
                               timeout=90)

            async def finished() -> bool:
                return await scalar(database, "SELECT status FROM campaigns") == "done"

            await until(finished)
            await asyncio.sleep(0.5)  # nothing more arrives
            got = performed(api)
            assert set(got) == set(chats) and set(got.values()) == {1}
            assert await scalar(database, sent_sql) == RECIPIENTS
        finally:
            await bot.stop()
