"""Reward picks as the composition root wires them: the model held on the programme and
built at start-up in the background, closed before the database goes; and a campaign's
"{recommended}" filled in per member with their top pick, in their language, or its line
left out for a member with no pick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.app import lifespan
from bot.campaign_dispatch import Dispatcher
from bot.settings import Settings
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.insight import cooccurrence
from domain.insight.cooccurrence import Models
from domain.rewards.tables import Redemption
from handlers.campaigns.words import recommended_in
from handlers.engine.types import Inbound
from tests.support import crowd
from tests.support.crowd import Person


class Recorder:
    """A pusher that keeps what each account was sent."""

    def __init__(self) -> None:
        self.got: dict[str, str] = {}

    async def __call__(self, external_id: str, message) -> str:
        self.got[external_id] = message.text
        return "sent"


async def took(db, now, member_ids, *codes: str) -> None:
    async with db.uow() as uow:
        for member_id in member_ids:
            for code in codes:
                uow.session.add(Redemption(key=f"past:{member_id}:{code}", member_id=member_id,
                                           reward=code, cost=1,
                                           created_at=now - timedelta(days=10)))
        await uow.commit()


async def test_start_up_holds_the_model_and_builds_it_in_the_background(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/picks.db")
    async with lifespan(settings) as app:
        models = app.programme.recommender
        assert isinstance(models, Models)
        # A small programme's model is built before the first message is served, so
        # the first /rewards after a start has its picks.
        assert models.latest is not None
        assert models.latest.members == 0  # a new database: nothing to pick from


async def test_members_are_served_while_the_first_build_runs(tmp_path, monkeypatch):
    """A build that has not finished: /rewards answers at once, without picks, and
    stopping the process stops the build before the database is disposed of."""
    started, stopped = asyncio.Event(), asyncio.Event()

    async def endless(db, now, window_days, stop):
        """Reads until told to stop, as a build of a very large history would."""
        started.set()
        await stop.wait()
        stopped.set()
        raise asyncio.CancelledError

    monkeypatch.setattr(cooccurrence, "build", endless)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/slow.db")
    async with lifespan(settings) as app:
        await asyncio.wait_for(started.wait(), 10)
        answer = await asyncio.wait_for(app.engine.handle(Inbound(
            platform="console", user_id="alice", chat_id="alice", text="/rewards",
            locale="en")), 10)
        shown = [r.text for r in answer.rendered()]  # a welcome first, for a new member
        assert shown[-1].startswith("Rewards — your balance: 0 points"), shown
        assert app.programme.recommender.latest is None
    assert stopped.is_set()


def test_the_recommended_line_is_filled_in_or_left_out():
    words = "Spring tea is here.\nYou might like: {recommended}\nSee you soon"
    instead = "our rewards (/rewards)"
    assert recommended_in(words, "Tea set", instead) == \
        "Spring tea is here.\nYou might like: Tea set\nSee you soon"
    assert recommended_in(words, None, instead) == "Spring tea is here.\nSee you soon"
    # A message of nothing but that line is never sent empty.
    assert recommended_in("For you: {recommended}", None, instead) == \
        "For you: our rewards (/rewards)"
    assert recommended_in("No pick asked for", None, instead) == "No pick asked for"


async def test_a_campaign_names_each_members_top_pick_in_their_language(db, programme):
    now = datetime.now(UTC)
    programme = programme.model_copy()  # a model of its own; the shared one is left alone
    programme.keep_recommender(Models(db))  # not built: the campaign waits for it
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.add(db, [
        Person(locale="en", points=400, accounts=(("telegram", "en"),)),
        Person(locale="zh_Hans", points=400, accounts=(("telegram", "zh"),)),
        Person(locale="en", points=0, accounts=(("telegram", "broke"),))], now, first_id=2)
    takers = await crowd.add(db, [Person(accounts=(("telegram", f"t{i}"),)) for i in range(8)],
                             now, first_id=5)
    await took(db, now, takers, "free_pot")
    await took(db, now, takers[:2], "ten_off")
    async with db.uow() as uow:
        await campaigns.create(uow, programme, Author(1, "console", "boss", "en"), Draft(
            Segment(), ({"en": "Spring tea is here.\nRecommended for you: {recommended}",
                         "zh_Hans": "春茶上市。\n为您推荐：{recommended}"},)), "picks", now)
        await uow.commit()

    telegram = Recorder()
    dispatcher = Dispatcher(db, programme, {"telegram": telegram}, every=0.01)
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    stop_en, stop_zh = "\n\nReply TD to stop offers.", "\n\n回复 TD 退订"  # under every offer
    assert telegram.got["en"] == ("Spring tea is here.\nRecommended for you: A free pot of tea"
                                  + stop_en)
    assert telegram.got["zh"] == "春茶上市。\n为您推荐：免费一壶茶" + stop_zh
    # Nothing they could have (no points, no earning to reach one): no line at all.
    assert telegram.got["broke"] == "Spring tea is here." + stop_en
    assert telegram.got["t0"] == "春茶上市。" + stop_zh


async def test_a_campaign_without_the_placeholder_reads_no_picks(db, programme):
    now = datetime.now(UTC)
    programme = programme.model_copy()
    models = Models(db)
    programme.keep_recommender(models)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.add(db, [Person(locale="en", points=400, accounts=(("telegram", "en"),))],
                    now, first_id=2)
    async with db.uow() as uow:
        await campaigns.create(uow, programme, Author(1, "console", "boss", "en"),
                               Draft(Segment(), ("Spring tea is here.",)), "plain", now)
        await uow.commit()
    telegram = Recorder()
    await asyncio.wait_for(Dispatcher(db, programme, {"telegram": telegram},
                                      every=0.01).run_until_idle(), 30)
    assert telegram.got == {"en": "Spring tea is here.\n\nReply TD to stop offers."}
    assert models.latest is None  # no model was built for it


async def test_stopping_during_the_first_build_waits_for_its_read(tmp_path):
    """A stop while the first build reads a long history: the build ends after its
    current read, and only then is the database disposed of (no crash, no error)."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/long.db")
    now = datetime.now(UTC)
    async with lifespan(settings) as app:
        ids = await crowd.plain(app.db, 3_000, now)
        await took(app.db, now, ids, "free_pot", "ten_off")
    for turn in range(12):
        async with lifespan(settings) as app:
            await asyncio.sleep(0.001 * (turn % 4))  # at another point of the build each time
            models = app.programme.recommender
        assert models.latest is None or models.latest.members == 3_000
