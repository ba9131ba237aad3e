"""GET /metrics over real HTTP from the real web app: the figures move when real things
happen (a purchase and a refund through the signed API, a scheduler job writing off
expired points, a member chatting, a campaign's deliveries waiting), and the bearer
token guards it when one is set."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from sqlalchemy.exc import IntegrityError

from bot import metrics
from bot.campaign_dispatch import Dispatcher
from bot.console import ConsoleChat
from bot.ordering import cancel
from bot.settings import Settings
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.members import members
from domain.members.tables import Identity
from domain.points import ledger
from domain.staff import jobs
from domain.storage import sqlite_inline
from scheduler.registry import JOBS
from scheduler.service import Scheduler
from tests.support import crowd
from tests.support.crowd import Person
from tests.support.metrics_scrape import Figures, serving


async def a_member(db, programme, user: str = "1001") -> int:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "telegram", user,
                                         datetime.now(UTC))).member
        await uow.commit()
        return member.id


def order(order_id: str, amount: int) -> dict:
    return {"order_id": order_id, "member": {"number": "00000001"}, "amount": amount,
            "currency": "CNY"}


async def test_a_purchase_and_a_refund_move_the_ledger_counters_once(db, programme):
    await a_member(db, programme)
    async with serving(db, programme) as served:
        before = await served.scrape()
        assert before.get("memberbot_ledger_points_total", movement="issued") == 0
        status, bought = await served.api.post("/api/v1/purchases", order("M-1", 25_000))
        assert status == 201 and bought["points"] > 0
        status, again = await served.api.post("/api/v1/purchases", order("M-1", 25_000))
        assert status == 200 and again["duplicate"] is True  # a repeat issues nothing
        status, refused = await served.api.post("/api/v1/purchases", {
            **order("M-2", 100), "member": {"number": "00000077"}})
        assert status == 404  # no such member: nothing issued
        after = await served.scrape()
        assert after.get("memberbot_ledger_points_total", movement="issued") == bought["points"]
        status, refund = await served.api.post("/api/v1/refunds", {"order_id": "M-1"})
        assert status == 201 and refund["points_reversed"] > 0
        refunded = await served.scrape()
        assert refunded.get("memberbot_ledger_points_total",
                            movement="reversed") == refund["points_reversed"]
        assert refunded.get("memberbot_ledger_points_total", movement="redeemed") == 0
        # The requests themselves, by route and status (scrapes left out).
        status, _ = await served.api.post("/api/v1/purchases", order("M-3", 100),
                                          key="not-the-key")
        assert status == 401
        async with served.api.session.get(served.api.base + "/no/such/path") as resp:
            assert resp.status == 404
        counted = await served.scrape()
    purchases = "/api/v1/purchases"
    assert [counted.get("memberbot_http_requests_total", route=purchases, status=code)
            for code in ("201", "200", "404", "401")] == [1, 1, 1, 1]
    assert counted.get("memberbot_http_requests_total", route="/api/v1/refunds",
                       status="201") == 1
    assert counted.get("memberbot_http_requests_total", route="unmatched", status="404") == 1
    assert counted.get("memberbot_http_request_seconds_count", route=purchases) == 4
    assert counted.get("memberbot_http_requests_total", route="/metrics", status="200") is None


async def test_a_job_run_counts_with_its_duration_and_expired_points(db, programme):
    member_id = await a_member(db, programme)
    earned = datetime.now(UTC) - timedelta(days=400)
    async with db.uow() as uow:  # points that expired yesterday, not yet written off
        await ledger.post(uow, ledger.Post(member_id, 70, "earn", "test", "old-lot",
                                           expires_at=datetime.now(UTC) - timedelta(days=1)),
                          earned)
        await uow.commit()
    expiry = next(job for job in JOBS if job.name == "expiry")
    async with serving(db, programme) as served:
        scheduler = Scheduler(db, served.app.programme, registry=(expiry,), poll=0.05)
        task = asyncio.create_task(scheduler.run())
        try:
            await asyncio.wait_for(scheduler.leading.wait(), 15)
            async with db.uow() as uow:
                await jobs.request_run(uow, "expiry", "member:00000001", datetime.now(UTC))
                await uow.commit()

            async def ran() -> Figures:
                while True:
                    figures = await served.scrape()
                    if figures.get("memberbot_job_runs_total", job="expiry"):
                        return figures
                    await asyncio.sleep(0.02)
            figures = await asyncio.wait_for(ran(), 15)
        finally:
            await cancel([task])
    assert figures.get("memberbot_job_runs_total", job="expiry", outcome="ok") == 1
    assert figures.get("memberbot_job_duration_seconds_count", job="expiry") == 1
    assert figures.get("memberbot_job_duration_seconds_sum", job="expiry") > 0
    assert figures.get("memberbot_ledger_points_total", movement="expired") == 70


async def test_a_member_chatting_counts_inbound_and_reply_latency(db, programme):
    async with serving(db, programme) as served:
        chat = ConsoleChat(served.app.engine, "alice", "en")
        assert await chat.say("/start")
        assert await chat.say("/points")
        figures = await served.scrape()
    assert figures.get("memberbot_inbound_handled_total", platform="console", kind="update",
                       outcome="answered") == 2
    assert figures.get("memberbot_reply_seconds_count", platform="console") == 2


async def test_the_event_loop_lag_is_sampled_while_it_serves(db, programme):
    async with serving(db, programme) as served:
        async def sampled() -> Figures:
            while True:
                figures = await served.scrape()
                if figures.get("memberbot_event_loop_lag_seconds_count"):
                    return figures
                await asyncio.sleep(0.05)
        first = await asyncio.wait_for(sampled(), 15)
        # Holds the loop on purpose, longer than a sample's sleep by more than 0.25 s:
        # the sample under way wakes at least that late, whenever its sleep began.
        time.sleep(metrics.LAG_EVERY_S + 0.35)  # noqa: ASYNC251
        async def held() -> Figures:
            while True:
                figures = await served.scrape()
                if figures.get("memberbot_event_loop_lag_seconds_count") > \
                        first.get("memberbot_event_loop_lag_seconds_count"):
                    return figures
                await asyncio.sleep(0.05)
        later = await asyncio.wait_for(held(), 15)
    # The sample that spans the held loop was at least 0.35 s late, past the 0.25 bucket.
    assert later.get("memberbot_event_loop_lag_seconds_bucket", le="0.25") < \
        later.get("memberbot_event_loop_lag_seconds_count")


async def test_database_errors_lock_waits_and_connections_in_use(db, programme):
    member_id = await a_member(db, programme)
    async with serving(db, programme) as served:
        with pytest.raises(IntegrityError):
            async with db.uow() as uow:  # a second account under a taken key
                uow.session.add(Identity(member_id=member_id, platform="telegram",
                                         external_id="1001", linked_at=datetime.now(UTC)))
                await uow.flush()
        go = asyncio.Event()
        waiting = asyncio.create_task(_another_writer(db, go))
        async with db.uow() as uow:
            await uow.session.connection()
            go.set()  # it queues behind this one while the scrape goes over HTTP
            holding = await served.scrape()
        await asyncio.wait_for(waiting, 15)
        figures = await served.scrape()
    assert figures.get("memberbot_database_errors_total", kind="IntegrityError") == 1
    assert holding.get("memberbot_database_connections_in_use") >= 1
    assert figures.get("memberbot_database_connections_in_use") == 0
    assert figures.get("memberbot_database_pool_size") >= 1
    if db.dialect == "sqlite":  # the second writer queued behind the first
        assert figures.get("memberbot_sqlite_lock_wait_seconds_count", lock="process") == 1
    else:
        assert figures.get("memberbot_sqlite_lock_wait_seconds_count") is None


async def test_a_wait_for_another_process_s_sqlite_lock_is_counted(db, programme,
                                                                   monkeypatch):
    if db.dialect != "sqlite":
        pytest.skip("SQLite's file lock")
    refused = asyncio.Event()  # the writer found the lock taken at least once
    locked = sqlite_inline._locked

    def seen(error: sqlite3.OperationalError) -> bool:
        refused.set()
        return locked(error)

    monkeypatch.setattr(sqlite_inline, "_locked", seen)
    other = sqlite3.connect(db.engine.url.database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # as another process writing: it holds the lock
        async with serving(db, programme) as served:
            async def write() -> None:
                async with db.uow() as uow:
                    await uow.session.connection()  # BEGIN IMMEDIATE: waits for the lock
                    await uow.commit()
            writing = asyncio.create_task(write())
            await asyncio.wait_for(refused.wait(), 15)  # it found the lock taken: it retries
            other.execute("COMMIT")
            await asyncio.wait_for(writing, 15)
            figures = await served.scrape()
    finally:
        other.close()
    assert figures.get("memberbot_sqlite_lock_wait_seconds_count", lock="file") == 1
    assert figures.get("memberbot_sqlite_lock_wait_seconds_sum", lock="file") > 0
    assert figures.get("memberbot_sqlite_lock_wait_seconds_count", lock="process") is None


async def _another_writer(db, go: asyncio.Event) -> None:
    await go.wait()
    async with db.uow() as uow:
        await uow.session.connection()


async def test_a_campaigns_pending_deliveries_and_its_queue_are_served(db, programme):
    now = datetime.now(UTC)
    await crowd.add(db, [Person(consent=False, accounts=(("console", "boss"),))], now)
    await crowd.plain(db, 5, now, first_id=2)
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(1, "console", "boss", "en"),
                                      Draft(Segment(), ("Spring tea",)), "metrics", now)
        await uow.commit()
    go = asyncio.Event()
    handed: list[str] = []

    async def slow(external_id: str, message) -> str:
        handed.append(external_id)
        await go.wait()
        return "sent"

    async with serving(db, programme) as served:
        await campaigns.start_due(db, programme, datetime.now(UTC))
        figures = await served.scrape()
        assert figures.get("memberbot_deliveries_pending", kind="campaign",
                           campaign_status="running") == 5
        dispatcher = Dispatcher(db, programme, {"telegram": slow}, every=0.01, per_platform=2)
        task = asyncio.create_task(dispatcher.run_until_idle())
        try:
            async def queued() -> Figures:
                while True:
                    figures = await served.scrape()
                    if figures.get("memberbot_send_queue_depth", platform="telegram",
                                   queue="campaign") == 3 and len(handed) == 2:
                        return figures
                    await asyncio.sleep(0.02)
            await asyncio.wait_for(queued(), 15)  # 2 in the platform's hands, 3 waiting
            go.set()
            await asyncio.wait_for(task, 30)
        finally:
            await cancel([task])
        done = await served.scrape()
    assert made.campaign.id and sorted(handed) == sorted(str(50_000 + i) for i in range(2, 7))
    assert done.get("memberbot_deliveries_pending") is None  # nothing left to send
    assert done.get("memberbot_send_queue_depth", platform="telegram", queue="campaign") == 0


@pytest.mark.parametrize("given", [None, "Basic czNjcmV0", "Bearer not-the-token"])
async def test_a_set_token_refuses_a_scrape_without_it_in_our_json(db, programme, given):
    async with serving(db, programme, token="s3cret-token") as served:
        headers = {"Authorization": given} if given else {}
        async with served.api.session.get(served.base + "/metrics", headers=headers) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            body = await resp.json()
        assert body["error"]["code"] == ("wrong_token" if given and "not-the" in given
                                         else "token_required")
        assert "MEMBERBOT_METRICS_TOKEN" in body["error"]["message"]
        assert "s3cret-token" not in body["error"]["message"]
        figures = await served.scrape(token="s3cret-token")
        assert figures.get("memberbot_ledger_points_total", movement="issued") == 0


async def test_without_a_token_set_the_figures_are_open(db, programme):
    async with serving(db, programme) as served:
        figures = await served.scrape()
        assert figures.get("memberbot_ledger_points_total", movement="expired") == 0


async def test_a_scraper_asking_for_openmetrics_gets_it(db, programme):
    async with serving(db, programme) as served:
        async with served.api.session.get(served.base + "/metrics", headers={
                "Accept": "application/openmetrics-text; version=1.0.0"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            text = await resp.text()
    assert text.endswith("# EOF\n")
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {"memberbot_ledger_points", "memberbot_event_loop_lag_seconds"} <= families


async def test_two_apps_in_one_process_keep_their_own_figures(db, programme):
    await a_member(db, programme)
    async with serving(db, programme) as first:
        status, bought = await first.api.post("/api/v1/purchases", order("T-1", 10_000))
        assert status == 201
        async with serving(db, programme) as second:
            fresh = await second.scrape()
        assert fresh.get("memberbot_ledger_points_total", movement="issued") == 0
        assert (await first.scrape()).get("memberbot_ledger_points_total",
                                          movement="issued") == bought["points"]


def test_the_token_setting_is_read_and_checked():
    assert Settings.from_env({"MEMBERBOT_METRICS_TOKEN": "abc"}).metrics_token == "abc"
    assert Settings.from_env({}).metrics_token is None
    with pytest.raises(ValueError, match="MEMBERBOT_METRICS_TOKEN"):
        Settings.from_env({"MEMBERBOT_METRICS_TOKEN": "has a space"})
