"""`GET /metrics`: this process's figures for Prometheus, through prometheus-client.

Each process serves its own figures (several workers are several scrape targets, the
usual Prometheus way), from a registry of its own rather than the library's global one,
so that two apps in one process (tests) never share counts. The figures come from
three places:

- hooks that adapters in bot/ call (`handled`, `replied`, `sent`, `queue_in`/`queue_out`);
- domain.monitoring's hooks (points moved, jobs run, database errors, SQLite lock
  waits), heard by `Figures` as a Watcher while it is installed;
- reads at scrape time: campaign and survey deliveries pending (one grouped count on
  an index, from a snapshot, so on SQLite off the loop), the pool's connections in use.

A small task samples the event loop's lag all the time. With MEMBERBOT_METRICS_TOKEN
set, a scrape must carry it as a bearer token; without it /metrics is open (keep it
to a private network then).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from bot.web import error
from domain import monitoring
from domain.campaigns import deliveries
from domain.storage.database import Database

if TYPE_CHECKING:  # bot.app wires the adapters that report here
    from bot.app import App

log = logging.getLogger(__name__)
ROUTE = "/metrics"
LAG_EVERY_S = 0.25  # how often the loop's lag is sampled
# Send outcomes: the platform's rate limit (Telegram's 429, WeChat's 45009/45011), the
# member out of reach (Telegram's 403, WeChat's unfollow), WeChat's service window
# closed or its quota spent, a message refused as wrong, a failure after retries.
OUTCOMES = ("sent", "429", "403", "window_closed", "quota", "rejected", "failed")
MOVEMENTS: tuple[monitoring.Movement, ...] = ("issued", "redeemed", "expired", "reversed")
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
JOBS = (0.1, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)


class Figures(monitoring.Watcher):
    """The process's registry and everything in it."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.inbound = Counter(
            "memberbot_inbound_handled_total", "Updates (kind=update) and button presses "
            "(kind=callback) handled, by platform and outcome (answered, silent, replayed: "
            "a redelivery answered from its record, failed)",
            ["platform", "kind", "outcome"], registry=r)
        self.reply_seconds = Histogram(
            "memberbot_reply_seconds", "From an update's arrival to its answer handed to "
            "the platform, by platform", ["platform"], buckets=FAST, registry=r)
        self.loop_lag = Histogram(
            "memberbot_event_loop_lag_seconds", f"How late a timer due every {LAG_EVERY_S} s "
            "fires: time the loop was held by something else", buckets=LAG, registry=r)
        self.http = Counter(
            "memberbot_http_requests_total", "Requests to the web app (the purchases API, "
            "webhooks), by route and status; route 'unmatched' for paths it does not serve",
            ["route", "status"], registry=r)
        self.http_seconds = Histogram(
            "memberbot_http_request_seconds", "Time to answer a request to the web app, "
            "by route", ["route"], buckets=FAST, registry=r)
        self.sends = Counter(
            "memberbot_sends_total", "Send attempts through a platform's sender (Telegram: "
            "every message, answers too; WeChat: messages outside a passive reply), by "
            "platform and outcome: " + ", ".join(OUTCOMES), ["platform", "outcome"],
            registry=r)
        self.queue = Gauge(
            "memberbot_send_queue_depth", "Messages waiting or being sent in this process: "
            "queue=sender (the platform's paced sender), queue=campaign (waiting for a "
            "campaign's turn on the platform)", ["platform", "queue"], registry=r)
        self.job_runs = Counter(
            "memberbot_job_runs_total", "Scheduler job runs, by job and outcome (ok, failed, "
            "waiting, skipped)", ["job", "outcome"], registry=r)
        self.job_seconds = Histogram(
            "memberbot_job_duration_seconds", "How long scheduler jobs ran", ["job"],
            buckets=JOBS, registry=r)
        self.pending = Gauge(
            "memberbot_deliveries_pending", "Campaign and survey deliveries not yet sent "
            "(pending or being sent), of campaigns running or paused",
            ["kind", "campaign_status"], registry=r)
        self.db_errors = Counter(
            "memberbot_database_errors_total", "Units of work that ended in a database "
            "error, by its kind: transient (a deadlock or serialization failure, run "
            "again), IntegrityError (mostly a race on a unique key, run again), or the "
            "error's class", ["kind"], registry=r)
        self.lock_wait = Histogram(
            "memberbot_sqlite_lock_wait_seconds", "Waits for SQLite's write lock: "
            "lock=process (behind this process's other writers), lock=file (another "
            "process holds it)", ["lock"], buckets=FAST, registry=r)
        self.pool_in_use = Gauge(
            "memberbot_database_connections_in_use", "Connections checked out of the "
            "database pool", registry=r)
        self.pool_size = Gauge(
            "memberbot_database_pool_size", "Connections the pool keeps (more may open "
            "up to its overflow)", registry=r)
        self.points = Counter(
            "memberbot_ledger_points_total", "Points moved in committed ledger entries: "
            "issued, redeemed, expired, reversed (refunds and other debits)",
            ["movement"], registry=r)
        # Each series' child, looked up once: labels() takes a lock and hashes the labels
        # on every call, and these are counted per message and per ledger entry.
        self.children: dict[tuple[str, ...], Any] = {}
        for movement in MOVEMENTS:  # at 0 from the start, so rates have a series
            self.points.labels(movement)
        self._reading = asyncio.Lock()

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept after the first call."""
        key = (str(id(metric)), *labels)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = metric.labels(*labels)
        return found

    # domain.monitoring.Watcher
    def points_moved(self, movement: monitoring.Movement, points: int) -> None:
        self.child(self.points, movement).inc(points)

    def job_ran(self, job: str, outcome: str, seconds: float) -> None:
        self.job_runs.labels(job, outcome).inc()
        self.job_seconds.labels(job).observe(seconds)

    def lock_waited(self, lock: monitoring.Lock, seconds: float) -> None:
        self.lock_wait.labels(lock).observe(seconds)

    def database_failed(self, kind: str) -> None:
        self.db_errors.labels(kind).inc()

    def expect(self, platforms: list[str]) -> None:
        """Series at 0 for the platforms' sends and reply times, so alerts see them."""
        for platform in platforms:
            for outcome in OUTCOMES:
                self.sends.labels(platform, outcome)
            self.reply_seconds.labels(platform)

    async def read(self, db: Database) -> None:
        """What is read at scrape time."""
        for (platform, queue), depth in list(_queued.items()):
            self.queue.labels(platform, queue).set(depth)
        pool = db.engine.pool
        if hasattr(pool, "checkedout") and hasattr(pool, "size"):
            self.pool_in_use.set(pool.checkedout())
            self.pool_size.set(pool.size())
        async with self._reading:  # scrapes at once read one after another
            try:
                async with db.snapshot() as snapshot:
                    counts = await deliveries.pending_counts(snapshot)
            except Exception:  # noqa: BLE001 - the scrape still answers, with the rest
                log.exception("reading pending deliveries for /metrics failed")
                return
            self.pending.clear()
            for (kind, status), count in counts.items():
                self.pending.labels(kind, status).set(count)

    def text(self, accept: str = "") -> tuple[bytes, str]:
        """The figures in the format the scraper asks for (Prometheus' text format, or
        OpenMetrics), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


_live: list[Figures] = []  # installed by `running`: one in a process that serves
_queued: Tally[tuple[str, str]] = Tally()  # (platform, queue) -> messages in it now


def handled(platform: str, kind: str, outcome: str) -> None:
    for figures in _live:
        figures.child(figures.inbound, platform, kind, outcome).inc()


def replied(platform: str, seconds: float) -> None:
    for figures in _live:
        figures.child(figures.reply_seconds, platform).observe(seconds)


def sent(platform: str, outcome: str) -> None:
    for figures in _live:
        figures.child(figures.sends, platform, outcome).inc()


def queue_in(platform: str, queue: str) -> None:
    _queued[platform, queue] += 1


def queue_out(platform: str, queue: str) -> None:
    _queued[platform, queue] -= 1


async def sample_lag(figures: Figures, every: float = LAG_EVERY_S) -> None:
    """Forever: sleep `every` and record how much later than that the loop woke us."""
    loop = asyncio.get_running_loop()
    while True:
        began = loop.time()
        await asyncio.sleep(every)
        figures.loop_lag.observe(max(0.0, loop.time() - began - every))


def scrape(figures: Figures, db: Database, token: str | None):
    async def answer(request: web.Request) -> web.Response:
        if token is not None:
            refused = _refused(request.headers.get("Authorization", ""), token)
            if refused is not None:
                return refused
        await figures.read(db)
        body, content_type = figures.text(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})
    return answer


def requests(figures: Figures) -> Any:
    """A middleware counting every request by route and status, and timing it: a till
    signing badly (401s) or sending conflicting orders (409s) shows here."""
    @web.middleware
    async def counted(request: web.Request, handler: Any) -> web.StreamResponse:
        info = request.match_info
        route = (info.route.resource.canonical if info.http_exception is None
                 and info.route.resource is not None else "unmatched")
        began, status = time.perf_counter(), 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as refused:
            status = refused.status
            raise
        finally:
            if route != ROUTE:  # scrapes are not the traffic being watched
                figures.child(figures.http, route, str(status)).inc()
                figures.child(figures.http_seconds, route).observe(
                    time.perf_counter() - began)
    return counted


def _refused(authorization: str, token: str) -> web.Response | None:
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        answer = error(401, "token_required", "/metrics needs the token set in "
                                              "MEMBERBOT_METRICS_TOKEN, sent as "
                                              "'Authorization: Bearer <token>'")
    elif not hmac.compare_digest(given.strip().encode(), token.encode()):
        answer = error(401, "wrong_token", "the bearer token is not the one set in "
                                           "MEMBERBOT_METRICS_TOKEN")
    else:
        return None
    answer.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return answer


@asynccontextmanager
async def running(app: App, web_app: web.Application) -> AsyncIterator[Figures]:
    """Serve /metrics on `web_app` and gather figures until the block ends."""
    figures = Figures()
    figures.expect([p for p, on in (("telegram", app.settings.telegram),
                                    ("wechat", app.settings.wechat)) if on])
    web_app.router.add_get(ROUTE, scrape(figures, app.db, app.settings.metrics_token))
    web_app.middlewares.append(requests(figures))  # inside json_errors: sees its statuses
    _live.append(figures)
    monitoring.watch(figures)
    lag = asyncio.create_task(sample_lag(figures), name="event loop lag")
    try:
        yield figures
    finally:
        lag.cancel()
        await asyncio.gather(lag, return_exceptions=True)
        monitoring.unwatch(figures)
        _live.remove(figures)
