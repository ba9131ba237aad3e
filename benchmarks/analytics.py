"""/stats, RFM and churn risk over a million members: the daily roll-ups built from
scratch, checked against a full recount, and what an operator's reads cost while a
member talks to the bot.

    python -m benchmarks.analytics [--scale S] [--repeats R] [--campaign-share F]
                                   [--tail-minutes M] [--no-trace]
                                   [--backends sqlite,postgresql] [--pg-url URL]

`--scale 1` is issue 17's size: 1,000,000 members, about 10,000,000 ledger entries and
3,000,000 purchases. The default, 0.01, runs in a minute. For each backend (SQLite in a
fresh temporary file; PostgreSQL in a fresh schema, when reachable) it:

1. seeds two years of a tea house's programme in bulk `INSERT .. SELECT`s computed by
   the database from hashes of ids (the generated history, below), ids increasing with
   time in every table, the members' caches kept consistent with it;
2. times the roll-up job (`domain.insight.rollups.run`, which also keeps the cohorts
   of `domain.insight.cohorts`) from scratch over all of it, and its second part, the
   figures that no longer change kept: the distinct members of the named periods'
   ended days (`domain.insight.distinct.keep`) and the reach of campaigns past their
   attribution window (`domain.insight.reach.keep`); then the members' standing job
   (`domain.insight.snapshots.take`);
3. checks the roll-ups against a full recount, SQL written here from the raw tables:
   every figure of every day of `insight_days` (sales and refunds by the buyer's tier
   as it is now, as the job files them); the members' day rows, day by day
   (rows, their sums, the sum of their member ids) and row by row on sample days; each
   member's active months and the cohort grid; and the figures of `/stats 30d` and of
   the period before it (sales, refunds, points, joins, check-ins, distinct active
   members, buyers, repeat buyers, points held), as `domain.insight.kpis` reads them,
   against the same figures straight from the tables;
4. adds a tail: the last `--tail-minutes` (default 12: the job runs every 10 minutes
   and leaves rows younger than 2 minutes) of activity after the job's marks, at three
   times the seed's rate of its last week (a busy hour), and times exactly what
   `/stats 30d` reads (handlers/insight/stats.py: the tail, the figures of this period
   and of the one before, the daily series, the cohort grid), `--repeats` times; then
   the whole answer through the handlers engine, as an operator sends it (the read
   first, then the words and the four charts, drawn in the drawing process, which the
   first answer starts: timed apart);
5. times the nightly scoring (`domain.insight.scores.run`: every member's RFM cell and
   risk kept for campaign segments, and what /segments shows, look back included), then
   RFM and churn risk worked out from every member (`domain.insight.churn.report`
   without the look back: what the job does, and /segments for a small programme),
   what /segments reads on a large one (the figures the scoring kept), and the whole
   /segments answer through the engine, with its chart;
6. runs the job again over the tail (as every 10 minutes) and checks everything again.

While each step runs, a member sends `/points` through the real handlers engine every
50 ms (each reply timed from when it was due) and a ticker sleeping 5 ms records how
late it wakes: the loop-lag rule of issue 13 (at most 50 ms; member reply p99 at most
250 ms). On a busy machine the ticker also counts the time other processes held the
core, so each step also reports the loop's longest await-free stretch in the loop
thread's CPU time, and where its task stopped next: the code's own share of the lag.

Memory: the process's resident set, sampled every 10 ms while the step runs (its peak,
and how far it rose above the start of the step; the seed runs in a child process on
SQLite, in the server on PostgreSQL, so it is not in these), and Python's own peak
(tracemalloc) in a second, untimed run of the step: not for the roll-up job, whose
from-scratch run cannot be repeated (its windows are sized as it goes), nor for the /stats
answer, whose charts are drawn in another process.

The baseline, measured in the same run on the same database: a bare full scan
`SELECT count(*), sum(amount) FROM purchases` (3,000,000 rows at full size) in a
snapshot, the median of three. Beside it, the figures of both periods straight from
the raw tables (the recount of step 3, timed): what `/stats` would cost without
roll-ups.

Targets (issue 17): /stats 30d under 2 s; RFM with churn risk, and the standing job,
under 10 s; peak memory under 500 MB; the loop-lag rule while each runs. Exit status 1
when the roll-ups disagree with the recount or a target is missed.

The generated history (its assumptions). Two years end 12 minutes before 2026-06-01
04:00 UTC (noon in Shanghai). Members join ever faster (three times the rate at the end
as at the start); ids follow the joins. A quarter never buy; the others buy 1 to 120
times (most once or twice, one in a hundred more than 30 times), fewer when they joined
lately; 35% keep buying to the end, the others stop somewhere in their time, so
recency, frequency and churn spread out. A member's purchases are spread evenly over
their active time, each within its own stretch; a basket of 30-200 yuan each, varying by
half; the tills report each day's takings from everyone (members three fifths of
them). Points follow the example programme's rules: 1 per yuan, the tier's multiplier on
purchases of the last year (the tier is the member's from the purchase points of the
last 365 days against the thresholds), the weekday promotions (Tea Tuesday), 100 on a
first purchase, referrals (3% were referred: both sides rewarded at the first
purchase), check-ins in streaks of 1-9 days with the streak bonuses (30% of members
check in, a few often), 100 on each birthday (80% gave one). 60% redeem: on every
third purchase, the dearest coupon reward the points of those three purchases pay for
(a coupon each, 65% used). 6% of a member's purchases that no redemption used are
refunded within 12 days, reversing their points. A member inactive for a year has what
remains expire a year after their last activity (the rolling policy would take it lot
by lot over that year: one entry stands for them). Two campaigns, 10 and 40 days
before the end, reach `--campaign-share` of the members (default 0.25), a tenth held
out, so `/stats` reads their attribution.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.schema import CreateIndex, DropIndex

import domain.tables  # noqa: F401  (every table, for create_all)
from benchmarks.common import (
    BACKENDS,
    format_table,
    load_average,
    pg_database,
    pg_reachable,
)
from benchmarks.stretches import Stretches
from bot import programme as programme_file
from bot.memory import freeze_start_up
from domain.config import Programme
from domain.insight import (
    churn,
    cohorts,
    distinct,
    kpis,
    periods,
    reach,
    rollups,
    scores,
    segment_reports,
    snapshots,
)
from domain.insight.tables import (
    InsightCohort,
    InsightDay,
    InsightMemberDay,
    InsightMemberMonth,
    InsightSnapshot,
)
from domain.members.tables import Identity, Member
from domain.points.tables import Checkin, LedgerEntry, Purchase
from domain.rewards.tables import Coupon, Redemption
from domain.staff import roles
from domain.storage.database import Database, UnitOfWork
from domain.storage.tables import Base, UTCDateTime
from handlers.engine.types import Inbound
from handlers.insight import segments, stats_charts
from handlers.routers import build_engine

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # noon in Shanghai
TAIL = timedelta(minutes=12)
DAY_S, YEAR_S = 86_400, 365 * 86_400
HISTORY_DAYS = 730
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
TARGET_STATS_S = 2.0
TARGET_SCORES_S = 10.0
TARGET_MB = 500.0
TARGET_LAG_MS = 50.0
TARGET_P99_MS = 250.0
PEAK = 3  # the tail's rate against the seed's last week: a busy hour
PROBE_ID = "analytics-probe"
PROBE = Inbound(platform="console", user_id=PROBE_ID, chat_id=PROBE_ID, text="/points")
OPERATOR = Inbound(platform="console", user_id="analytics-operator",
                   chat_id="analytics-operator", text="/stats 30d", locale="en")
SEGMENTS = replace(OPERATOR, text="/segments")
EVERY_S, TICK_S = 0.05, 0.005
BASELINE = "SELECT count(*), sum(amount) FROM purchases"

# Purchases per member before their time shortens them: (per mille up to, least, spread).
PURCHASES = ((250, 0, 0), (485, 1, 0), (670, 2, 1), (835, 3, 4), (948, 7, 8), (990, 15, 20),
             (1000, 36, 90))
# Check-in streaks per member: (per cent up to, least, spread); each streak 1-9 days.
STREAKS = ((74, 0, 0), (93, 1, 2), (98, 3, 5), (100, 8, 20))
STAYING = 35  # per cent of members who keep buying to the end
REDEEMERS = 60  # per cent
REFUNDED = 60  # per mille of the purchases no redemption used
REFERRED = 3  # per cent
USED = 65  # per cent of coupons
SEQ = 200  # the counting table's size: more than any member's purchases or streaks


# ------------------------------------------------------------------ the SQL of the seed

def _hashes() -> list[tuple[int, int, int]]:
    rng = random.Random(17)
    return [(rng.randrange(2**31, 2**32) | 1, rng.randrange(2**31), rng.randrange(10_000, 70_000))
            for _ in range(40)]


HASHES = _hashes()


@dataclass(frozen=True)
class Shape:
    """What the seed is made of: sizes, and the moments every offset counts from."""

    members: int
    start: datetime  # a local midnight, HISTORY_DAYS before the end
    end: datetime
    zone: ZoneInfo
    campaign_share: float

    @property
    def span(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def offset_s(self) -> int:
        offset = self.start.astimezone(self.zone).utcoffset()
        assert offset is not None
        return int(offset.total_seconds())


def shape_of(programme: Programme, scale: float, campaign_share: float = 0.25) -> Shape:
    zone = programme.zone
    end = NOW - TAIL
    first = end.astimezone(zone).date() - timedelta(days=HISTORY_DAYS)
    start = datetime.combine(first, clock(0), zone).astimezone(UTC)
    # Days are counted as whole multiples of 86,400 s from a local midnight, and the
    # recount buckets by a fixed offset: a zone that moves its clocks is not for this.
    offsets = {(start + timedelta(days=d)).astimezone(zone).utcoffset()
               for d in range(0, HISTORY_DAYS + 2, 7)}
    if len(offsets) != 1:
        raise SystemExit(f"the seed needs a zone with one UTC offset, not {programme.timezone}")
    return Shape(max(int(round(1_000_000 * scale)), 50), start, end, zone, campaign_share)


class Sql:
    """The seed's statements in one dialect: SQLite (staging tables in an attached
    file) or PostgreSQL (unlogged staging tables beside the real ones)."""

    def __init__(self, dialect: str, shape: Shape, programme: Programme) -> None:
        self.dialect, self.shape, self.programme = dialect, shape, programme
        self.pg = dialect == "postgresql"

    # --- dialect pieces
    def t(self, name: str) -> str:
        return f"stage_{name}" if self.pg else f"stage.{name}"

    def create(self, name: str, columns: str) -> str:
        return f"CREATE {'UNLOGGED ' if self.pg else ''}TABLE {self.t(name)} ({columns})"

    def index(self, name: str, table: str, columns: str) -> str:
        if self.pg:
            return f"CREATE INDEX stage_{name} ON stage_{table} ({columns})"
        return f"CREATE INDEX stage.{name} ON {table} ({columns})"

    def h(self, k: int, x: str) -> str:
        """A pseudo-random integer in [0, 2^31) from a non-negative integer `x`."""
        a, c, b = HASHES[k]
        return f"((((CAST({x} AS BIGINT) * {a} + {c}) % 4294967291) * {b}) % 2147483647)"

    def u(self, k: int, x: str) -> str:
        """... as a fraction in [0, 1)."""
        return f"({self.real(self.h(k, x))} / 2147483647.0)"

    def real(self, x: str) -> str:
        return f"CAST({x} AS {'DOUBLE PRECISION' if self.pg else 'REAL'})"

    def int_(self, x: str) -> str:
        return f"CAST(FLOOR({x}) AS BIGINT)" if self.pg else f"CAST({x} AS INTEGER)"

    def most(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"min({a}, {b})"

    def ts(self, s: str) -> str:
        """A moment from seconds after the start, as each backend stores UTC."""
        e = self.shape.start_epoch
        if self.pg:
            return f"(TIMESTAMP '1970-01-01' + ({e} + ({s})) * INTERVAL '1 second')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {e} + ({s}), 'unixepoch') || '.000000')"

    def day(self, d: str) -> str:
        """The local date `d` days after the start."""
        first = self.shape.start.astimezone(self.shape.zone).date().isoformat()
        if self.pg:
            return f"(DATE '{first}' + CAST({d} AS INTEGER))"
        return f"date('{first}', '+' || ({d}) || ' days')"

    def pad(self, prefix: str, x: str) -> str:
        """A key that sorts as `x` does, so unique indexes are filled in order."""
        if self.pg:
            return f"('{prefix}' || lpad(CAST({x} AS TEXT), 10, '0'))"
        return f"('{prefix}' || printf('%010d', {x}))"

    def yes(self, condition: str) -> str:
        return f"({condition})" if self.pg else f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    def json(self, literal: str) -> str:
        return f"CAST('{literal}' AS JSON)" if self.pg else f"'{literal}'"

    def series(self, n: int) -> str:
        if self.pg:
            return f"generate_series(1, {n}) AS s(n)"
        return (f"(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                f"WHERE n < {n}) SELECT n FROM seq) s")

    # --- the programme's rules as SQL
    def buckets(self, value: str, table: tuple[tuple[int, int, int], ...], k: int,
                key: str) -> str:
        whens = " ".join(f"WHEN {value} < {upper} THEN {least}"
                         + (f" + {self.h(k, key)} % {spread}" if spread else "")
                         for upper, least, spread in table)
        return f"(CASE {whens} END)"

    def base_points(self, amount: str) -> str:
        rules = self.programme.earning
        return f"({amount} * {rules.points_per_unit} / {rules.unit_minor})"

    def tier_extra(self, tier: str) -> str:
        """Per cent added by the tier's multiplier."""
        whens = " ".join(f"WHEN '{t.code}' THEN {t.multiplier_percent - 100}"
                         for t in self.programme.tiers.levels)
        return f"(CASE {tier} {whens} ELSE 0 END)"

    def tier_of(self, points: str) -> str:
        levels = sorted(self.programme.tiers.levels, key=lambda t: -t.threshold)
        whens = " ".join(f"WHEN {points} >= {t.threshold} THEN '{t.code}'" for t in levels)
        return f"(CASE {whens} END)"

    def promotion(self, day_index: str) -> str:
        """Per cent of the weekly promotions on that day (the best one applies)."""
        weekday0 = self.shape.start.astimezone(self.shape.zone).weekday()
        best: dict[int, int] = {}
        for promo in self.programme.earning.promotions:
            if promo.weekdays and not promo.dates and promo.starts is None \
                    and promo.ends is None:
                for iso in promo.weekdays:
                    best[iso - 1] = max(best.get(iso - 1, 0), promo.percent)
        if not best:
            return "0"
        whens = " ".join(f"WHEN {d} THEN {p}" for d, p in sorted(best.items()))
        return f"(CASE ({day_index} + {weekday0}) % 7 {whens} ELSE 0 END)"

    def promotion_code(self, day_index: str) -> str:
        """The code of the best weekly promotion on that day."""
        weekday0 = self.shape.start.astimezone(self.shape.zone).weekday()
        best: dict[int, tuple[int, str]] = {}
        for promo in self.programme.earning.promotions:
            if promo.weekdays and not promo.dates and promo.starts is None \
                    and promo.ends is None:
                for iso in promo.weekdays:
                    best[iso - 1] = max(best.get(iso - 1, (0, "")), (promo.percent, promo.code))
        whens = " ".join(f"WHEN {d} THEN '{c}'" for d, (_, c) in sorted(best.items()))
        return f"(CASE ({day_index} + {weekday0}) % 7 {whens} ELSE '' END)" if whens else "''"

    def iso(self, s: str) -> str:
        """A moment as Python's isoformat() writes it, for params."""
        e = self.shape.start_epoch
        if self.pg:
            return (f"(to_char(TIMESTAMP '1970-01-01' + ({e} + ({s})) * INTERVAL '1 second', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS') || '+00:00')")
        return f"strftime('%Y-%m-%dT%H:%M:%S+00:00', {e} + ({s}), 'unixepoch')"

    def params(self) -> str:
        """A staged entry's params, as the services write them: what /points shows."""
        order = f"'\"order\": \"' || {self.pad('o', 'ref')} || '\"'"
        whens = {
            "purchase": f"'{{' || {order} || '}}'",
            "first_purchase": f"'{{' || {order} || '}}'",
            "refund": f"'{{' || {order} || '}}'",
            "tier_bonus": f"'{{' || {order} || ', \"percent\": ' || aux || '}}'",
            "promotion": f"'{{' || {order} || ', \"promotion\": \"' || "
                         f"{self.promotion_code(f'(at_s / {DAY_S})')} || '\", \"percent\": ' "
                         "|| aux || '}'",
            "checkin": "'{\"streak\": ' || aux || '}'",
            "redeemed": f"'{{\"reward\": \"' || {self.by_cost('-delta', 'reward')} || '\"}}'",
            "referral": "'{\"friend\": ' || ref || '}'",
            "birthday": "'{\"year\": ' || aux || '}'",
            "expired": f"'{{\"earned_at\": \"' || {self.iso(f'at_s - {YEAR_S}')} || '\"}}'",
        }
        cases = " ".join(f"WHEN '{reason}' THEN {value}" for reason, value in whens.items())
        found = f"(CASE reason {cases} ELSE '{{}}' END)"
        return f"CAST({found} AS JSON)" if self.pg else found

    def streak_points(self, streak: str) -> str:
        rules = self.programme.checkin
        position = f"(({streak} - 1) % {rules.cycle_days} + 1)" if rules.cycle_days else streak
        bonus: dict[int, int] = {}
        for b in rules.streak_bonuses:
            bonus[b.days] = bonus.get(b.days, 0) + b.points
        whens = " ".join(f"WHEN {d} THEN {p}" for d, p in sorted(bonus.items()))
        extra = f"(CASE {position} {whens} ELSE 0 END)" if whens else "0"
        return f"({rules.base_points} + {extra})"

    def rewards(self) -> list[Any]:
        """The coupon rewards members redeem here, dearest first: no stock, no tight
        per-member limit, distinct costs."""
        found, costs = [], set()
        for item in sorted(self.programme.rewards, key=lambda i: -i.cost):
            if item.kind in ("free_item", "amount_off", "percent_off") and item.stock is None \
                    and (item.per_member is None or item.per_member >= 5) \
                    and item.cost not in costs:
                found.append(item)
                costs.add(item.cost)
        return found

    def redeemed_cost(self, points: str, tier: str) -> str:
        ladder = [t.code for t in self.programme.tiers.levels]
        whens = []
        for item in self.rewards():
            allowed = ""
            if item.min_tier:
                codes = ", ".join(f"'{c}'" for c in ladder[ladder.index(item.min_tier):])
                allowed = f" AND {tier} IN ({codes})"
            whens.append(f"WHEN {points} >= {item.cost}{allowed} THEN {item.cost}")
        return f"(CASE {' '.join(whens)} ELSE 0 END)" if whens else "0"

    def by_cost(self, cost: str, what: str) -> str:
        items = self.rewards()
        values = {"reward": lambda i: f"'{i.code}'", "kind": lambda i: f"'{i.kind}'",
                  "value": lambda i: str(i.value or 0),
                  "days": lambda i: str(i.coupon_days or 30)}[what]
        whens = " ".join(f"WHEN {i.cost} THEN {values(i)}" for i in items)
        return f"(CASE {cost} {whens} END)"

    # --- the statements, in order
    def statements(self) -> list[str]:
        s, m = self.shape.span, self.shape.members
        h, u, t = self.h, self.u, self.t
        p = self.programme
        out = [
            self.create("seq", "n BIGINT PRIMARY KEY"),
            f"INSERT INTO {t('seq')} (n) SELECT n FROM {self.series(SEQ)}",
            self.create("doy", "doy INTEGER PRIMARY KEY, month INTEGER, day INTEGER"),
            self.create("bd", "doy INTEGER, year INTEGER, at_s BIGINT"),
        ]
        out += self._calendar()
        # Members: when they join, stop, buy, check in; their birthday and referrer.
        joined = self.int_(f"{s} * x * (3 - x) / 2")
        out += [
            self.create("plan", "m BIGINT PRIMARY KEY, join_s BIGINT, end_s BIGINT, k INTEGER, "
                        "basket BIGINT, redeemer INTEGER, runs INTEGER, run_len INTEGER, "
                        "doy INTEGER, ref BIGINT"),
            f"""INSERT INTO {t('plan')} (m, join_s, end_s, k, basket, redeemer, runs, run_len,
                    doy, ref)
            SELECT m, join_s, end_s,
                CASE WHEN kr = 0 THEN 0 ELSE {self.most(
                    '1', f'kr * {self.least(f"{s} - join_s", str(YEAR_S))} / {YEAR_S}')} END,
                basket, redeemer,
                {self.least('rr', f'((end_s - join_s) / {DAY_S}) / (run_len + 1)')},
                run_len, doy, ref
            FROM (
                SELECT m, join_s,
                    CASE WHEN {h(1, 'm')} % 100 < {STAYING} THEN {s - 1}
                         ELSE join_s + {self.int_(f'({s - 1} - join_s) * (0.03 + 0.97 * '
                                                  f'{u(2, "m")})')} END AS end_s,
                    {self.buckets(f'{h(3, "m")} % 1000', PURCHASES, 4, 'm')} AS kr,
                    3000 + {h(5, 'm')} % 17000 AS basket,
                    CASE WHEN {h(6, 'm')} % 100 < {REDEEMERS} THEN 1 ELSE 0 END AS redeemer,
                    {self.buckets(f'{h(7, "m")} % 100', STREAKS, 8, 'm')} AS rr,
                    1 + {h(9, 'm')} % 9 AS run_len,
                    CASE WHEN {h(10, 'm')} % 10 < 8 THEN {h(11, 'm')} % 365 END AS doy,
                    CASE WHEN m > 1 AND {h(12, 'm')} % 100 < {REFERRED}
                         THEN 1 + {h(13, 'm')} % (m - 1) END AS ref
                FROM (SELECT n AS m, {joined} AS join_s
                      FROM (SELECT n, {self.real('n - 0.5')} / {m} AS x
                            FROM {self.series(m)}) x) j) p""",
        ]
        # Purchases: spread over each member's active time, ids by time.
        out += [
            self.create("p", "m BIGINT, j INTEGER, at_s BIGINT, amount BIGINT"),
            f"""INSERT INTO {t('p')} (m, j, at_s, amount)
            SELECT m, j, at_s, amount FROM (
                SELECT pl.m, q.n AS j,
                    pl.join_s + 60 + {self.int_(
                        f"{self.most('pl.end_s - pl.join_s - 120', '0')} * ((q.n - 1) + "
                        f"{u(14, 'pl.m * 1000 + q.n')}) / pl.k")} AS at_s,
                    pl.basket * (50 + {h(15, 'pl.m * 1000 + q.n')} % 101) / 100 AS amount
                FROM {t('plan')} pl JOIN {t('seq')} q ON q.n <= pl.k) x
            WHERE at_s < {s}""",
            self.create("tier", "m BIGINT PRIMARY KEY, tier VARCHAR(32)"),
            f"""INSERT INTO {t('tier')} (m, tier)
            SELECT m, {self.tier_of('pts')} FROM (
                SELECT m, SUM({self.base_points('amount')}) AS pts FROM {t('p')}
                WHERE at_s >= {s - YEAR_S} GROUP BY m) x""",
            self.create("pp", "id BIGINT PRIMARY KEY, m BIGINT, j INTEGER, at_s BIGINT, "
                        "amount BIGINT, base BIGINT, bonus BIGINT, promo BIGINT, "
                        "fp BIGINT, pct BIGINT, refund_s BIGINT, cost BIGINT, redeem_s BIGINT"),
            f"""INSERT INTO {t('pp')} (id, m, j, at_s, amount, base, bonus, promo, fp, pct,
                    refund_s, cost, redeem_s)
            SELECT id, m, j, at_s, amount, base, bonus, promo, fp, pct, refund_s,
                CASE WHEN redeemer = 1 AND j % 3 = 0 AND redeem_s < {s}
                     THEN {self.redeemed_cost('tri', 'tier')} ELSE 0 END, redeem_s
            FROM (
                SELECT row_number() OVER (ORDER BY p.at_s, p.m, p.j) AS id, p.m, p.j, p.at_s,
                    p.amount, {self.base_points('p.amount')} AS base,
                    CASE WHEN p.at_s >= {s - YEAR_S}
                         THEN {self.base_points('p.amount')} * {self.tier_extra('t.tier')} / 100
                         ELSE 0 END AS bonus,
                    100 + {self.tier_extra('t.tier')} AS pct,
                    {self.base_points('p.amount')}
                        * {self.promotion(f'(p.at_s / {DAY_S})')} / 100 AS promo,
                    CASE WHEN p.j = 1 THEN {p.earning.first_purchase} ELSE 0 END AS fp,
                    CASE WHEN p.j > 3 * (pl.k / 3)
                              AND {h(16, 'p.m * 1000 + p.j')} % 1000 < {REFUNDED}
                              AND p.at_s + {14 * DAY_S} < {s}
                         THEN p.at_s + 3600 * (1 + {h(17, 'p.m * 1000 + p.j')} % 300) END
                        AS refund_s,
                    SUM({self.base_points('p.amount')}) OVER (PARTITION BY p.m ORDER BY p.j
                        ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS tri,
                    pl.redeemer, t.tier,
                    p.at_s + 60 + {h(18, 'p.m * 1000 + p.j')} % 3600 AS redeem_s
                FROM {t('p')} p JOIN {t('plan')} pl ON pl.m = p.m
                LEFT JOIN {t('tier')} t ON t.m = p.m) x""",
        ]
        # Check-ins: streaks spread over each member's active time.
        out += [
            self.create("ck", "m BIGINT, d BIGINT, streak INTEGER, points BIGINT, at_s BIGINT"),
            f"""INSERT INTO {t('ck')} (m, d, streak, points, at_s)
            SELECT m, d, streak, {self.streak_points('streak')}, at_s FROM (
                SELECT m, d, streak,
                    d * {DAY_S} + 3600 + {h(19, 'm * 1000 + d % 1000')} % 43200 AS at_s
                FROM (SELECT pl.m, pl.join_s / {DAY_S} + 1 + (r.n - 1) * ((pl.end_s - pl.join_s)
                          / {DAY_S} / pl.runs) + (q.n - 1) AS d, q.n AS streak
                      FROM {t('plan')} pl JOIN {t('seq')} r ON r.n <= pl.runs
                      JOIN {t('seq')} q ON q.n <= pl.run_len WHERE pl.runs > 0) x) y
            WHERE at_s < {s}""",
        ]
        # The ledger, staged: every entry but the expiries, then those. `ref` and `aux`
        # become the entry's params: its order, the tier's percent, a streak, a year.
        ledger = ("at_s BIGINT, ord INTEGER, m BIGINT, delta BIGINT, kind VARCHAR(16), "
                  "reason VARCHAR(64), qual BIGINT, spend BIGINT, src VARCHAR(64), "
                  "ref BIGINT, aux BIGINT")
        into = (f"INSERT INTO {t('l')} (at_s, ord, m, delta, kind, reason, qual, spend, src, "
                "ref, aux)")
        e = p.earning
        out += [self.create("l", ledger)]
        for n, (column, reason, spend, aux) in enumerate((
                ("base", "purchase", "amount", "0"), ("bonus", "tier_bonus", "0", "pct"),
                ("promo", "promotion", "0", self.promotion(f"(at_s / {DAY_S})")),
                ("fp", "first_purchase", "0", "0"))):
            out.append(f"""{into} SELECT at_s, {n}, m, {column}, 'earn', '{reason}', {column},
                {spend}, 'api', id, {aux} FROM {t('pp')} WHERE {column} > 0""")
        referred = (f"FROM {t('pp')} pp JOIN {t('plan')} pl ON pl.m = pp.m "
                    "WHERE pp.j = 1 AND pl.ref IS NOT NULL")
        whole = "(base + bonus + promo + fp)"
        birthday = p.birthday.points or 0
        out += [
            f"{into} SELECT pp.at_s, 4, pp.m, {e.referee}, 'earn', 'referral_welcome', "
            f"{e.referee}, 0, 'referral', pp.id, 0 {referred}" if e.referee else "",
            f"{into} SELECT pp.at_s, 5, pl.ref, {e.referrer}, 'earn', 'referral', "
            f"{e.referrer}, 0, 'referral', pp.m, 0 {referred}" if e.referrer else "",
            f"""{into} SELECT redeem_s, 6, m, -cost, 'redeem', 'redeemed', 0, 0, 'rewards', 0,
                0 FROM {t('pp')} WHERE cost > 0""",
            f"""{into} SELECT refund_s, 7, m, -{whole}, 'reverse', 'refund', -{whole},
                -amount, 'refund', id, 0 FROM {t('pp')} WHERE refund_s IS NOT NULL""",
            f"""{into} SELECT at_s, 0, m, points, 'earn', 'checkin', points, 0, 'checkin', 0,
                streak FROM {t('ck')}""",
            f"""{into} SELECT b.at_s, 0, pl.m, {birthday}, 'earn', 'birthday', 0, 0,
                'birthday', 0, b.year FROM {t('plan')} pl JOIN {t('bd')} b ON b.doy = pl.doy
                WHERE b.at_s > pl.join_s""" if birthday else "",
            self.create("act", "m BIGINT PRIMARY KEY, last_s BIGINT"),
            f"""INSERT INTO {t('act')} (m, last_s) SELECT m, MAX(s) FROM (
                    SELECT m, at_s AS s FROM {t('pp')}
                    UNION ALL SELECT m, redeem_s FROM {t('pp')} WHERE cost > 0
                    UNION ALL SELECT m, at_s FROM {t('ck')}) a GROUP BY m""",
            self.index("l_m", "l", "m, at_s"),
            f"""{into} SELECT e.exp_s, 9, e.m, -SUM(l.delta), 'expire', 'expired', 0, 0,
                    'expiry', 0, 0
                FROM (SELECT m, last_s + {YEAR_S} AS exp_s FROM {t('act')}
                      WHERE last_s + {YEAR_S} < {s}) e
                JOIN {t('l')} l ON l.m = e.m AND l.at_s < e.exp_s
                GROUP BY e.m, e.exp_s HAVING SUM(l.delta) > 0""",
            self.create("bal", "m BIGINT PRIMARY KEY, balance BIGINT, next_s BIGINT"),
            f"""INSERT INTO {t('bal')} (m, balance, next_s)
                SELECT m, SUM(delta), MIN(CASE WHEN kind = 'earn' AND at_s >= {s - YEAR_S}
                                          THEN at_s + {YEAR_S} END)
                FROM {t('l')} GROUP BY m""",
            self.create("ps", "m BIGINT PRIMARY KEY, n BIGINT, first_s BIGINT, last_s BIGINT"),
            f"""INSERT INTO {t('ps')} (m, n, first_s, last_s)
                SELECT m, COUNT(*), MIN(at_s), MAX(at_s) FROM {t('pp')} GROUP BY m""",
            self.create("rd", "id BIGINT PRIMARY KEY, m BIGINT, cost BIGINT, at_s BIGINT, "
                        "hu BIGINT"),
            f"""INSERT INTO {t('rd')} (id, m, cost, at_s, hu)
                SELECT row_number() OVER (ORDER BY redeem_s, m), m, cost, redeem_s,
                    {h(20, 'id')} FROM {t('pp')} WHERE cost > 0""",
        ]
        out += self._tables()
        return [statement for statement in out if statement]

    def _calendar(self) -> list[str]:
        """Day of the year -> (month, day), and when each birthday's gift was given."""
        shape, rules = self.shape, self.programme.birthday
        rows = [(doy, (date(2025, 1, 1) + timedelta(days=doy))) for doy in range(365)]
        out = [f"INSERT INTO {self.t('doy')} (doy, month, day) VALUES "
               + ", ".join(f"({doy}, {d.month}, {d.day})" for doy, d in rows)]
        gifts = []
        zone = shape.zone
        for year in range(shape.start.year, shape.end.year + 1):
            for doy, d in rows:
                when = datetime(year, d.month, d.day, rules.send_hour, tzinfo=zone) \
                    - timedelta(days=rules.days_before)
                at = int((when - shape.start).total_seconds())
                if 0 < at < shape.span:
                    gifts.append(f"({doy}, {year}, {at})")
        for at in range(0, len(gifts), 400):
            out.append(f"INSERT INTO {self.t('bd')} (doy, year, at_s) VALUES "
                       + ", ".join(gifts[at:at + 400]))
        return out

    def _tables(self) -> list[str]:
        """The real tables, from the staged ones, parents first."""
        t, h, ts, s = self.t, self.h, self.ts, self.shape.span
        currency = self.programme.currency
        staying = f"{h(21, 'pl.m')} % 1000"
        out = [
            f"""INSERT INTO members (id, phone_verified, birth_month, birth_day, birth_year,
                    locale, marketing_consent, consent_at, status, joined_at, last_active_at,
                    referral_code, referred_by_id, points_balance, next_expiry_at, tier,
                    tier_valid_until, first_purchase_at, last_purchase_at, purchase_count)
            SELECT pl.m, {self.yes('1 = 0')}, dm.month, dm.day,
                CASE WHEN dm.month IS NOT NULL THEN 1960 + {h(22, 'pl.m')} % 45 END,
                CASE WHEN {h(23, 'pl.m')} % 10 < 7 THEN 'zh_Hans' ELSE 'en' END,
                {self.yes(f"{h(24, 'pl.m')} % 10 < 7")},
                CASE WHEN {h(24, 'pl.m')} % 10 < 7 THEN {ts('pl.join_s')} END,
                CASE WHEN {staying} < 970 THEN 'active' WHEN {staying} < 990 THEN 'unreachable'
                     ELSE 'erased' END,
                {ts('pl.join_s')}, {ts(self.most('pl.join_s', 'COALESCE(a.last_s, 0)'))},
                {self.pad('R', 'pl.m')}, pl.ref, COALESCE(b.balance, 0),
                CASE WHEN b.balance > 0 THEN {ts('b.next_s')} END,
                COALESCE(tr.tier, '{self.programme.tiers.levels[0].code}'),
                CASE WHEN tr.tier <> '{self.programme.tiers.levels[0].code}'
                     THEN {ts(f"{s} + {h(25, 'pl.m')} % 365 * {DAY_S}")} END,
                {ts('ps.first_s')}, {ts('ps.last_s')}, COALESCE(ps.n, 0)
            FROM {t('plan')} pl LEFT JOIN {t('doy')} dm ON dm.doy = pl.doy
            LEFT JOIN {t('act')} a ON a.m = pl.m LEFT JOIN {t('bal')} b ON b.m = pl.m
            LEFT JOIN {t('ps')} ps ON ps.m = pl.m LEFT JOIN {t('tier')} tr ON tr.m = pl.m""",
            f"""INSERT INTO identities (member_id, platform, external_id, linked_at)
            SELECT m, 'telegram', CAST(100000000 + m AS VARCHAR(32)), {ts('join_s')}
            FROM {t('plan')} WHERE {h(26, 'm')} % 100 < 75 OR {h(26, 'm')} % 100 >= 92""",
            f"""INSERT INTO identities (member_id, platform, external_id, linked_at)
            SELECT m, 'wechat', {self.pad('oWx', 'm')}, {ts('join_s')}
            FROM {t('plan')} WHERE {h(26, 'm')} % 100 >= 75""",
            f"""INSERT INTO identities (member_id, platform, external_id, linked_at)
            VALUES (1, 'console', '{PROBE_ID}', {ts('0')})""",
            f"""INSERT INTO purchases (id, order_id, member_id, amount, currency, items, points,
                    entries, refunded, source, created_at)
            SELECT id, {self.pad('o', 'id')}, m, amount, '{currency}', {self.json('[]')},
                base + bonus + promo + fp, {self.json('[]')},
                CASE WHEN refund_s IS NOT NULL THEN amount ELSE 0 END, 'api', {ts('at_s')}
            FROM {t('pp')}""",
            f"""INSERT INTO refunds (id, purchase_id, key, amount, points, short, created_at)
            SELECT row_number() OVER (ORDER BY refund_s, id), id, {self.pad('refund:', 'id')},
                amount, base + bonus + promo + fp, 0, {ts('refund_s')}
            FROM {t('pp')} WHERE refund_s IS NOT NULL""",
            f"""INSERT INTO ledger_entries (id, member_id, delta, kind, reason, params, source,
                    idempotency_key, created_at, expires_at, qualifying, spend)
            SELECT rn, m, delta, kind, reason, {self.params()}, src,
                {self.pad('seed:', 'rn')}, {ts('at_s')},
                CASE WHEN kind = 'earn' THEN {ts(f'at_s + {YEAR_S}')} END, qual, spend
            FROM (SELECT row_number() OVER (ORDER BY at_s, m, ord) AS rn, l.* FROM {t('l')} l) x""",
            f"""INSERT INTO checkins (id, member_id, day, streak, points, created_at)
            SELECT row_number() OVER (ORDER BY at_s, m), m, {self.day('d')}, streak, points,
                {ts('at_s')} FROM {t('ck')}""",
            f"""INSERT INTO redemptions (id, key, member_id, reward, cost, created_at)
            SELECT id, {self.pad('redeem:', 'id')}, m, {self.by_cost('cost', 'reward')}, cost,
                {ts('at_s')} FROM {t('rd')}""",
            f"""INSERT INTO coupons (id, code, member_id, reward, kind, value, status, issued_at,
                    expires_at, used_at, used_by, redemption_id)
            SELECT id, {self.pad('C', 'id')}, m, {self.by_cost('cost', 'reward')},
                {self.by_cost('cost', 'kind')}, {self.by_cost('cost', 'value')},
                CASE WHEN used_s < {s} THEN 'used' ELSE 'issued' END, {ts('at_s')},
                {ts(f"at_s + {self.by_cost('cost', 'days')} * {DAY_S}")},
                CASE WHEN used_s < {s} THEN {ts('used_s')} END,
                CASE WHEN used_s < {s} THEN 'till' END, id
            FROM (SELECT rd.*, CASE WHEN hu % 100 < {USED} THEN at_s + 3600 * (1 + hu % 480)
                                    END AS used_s FROM {t('rd')} rd) c""",
            f"""INSERT INTO referral_rewards (referee_id, referrer_id, outcome, created_at)
            SELECT pl.m, pl.ref, 'rewarded', {ts('pp.at_s')}
            FROM {t('plan')} pl JOIN {t('pp')} pp ON pp.m = pl.m AND pp.j = 1
            WHERE pl.ref IS NOT NULL""",
        ]
        # The tills' takings from every customer, reported at each day's end: members
        # bought three fifths of it, in half the orders.
        out.append(f"""INSERT INTO store_takings (day, amount, orders, reported_at)
            SELECT {self.day('d')}, SUM(amount) * 5 / 3, COUNT(*) * 2,
                {ts(f'(d + 1) * {DAY_S} - 60')}
            FROM (SELECT at_s / {DAY_S} AS d, amount FROM {t('pp')}) x
            WHERE d < {s // DAY_S} GROUP BY d""")
        birthday = self.programme.birthday.points or 0
        if birthday:
            out.append(f"""INSERT INTO birthday_gifts (member_id, year, points, given_at)
            SELECT pl.m, b.year, {birthday}, {ts('b.at_s')}
            FROM {t('plan')} pl JOIN {t('bd')} b ON b.doy = pl.doy WHERE b.at_s > pl.join_s""")
        out += self._campaigns()
        return out

    def _campaigns(self) -> list[str]:
        share = int(self.shape.campaign_share * 1000)
        if share <= 0:
            return []
        t, h, ts, s = self.t, self.h, self.ts, self.shape.span
        variants = ('[{"code": "A", "text": "Spring tea is here", "share": 70}, '
                    '{"code": "B", "text": "New leaves this week", "share": 30}]')
        out = []
        for number, days in ((1, 10), (2, 40)):
            start = s - days * DAY_S
            hashed = f"{h(27 + number, 'm')} % 100"
            out += [
                f"""INSERT INTO campaigns (id, key, status, segment, variants, holdout, seed,
                        attribution_days, send_at, created_by, created_at, operator_platform,
                        operator_chat, operator_locale, start_cursor, started_at, finished_at,
                        recipients, held_out)
                VALUES ({number}, 'analytics-{number}', 'done', {self.json('{}')},
                        {self.json(variants)}, 1000, {number}, 7, {ts(str(start))}, 1,
                        {ts(str(start - 3600))}, 'console', 'analytics', 'en',
                        {self.shape.members}, {ts(str(start))}, {ts(str(start + 3600))}, 0,
                        0)""",
                f"""INSERT INTO campaign_deliveries (campaign_id, member_id, variant, status,
                        attempts, platform, sent_at)
                SELECT {number}, m,
                    CASE WHEN {hashed} < 10 THEN 'holdout' WHEN {hashed} < 73 THEN 'A'
                         ELSE 'B' END,
                    CASE WHEN {hashed} < 10 THEN 'holdout' ELSE 'sent' END,
                    CASE WHEN {hashed} < 10 THEN 0 ELSE 1 END, 'telegram',
                    CASE WHEN {hashed} >= 10 THEN {ts(f"{start} + {h(30, 'm')} % 3600")} END
                FROM {t('plan')} WHERE {h(27, 'm')} % 1000 < {share} AND join_s < {start}""",
                f"""UPDATE campaigns SET
                    recipients = (SELECT COUNT(*) FROM campaign_deliveries
                                  WHERE campaign_id = {number} AND variant <> 'holdout'),
                    held_out = (SELECT COUNT(*) FROM campaign_deliveries
                                WHERE campaign_id = {number} AND variant = 'holdout')
                WHERE id = {number}""",
            ]
        return out


# Tables the seed fills: their indexes are dropped first and built again after.
FILLED = ("members", "identities", "purchases", "refunds", "ledger_entries", "checkins",
          "redemptions", "coupons", "referral_rewards", "birthday_gifts", "campaign_deliveries")
SEQUENCED = ("members", "identities", "purchases", "refunds", "ledger_entries", "checkins",
             "redemptions", "coupons", "campaigns", "campaign_deliveries")


def _indexes() -> list[Any]:
    return [ix for name in FILLED for ix in Base.metadata.tables[name].indexes]


def _sqlite_script(path: str, stage: str, before: list[str], statements: list[str],
                   after: list[str]) -> float:
    """The SQLite seed, in a process of its own: its page cache and sorter are not the
    measured process's memory. Seconds taken."""
    began = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")  # a fresh file: nothing to roll back to
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")
        db.execute(f"ATTACH DATABASE '{stage}' AS stage")
        db.execute("PRAGMA stage.journal_mode=OFF")
        db.execute("PRAGMA stage.synchronous=OFF")
        for statement in [*before, *statements, *after]:
            db.execute(statement)
        db.execute("DETACH DATABASE stage")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    Path(stage).unlink(missing_ok=True)
    return time.perf_counter() - began


async def seed(db: Database, programme: Programme, shape: Shape, folder: Path,
               apart: bool = True) -> dict[str, int]:
    """The history, written; rows per table."""
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sql = Sql(db.dialect, shape, programme)
    drops = [str(DropIndex(ix).compile(dialect=db.engine.dialect)) for ix in _indexes()]
    builds = [str(CreateIndex(ix).compile(dialect=db.engine.dialect)) for ix in _indexes()]
    statements = sql.statements()
    if db.dialect == "sqlite":
        path = db.engine.url.database
        assert path
        if db.checkpoints is not None:
            await db.checkpoints.settled()
        await db.engine.dispose()  # the script has the file to itself
        stage = str(folder / f"stage-{time.monotonic_ns()}.db")
        if apart:
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                await asyncio.get_running_loop().run_in_executor(
                    pool, _sqlite_script, path, stage, drops, statements, builds)
        else:
            await asyncio.to_thread(_sqlite_script, path, stage, drops, statements, builds)
    else:
        async with db.engine.connect() as conn:
            for setting in ("work_mem = '256MB'", "maintenance_work_mem = '512MB'",
                            "synchronous_commit = off"):
                await conn.exec_driver_sql(f"SET {setting}")
            await conn.commit()
            for statement in drops + statements + builds:
                await conn.exec_driver_sql(statement)
                await conn.commit()
            for table in (f"stage_{n}" for n in ("seq", "doy", "bd", "plan", "p", "tier", "pp",
                                                  "ck", "l", "act", "bal", "ps", "rd")):
                await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            for table in SEQUENCED:
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)")
            await conn.commit()
        async with db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql("VACUUM ANALYZE")
    async with db.snapshot() as uow:
        return {name: int(await uow.scalar(text(f"SELECT COUNT(*) FROM {name}")))
                for name in ("members", "identities", "ledger_entries", "purchases", "refunds",
                             "redemptions", "coupons", "checkins", "campaign_deliveries")}


# ------------------------------------------------------------------ the tail

async def add_tail(db: Database, programme: Programme, shape: Shape, minutes: float,
                   seed_: int = 5) -> Counter[str]:
    """The last minutes of activity, after the job's marks: purchases (with their points),
    check-ins, redemptions (with their coupons) and new members, at PEAK times the rate of
    the seed's last week, in time order; members' caches kept."""
    rng = random.Random(seed_)
    week_ago = shape.end - timedelta(days=7)
    async with db.snapshot() as uow:
        rates = {name: int(await uow.scalar(select(func.count()).where(column >= week_ago)))
                 for name, column in (("purchase", Purchase.created_at),
                                      ("checkin", Checkin.created_at),
                                      ("redeem", Redemption.created_at),
                                      ("join", Member.joined_at))}
        top = int(await uow.scalar(select(func.max(Member.id))))
    start = NOW - timedelta(minutes=minutes)
    events: list[tuple[datetime, str]] = []
    for kind, weekly in rates.items():
        n = max(3, round(weekly / (7 * 24 * 60) * minutes * PEAK))
        events += [(start + timedelta(seconds=rng.uniform(0, minutes * 60 - 1)), kind)
                   for _ in range(n)]
    events.sort()
    done: Counter[str] = Counter()
    today = (NOW - timedelta(seconds=1)).astimezone(shape.zone).date()
    rules = programme.earning
    extra = {t.code: t.multiplier_percent - 100 for t in programme.tiers.levels}
    async with db.uow() as uow:
        checked = set((await uow.execute(select(Checkin.member_id).where(
            Checkin.day == today))).scalars())
        for n, (at, kind) in enumerate(events):
            member_id = rng.randint(2, top)
            member = (await uow.execute(select(Member.tier, Member.points_balance).where(
                Member.id == member_id))).one()
            entries: list[tuple[int, str, int, int]] = []  # delta, reason, spend, qualifying
            if kind == "purchase":
                amount = rng.randint(3000, 20000)
                base = amount * rules.points_per_unit // rules.unit_minor
                bonus = base * extra.get(member.tier, 0) // 100
                await uow.execute(insert(Purchase).values(
                    order_id=f"tail-{n}", member_id=member_id, amount=amount,
                    currency=programme.currency, items=[], points=base + bonus, entries=[],
                    refunded=0, source="api", created_at=at))
                entries = [(base, "purchase", amount, base)] + (
                    [(bonus, "tier_bonus", 0, bonus)] if bonus else [])
                await uow.execute(update(Member).where(Member.id == member_id).values(
                    purchase_count=Member.purchase_count + 1, last_purchase_at=at,
                    first_purchase_at=func.coalesce(Member.first_purchase_at, at)))
            elif kind == "checkin":
                if member_id in checked:
                    continue
                checked.add(member_id)
                points = programme.checkin.base_points
                await uow.execute(insert(Checkin).values(
                    member_id=member_id, day=today, streak=1, points=points, created_at=at))
                entries = [(points, "checkin", 0, points)]
            elif kind == "redeem":
                item = min(programme.rewards, key=lambda i: i.cost)
                if member.points_balance < item.cost:
                    continue
                made = await uow.execute(insert(Redemption).values(
                    key=f"tail-redeem-{n}", member_id=member_id, reward=item.code,
                    cost=item.cost, created_at=at).returning(Redemption.id))
                await uow.execute(insert(Coupon).values(
                    code=f"T{n:09d}", member_id=member_id, reward=item.code, kind=item.kind,
                    value=item.value or 0, status="issued", issued_at=at,
                    expires_at=at + timedelta(days=30), redemption_id=made.scalar()))
                entries = [(-item.cost, "redeemed", 0, 0)]
            else:
                made = await uow.execute(insert(Member).values(
                    referral_code=f"T{n:09d}", joined_at=at, last_active_at=at,
                    marketing_consent=True, status="active", points_balance=0,
                    phone_verified=False, purchase_count=0,
                    tier=programme.tiers.levels[0].code).returning(Member.id))
                await uow.execute(insert(Identity).values(
                    member_id=made.scalar(), platform="telegram", external_id=f"tail-{n}",
                    linked_at=at))
            for i, (delta, reason, spend, qualifying) in enumerate(entries):
                await uow.execute(insert(LedgerEntry).values(
                    member_id=member_id, delta=delta, kind="redeem" if delta < 0 else "earn",
                    reason=reason, params={}, source="tail", idempotency_key=f"tail:{n}:{i}",
                    created_at=at, qualifying=qualifying, spend=spend,
                    expires_at=at + timedelta(days=365) if delta > 0 else None))
            if entries:
                await uow.execute(update(Member).where(Member.id == member_id).values(
                    points_balance=Member.points_balance + sum(e[0] for e in entries),
                    last_active_at=at))
            done[kind] += 1
        await uow.commit()
    return done


# ------------------------------------------------------------------ the recount

REASON_SOURCE = {  # the documented source of each earn reason, for the recount's SQL
    "purchase": "purchase", "tier_bonus": "purchase", "category_bonus": "purchase",
    "sku_bonus": "purchase", "promotion": "purchase", "first_purchase": "purchase",
    "campaign_bonus": "campaign", "checkin": "checkin", "birthday": "birthday",
    "referral": "referral", "referral_welcome": "referral", "survey_completed": "survey",
    "profile_completed": "profile",
}
MOVES = "(kind IN ('earn', 'redeem') OR (kind = 'adjust' AND delta > 0)) AND delta <> 0"


def _local_day(dialect: str, column: str, offset_s: int) -> str:
    if dialect == "postgresql":
        return f"CAST({column} + INTERVAL '{offset_s} seconds' AS DATE)"
    return f"date({column}, '+{offset_s} seconds')"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def recount_sql(dialect: str, offset_s: int) -> dict[str, str]:
    """The figures of every day, straight from the raw tables (rows up to the marks)."""
    def day(column: str) -> str:
        return _local_day(dialect, column, offset_s)

    def month(column: str) -> str:
        if dialect == "postgresql":
            return (f"CAST(date_trunc('month', {column} + INTERVAL '{offset_s} seconds') "
                    "AS DATE)")
        return f"strftime('%Y-%m-01', {column}, '+{offset_s} seconds')"

    source = " ".join(f"WHEN '{reason}' THEN '{where}'" for reason, where in
                      REASON_SOURCE.items())
    months = f"""SELECT DISTINCT month, member_id FROM (
                    SELECT {month('created_at')} AS month, member_id FROM ledger_entries
                    WHERE id <= :ledger AND {MOVES}
                    UNION ALL SELECT {month('created_at')}, member_id FROM purchases
                    WHERE id <= :purchases
                    UNION ALL SELECT {month('created_at')}, member_id FROM checkins
                    WHERE id <= :checkins) a"""
    return {
        "ledger": f"""
            SELECT {day('created_at')} AS day,
                CASE WHEN kind = 'earn' OR (kind = 'adjust' AND delta > 0) THEN 'points.issued'
                     WHEN kind = 'redeem' THEN 'points.redeemed'
                     WHEN kind = 'expire' THEN 'points.expired'
                     WHEN kind = 'reverse' THEN 'points.reversed'
                     ELSE 'points.deducted' END AS measure,
                CASE WHEN kind = 'adjust' AND delta > 0 THEN 'operator'
                     WHEN kind = 'earn' THEN CASE reason {source} ELSE 'other' END
                     ELSE '' END AS dimension,
                SUM(CASE WHEN kind = 'earn' OR (kind = 'adjust' AND delta > 0) THEN delta
                         ELSE -delta END), COUNT(*)
            FROM ledger_entries WHERE id <= :ledger AND delta <> 0
            GROUP BY 1, 2, 3""",
        "purchases": f"""
            SELECT {day('p.created_at')}, 'sales', COALESCE(m.tier, ''), SUM(p.amount), COUNT(*)
            FROM purchases p JOIN members m ON m.id = p.member_id WHERE p.id <= :purchases
            GROUP BY 1, 3""",
        "refunds": f"""
            SELECT {day('r.created_at')}, 'refunds', COALESCE(m.tier, ''), SUM(r.amount),
                COUNT(*)
            FROM refunds r JOIN purchases p ON p.id = r.purchase_id
            JOIN members m ON m.id = p.member_id WHERE r.id <= :refunds GROUP BY 1, 3""",
        "redemptions": f"""SELECT {day('created_at')}, 'redemptions', reward, SUM(cost),
            COUNT(*) FROM redemptions WHERE id <= :redemptions GROUP BY 1, 3""",
        "checkins": f"""SELECT {day('created_at')}, 'checkins', '', SUM(points), COUNT(*)
            FROM checkins WHERE id <= :checkins GROUP BY 1""",
        "streaks": f"""SELECT {day('created_at')}, 'checkins.streak7', '', SUM(streak), COUNT(*)
            FROM checkins WHERE id <= :checkins AND streak >= 7 GROUP BY 1""",
        "members": f"""SELECT {day('joined_at')}, 'members.joined', '', 0, COUNT(*)
            FROM members WHERE id <= :members GROUP BY 1""",
        "coupons": f"""SELECT {day('issued_at')}, 'coupons.issued', kind, 0, COUNT(*)
            FROM coupons WHERE id <= :coupons GROUP BY 1, 3""",
        # What each member did each day, summed per day (and the sum of their ids, so a
        # row moved to another member shows).
        "member_days": f"""
            SELECT day, COUNT(*), SUM(mv), SUM(pu), SUM(ch), SUM(member_id) FROM (
                SELECT day, member_id, SUM(mv) AS mv, SUM(pu) AS pu, SUM(ch) AS ch FROM (
                    SELECT {day('created_at')} AS day, member_id, 1 AS mv, 0 AS pu, 0 AS ch
                    FROM ledger_entries WHERE id <= :ledger AND {MOVES}
                    UNION ALL SELECT {day('created_at')}, member_id, 0, 1, 0
                    FROM purchases WHERE id <= :purchases
                    UNION ALL SELECT {day('created_at')}, member_id, 0, 0, 1
                    FROM checkins WHERE id <= :checkins) e
                GROUP BY day, member_id) d
            GROUP BY day""",
        # Each member's active months once, and by their join month (the cohorts).
        "member_months": f"""
            SELECT month, COUNT(*), SUM(member_id) FROM ({months}) e GROUP BY month""",
        "cohorts": f"""
            SELECT {month('m.joined_at')}, e.month, COUNT(*) FROM ({months}) e
            JOIN members m ON m.id = e.member_id GROUP BY 1, 2""",
        "member_day_rows": f"""
            SELECT member_id, SUM(mv), SUM(pu), SUM(ch) FROM (
                SELECT member_id, 1 AS mv, 0 AS pu, 0 AS ch FROM ledger_entries
                WHERE id <= :ledger AND {MOVES} AND {day('created_at')} = :day
                UNION ALL SELECT member_id, 0, 1, 0 FROM purchases
                WHERE id <= :purchases AND {day('created_at')} = :day
                UNION ALL SELECT member_id, 0, 0, 1 FROM checkins
                WHERE id <= :checkins AND {day('created_at')} = :day) e
            GROUP BY member_id""",
    }


def period_sql() -> dict[str, str]:
    """A period's figures straight from the raw tables, every row (as /stats, which
    reads the tail beside the roll-ups)."""
    within = "created_at >= :lo AND created_at < :hi"
    return {
        "sales": f"SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM purchases WHERE {within}",
        "refunds": f"SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE {within}",
        "points": f"""SELECT
            COALESCE(SUM(CASE WHEN kind = 'earn' OR (kind = 'adjust' AND delta > 0)
                         THEN delta ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN kind = 'redeem' THEN -delta ELSE 0 END), 0),
            COALESCE(SUM(CASE WHEN kind = 'expire' THEN -delta ELSE 0 END), 0),
            COUNT(DISTINCT CASE WHEN {MOVES} THEN member_id END)
            FROM ledger_entries WHERE {within}""",
        "held": "SELECT COALESCE(SUM(delta), 0) FROM ledger_entries WHERE created_at < :hi",
        "joined": "SELECT COUNT(*) FROM members WHERE joined_at >= :lo AND joined_at < :hi",
        "checkins": f"SELECT COUNT(*), COUNT(DISTINCT member_id) FROM checkins WHERE {within}",
        "buyers": f"""SELECT COUNT(*), COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0)
            FROM (SELECT member_id, COUNT(*) AS n FROM purchases WHERE {within}
                  GROUP BY member_id) b""",
    }


def _bounds(programme: Programme, period: periods.Period) -> dict[str, datetime]:
    zone = programme.zone
    return {"lo": datetime.combine(period.first, clock(0), zone),
            "hi": datetime.combine(period.last + timedelta(days=1), clock(0), zone)}


def _moments(statement: str) -> Any:
    found = text(statement)
    names = [n for n in ("lo", "hi") if f":{n}" in statement]
    return found.bindparams(*(bindparam(n, type_=UTCDateTime()) for n in names))


async def period_figures(uow: UnitOfWork, programme: Programme,
                         period: periods.Period) -> dict[str, int]:
    """The figures /stats shows of a period, from the raw tables."""
    q = period_sql()
    at = _bounds(programme, period)

    async def row(name: str) -> tuple[int, ...]:
        return tuple(int(v) for v in (await uow.execute(_moments(q[name]), at)).one())

    sales, orders = await row("sales")
    issued, redeemed, expired, active = await row("points")
    checkins, checkin_members = await row("checkins")
    buyers, repeat = await row("buyers")
    return {"sales": sales, "orders": orders, "refunds": (await row("refunds"))[0],
            "issued": issued, "redeemed": redeemed, "expired": expired, "active": active,
            "joined": (await row("joined"))[0], "checkins": checkins,
            "checkin_members": checkin_members, "buyers": buyers, "repeat_buyers": repeat,
            "held": (await row("held"))[0]}


def figures_of(found: kpis.Figures) -> dict[str, int]:
    """The same figures, as kpis gives them to /stats."""
    return {"sales": found.amount("sales"), "orders": found.number("sales"),
            "refunds": found.amount("refunds"), "issued": found.issued,
            "redeemed": found.amount("points.redeemed"),
            "expired": found.amount("points.expired"), "active": found.active,
            "joined": found.number("members.joined"), "checkins": found.number("checkins"),
            "checkin_members": found.checkin_members, "buyers": found.buyers,
            "repeat_buyers": found.repeat_buyers, "held": found.outstanding}


@dataclass
class Agreement:
    checked: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    recount_s: float = 0.0  # every day's figures, from the raw tables
    periods_s: float = 0.0  # the two periods' figures, from the raw tables
    took_s: float = 0.0  # the whole check

    @property
    def agrees(self) -> bool:
        return not self.disagreements and self.checked["day figures"] > 0

    def line(self) -> str:
        said = ", ".join(f"{n:,} {what}" for what, n in self.checked.items())
        if self.agrees:
            return f"roll-ups agree with the recount ({self.took_s:.0f} s): {said}"
        return (f"roll-ups DISAGREE with the recount ({len(self.disagreements)} "
                f"differences; compared {said}):\n    "
                + "\n    ".join(self.disagreements[:12]))


async def verify(db: Database, programme: Programme, shape: Shape, now: datetime,
                 sample_days: int = 6) -> Agreement:
    """The roll-ups against a recount written here from the raw tables."""
    found = Agreement()
    q = recount_sql(db.dialect, shape.offset_s)
    began_all = time.perf_counter()
    async with db.snapshot() as uow:
        if db.dialect == "postgresql":
            # Grouping by an expression, the planner guesses 40,000 groups where there
            # are millions (member-days, member-months), picks a hash aggregate and
            # spills it again and again (over half an hour at full size): sorting is
            # steady. Only this recount's transaction.
            await uow.execute(text("SET LOCAL enable_hashagg = off"))
            await uow.execute(text("SET LOCAL work_mem = '256MB'"))
        marks = await rollups.marks(uow)
        began = time.perf_counter()
        recount: dict[tuple[date, str, str], tuple[int, int]] = {}
        for name in ("ledger", "purchases", "refunds", "redemptions", "checkins", "streaks",
                     "members", "coupons"):
            for d, measure, dimension, amount, number in await uow.execute(text(q[name]),
                                                                           marks):
                recount[_as_date(d), measure, dimension] = (int(amount), int(number))
        found.recount_s = time.perf_counter() - began
        rolled = {(r.day, r.measure, r.dimension): (int(r.amount), int(r.number))
                  for r in await uow.execute(select(InsightDay))}
        for key in sorted(set(recount) | set(rolled)):
            if recount.get(key) != rolled.get(key):
                found.disagreements.append(f"{key[0]} {key[1]}/{key[2] or '-'}: roll-ups "
                                           f"{rolled.get(key)}, recount {recount.get(key)}")
        found.checked["day figures"] = len(recount)
        found.checked["days"] = len({d for d, _, _ in recount})

        want = {_as_date(d): tuple(int(v) for v in rest) for d, *rest in
                await uow.execute(text(q["member_days"]), marks)}
        md = InsightMemberDay
        have = {d: tuple(int(v) for v in rest) for d, *rest in await uow.execute(
            select(md.day, func.count(), func.sum(md.moves), func.sum(md.purchases),
                   func.sum(md.checkins), func.sum(md.member_id)).group_by(md.day))}
        for d in sorted(set(want) | set(have)):
            if want.get(d) != have.get(d):
                found.disagreements.append(f"{d} member days (rows, moves, purchases, "
                                           f"check-ins, ids): roll-ups {have.get(d)}, "
                                           f"recount {want.get(d)}")
        found.checked["member-day totals"] = len(want)

        counted = {_as_date(m): tuple(int(v) for v in rest) for m, *rest in
                   await uow.execute(text(q["member_months"]), marks)}
        mm = InsightMemberMonth
        kept_months = {m: (int(n), int(ids)) for m, n, ids in await uow.execute(
            select(mm.month, func.count(), func.sum(mm.member_id)).group_by(mm.month))}
        for m in sorted(set(counted) | set(kept_months)):
            if counted.get(m) != kept_months.get(m):
                found.disagreements.append(f"{m:%Y-%m} member months (members, ids): roll-ups "
                                           f"{kept_months.get(m)}, recount {counted.get(m)}")
        grid = {(_as_date(c), _as_date(m)): int(n) for c, m, n in
                await uow.execute(text(q["cohorts"]), marks)}
        kept_grid = {(r.cohort, r.month): int(r.members)
                     for r in await uow.execute(select(InsightCohort))}
        for cell in sorted(set(grid) | set(kept_grid)):
            if grid.get(cell) != kept_grid.get(cell):
                found.disagreements.append(
                    f"cohort {cell[0]:%Y-%m} in {cell[1]:%Y-%m}: roll-ups "
                    f"{kept_grid.get(cell)}, recount {grid.get(cell)}")
        found.checked["member months"] = len(counted)
        found.checked["cohort cells"] = len(grid)

        days = sorted(want)
        picked = sorted({days[int(i * (len(days) - 1) / max(sample_days - 1, 1))]
                         for i in range(sample_days)} | set(days[-2:])) if days else []
        rows = 0
        for d in picked:
            mine = {r[0]: tuple(int(v) for v in r[1:]) for r in await uow.execute(
                text(q["member_day_rows"]), {**marks, "day": d if db.dialect ==
                                             "postgresql" else d.isoformat()})}
            kept = {r.member_id: (int(r.moves), int(r.purchases), int(r.checkins))
                    for r in await uow.execute(select(md).where(md.day == d))}
            rows += len(mine)
            if mine != kept:
                wrong = sorted(m for m in set(mine) | set(kept) if mine.get(m) != kept.get(m))
                found.disagreements.append(
                    f"{d} member-day rows: {len(wrong)} differ, e.g. member {wrong[0]}: "
                    f"roll-ups {kept.get(wrong[0])}, recount {mine.get(wrong[0])}")
        found.checked["member-day rows on sample days"] = rows

        today = now.astimezone(programme.zone).date()
        period = periods.named("30d", today)
        assert period is not None
        tail = await rollups.tail(uow, programme.zone, marks)
        for which in (period, period.before()):
            began = time.perf_counter()
            direct = await period_figures(uow, programme, which)
            found.periods_s += time.perf_counter() - began
            kept_figures = figures_of(await kpis.figures(uow, programme, which, now, tail))
            for name, value in direct.items():
                if kept_figures[name] != value:
                    found.disagreements.append(
                        f"{which.first}..{which.last} {name}: /stats {kept_figures[name]}, "
                        f"from the tables {value}")
            found.checked["period figures"] += len(direct)
    found.took_s = time.perf_counter() - began_all
    return found


# ------------------------------------------------------------------ measuring

class Rss:
    """The process's resident set, sampled every 10 ms on a thread while a step runs."""

    def __init__(self) -> None:
        self.before = self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: the peak so far is all there is
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> Rss:
        self.before = self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


class Probe:
    """A member sending /points every 50 ms, and a ticker sleeping 5 ms."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.lags: list[float] = []
        self.replies: list[float] = []
        self.silent = 0  # answers without a reply

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags.append(time.perf_counter() - asked - TICK_S)

    async def _talk(self, stop: asyncio.Event) -> None:
        async def one(due: float) -> None:
            answer = await self.engine.handle(PROBE)
            self.replies.append(time.perf_counter() - due)
            self.silent += not answer.replies

        pending: set[asyncio.Task[None]] = set()
        due = time.perf_counter()
        while not stop.is_set():
            task = asyncio.create_task(one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            due += EVERY_S
            await asyncio.sleep(max(due - time.perf_counter(), 0))
        if pending:
            await asyncio.wait(pending)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Probe]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self._tick(stop)), asyncio.create_task(self._talk(stop))]
        await asyncio.sleep(0.2)  # the member is talking before the step starts
        try:
            yield self
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    @property
    def lag_ms(self) -> float:
        return max(self.lags, default=0.0) * 1000

    @property
    def p99_ms(self) -> float:
        found = sorted(self.replies)
        if len(found) > 1:
            return statistics.quantiles(found, n=100)[98] * 1000
        return (found[0] if found else float("inf")) * 1000


@dataclass
class Step:
    name: str
    times: list[float]
    target_s: float | None
    lag_ms: float
    p99_ms: float
    replies: int
    rss_mb: float  # the process's peak while it ran
    rise_mb: float  # ... above where it stood when the step began
    stretch_ms: float = 0.0  # the loop's longest await-free stretch, in CPU time
    stretch_at: str = ""
    traced_mb: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def worst(self) -> float:
        return max(self.times)

    @property
    def aside(self) -> str:
        """The loop, the member and memory during the step, said as it ends, so a run cut
        short still tells them."""
        traced = f", traced {self.traced_mb:.1f} MB" if self.traced_mb is not None else ""
        return (f"[loop lag {self.lag_ms:.0f} ms, stretch {self.stretch_ms:.0f} ms, member "
                f"p99 {self.p99_ms:.0f} ms over {self.replies} replies, RSS peak "
                f"{self.rss_mb:.0f} MB ({self.rise_mb:+.0f}){traced}]")

    @property
    def passed(self) -> bool:
        return ((self.target_s is None or self.worst < self.target_s)
                and self.lag_ms <= TARGET_LAG_MS and self.p99_ms <= TARGET_P99_MS
                and self.replies > 0 and self.rss_mb < TARGET_MB
                and (self.traced_mb is None or self.traced_mb < TARGET_MB))


async def timed(name: str, engine: Any, work: Callable[[], Awaitable[Any]],
                target_s: float | None, repeats: int = 1) -> Step:
    probe = Probe(engine)
    times = []
    with Rss() as rss, Stretches() as stretches:
        async with probe.running():
            for _ in range(repeats):
                began = time.perf_counter()
                await work()
                times.append(time.perf_counter() - began)
    return Step(name, times, target_s, probe.lag_ms, probe.p99_ms, len(probe.replies),
                rss.peak / 2**20, (rss.peak - rss.before) / 2**20,
                stretches.longest * 1000, stretches.where)


async def traced(work: Callable[[], Awaitable[Any]]) -> float:
    """Python's peak allocation while `work` runs, in MB (an untimed run: tracing slows
    Python several times over)."""
    gc.collect()
    tracemalloc.start()
    try:
        await work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def stats_read(db: Database, programme: Programme, period: periods.Period,
                     now: datetime) -> Any:
    """Exactly what /stats reads in its long read (handlers/insight/stats.py), in a
    snapshot as Ctx.read runs it."""
    zone = programme.zone
    today = now.astimezone(zone).date()
    async with db.snapshot() as uow:
        tail = await rollups.tail(uow, zone, await rollups.marks(uow))
        this = await kpis.figures(uow, programme, period, now, tail)
        last = await kpis.figures(uow, programme, period.before(), now, tail)
        return (this, last, await stats_charts.series(uow, period, tail),
                await cohorts.grid(uow, zone, today, tail))


async def stats_answer(engine: Any) -> None:
    """/stats 30d as an operator sends it, through the engine: the read, the figures'
    words and the charts drawn in the drawing process."""
    answer = await engine.handle(OPERATOR, NOW)
    keys = [r.key for r in answer.replies]
    if "stats.figures" not in keys or not all(r.image for r in answer.replies):
        raise RuntimeError(f"/stats 30d answered {keys}")


async def segments_worked_out(db: Database, programme: Programme) -> churn.Report:
    """RFM and churn risk worked out from every member, as the nightly scoring does and
    /segments does for a programme of up to segment_reports.LIVE members."""
    async with db.snapshot() as uow:
        return await churn.report(uow, programme, NOW, top=segments.TOP, savable_only=True,
                                  evaluated=False)


async def segments_read(db: Database, programme: Programme) -> segment_reports.Shown:
    """What /segments reads in its long read (handlers/insight/segments.py): on a large
    programme, the figures the nightly scoring kept."""
    async with db.snapshot() as uow:
        return await segment_reports.shown(uow, programme, NOW, top=segments.TOP)


async def segments_answer(engine: Any) -> None:
    """/segments as an operator sends it, through the engine, with its chart."""
    answer = await engine.handle(SEGMENTS, NOW)
    keys = [r.key for r in answer.replies]
    if keys != ["segments.rfm", "segments.risk"] or answer.replies[0].image is None:
        raise RuntimeError(f"/segments answered {keys}")


async def bare_scan(db: Database) -> float:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        async with db.snapshot() as uow:
            (await uow.execute(text(BASELINE))).one()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def past_readings(db: Database, programme: Programme, days: int = 60) -> None:
    """The standing job ran every day before: its past readings, copies of today's."""
    async with db.uow() as uow:
        rows = (await uow.execute(select(InsightSnapshot))).all()
        today = NOW.astimezone(programme.zone).date()
        await uow.execute(insert(InsightSnapshot), [
            {"day": today - timedelta(days=d), "measure": r.measure, "dimension": r.dimension,
             "value": r.value, "taken_at": r.taken_at - timedelta(days=d)}
            for d in range(1, days + 1) for r in rows])
        await uow.commit()


@dataclass
class Run:
    backend: str
    seeded: dict[str, int]
    seed_s: float
    baseline_s: float
    steps: list[Step]
    agreements: list[Agreement]
    tail: Counter[str]
    start_rss_mb: float

    @property
    def passed(self) -> bool:
        return all(a.agrees for a in self.agreements) and all(s.passed for s in self.steps)


async def measure(db: Database, programme: Programme, shape: Shape, folder: Path,
                  repeats: int = 5, trace: bool = True, tail_minutes: float = 12,
                  apart: bool = True, say: Callable[[str], None] = print) -> Run:
    backend = db.dialect
    began = time.perf_counter()
    seeded = await seed(db, programme, shape, folder, apart)
    seed_s = time.perf_counter() - began
    say(f"  {backend}: seeded in {seed_s:.0f} s: "
        + ", ".join(f"{n:,} {name}" for name, n in seeded.items()))
    async with db.uow() as uow:  # the operator who asks for /stats, there a day already
        await roles.set_owner(uow, programme, f"console:{OPERATOR.user_id}",
                              shape.end - timedelta(days=1))
        await uow.commit()
    engine = build_engine(db, programme)
    for _ in range(5):  # the first answers compile statements and load texts
        answer = await engine.handle(PROBE)
    if not answer.replies:
        raise RuntimeError("the probe member gets no answer to /points")
    baseline = await bare_scan(db)
    threshold = gc.get_threshold()
    freeze_start_up()  # as `memberbot run` does once it serves
    start_rss = Rss.current() / 2**20
    steps: list[Step] = []
    job_at = NOW - timedelta(minutes=10)  # it runs every 10 minutes; this one saw no tail

    step = await timed("roll-ups from scratch (job)", engine,
                       lambda: rollups.run(db, programme, job_at), None)
    async with db.snapshot() as uow:
        rolled = int(await uow.scalar(select(func.count()).select_from(InsightDay)))
    sources = ("ledger_entries", "purchases", "refunds", "redemptions", "checkins", "members",
               "coupons")
    step.note = f"{sum(seeded[n] for n in sources):,} rows in, {rolled:,} day figures out"
    steps.append(step)
    say(f"    {step.name}: {step.median:.1f} s, {rolled:,} day figures {step.aside}")

    kept: list[tuple[int, int]] = []

    async def keep() -> None:
        kept.append((await distinct.keep(db, programme, job_at), await reach.keep(db, job_at)))

    step = await timed("kept figures (job)", engine, keep, None)
    step.note = (f"{kept[0][0]} spans of ended days (the named periods and those before "
                 f"them) and {kept[0][1]} campaigns past their window counted and kept, as "
                 f"the roll-up job does")
    steps.append(step)
    say(f"    {step.name}: {step.median:.1f} s ({step.note}) {step.aside}")

    stand_at = NOW - timedelta(minutes=5)
    step = await timed("standing (job)", engine,
                       lambda: snapshots.take(db, programme, stand_at), TARGET_SCORES_S)
    if trace:
        step.traced_mb = await traced(lambda: snapshots.take(db, programme, stand_at))
    steps.append(step)
    await past_readings(db, programme)
    say(f"    {step.name}: {step.median:.1f} s {step.aside}")

    agreements = [await verify(db, programme, shape, NOW)]
    say(f"    {agreements[0].line()}")

    tail = await add_tail(db, programme, shape, tail_minutes)
    say("    tail: " + ", ".join(f"{n} {kind}s" for kind, n in tail.items()))

    today = NOW.astimezone(programme.zone).date()
    period = periods.named("30d", today)
    assert period is not None
    step = await timed("/stats 30d read", engine,
                       lambda: stats_read(db, programme, period, NOW), TARGET_STATS_S, repeats)
    if trace:
        step.traced_mb = await traced(lambda: stats_read(db, programme, period, NOW))
    steps.append(step)
    say(f"    {step.name}: median {step.median:.2f} s, worst {step.worst:.2f} s {step.aside}")

    began = time.perf_counter()
    await stats_answer(engine)  # the drawing process starts on the first chart
    first_s = time.perf_counter() - began
    step = await timed("/stats 30d answer (engine, charts)", engine,
                       lambda: stats_answer(engine), TARGET_STATS_S, repeats)
    step.note = f"the first answer, starting the drawing process: {first_s:.1f} s"
    steps.append(step)
    say(f"    {step.name}: median {step.median:.2f} s, worst {step.worst:.2f} s "
        f"({step.note}) {step.aside}")

    step = await timed("scores (nightly job)", engine,
                       lambda: scores.run(db, programme, NOW - timedelta(minutes=1)), None)
    if trace:
        step.traced_mb = await traced(lambda: scores.run(db, programme,
                                                         NOW - timedelta(minutes=1)))
    steps.append(step)
    say(f"    {step.name}: {step.median:.1f} s {step.aside}")

    reports: list[churn.Report] = []

    async def work_out() -> None:
        reports.append(await segments_worked_out(db, programme))

    step = await timed("RFM + churn risk worked out (job, small programmes)", engine,
                       work_out, TARGET_SCORES_S)
    if trace:
        step.traced_mb = await traced(work_out)
    step.note = f"{reports[0].rfm.members:,} buyers, {reports[0].risk.at_risk:,} at risk"
    steps.append(step)
    say(f"    {step.name}: {step.median:.1f} s ({step.note}) {step.aside}")

    shown: list[segment_reports.Shown] = []

    async def read() -> None:
        shown.append(await segments_read(db, programme))

    step = await timed("/segments read", engine, read, TARGET_SCORES_S, repeats)
    if trace:
        step.traced_mb = await traced(read)
    got = shown[0].figures
    large = len(reports[0].risk.scores.ids) > segment_reports.LIVE
    if shown[0].kept != large or got is None or got.rfm.members != reports[0].rfm.members:
        raise RuntimeError(f"/segments read {shown[0]}: the figures kept: {large}")
    step.note = (("the figures the scoring kept: " if large else "worked out as it asks: ")
                 + f"{got.rfm.members:,} buyers, {got.risk.at_risk:,} at risk"
                 + (f"; the look back: precision {float(got.evaluation.precision or 0):.2f}"
                    f" recall {float(got.evaluation.recall or 0):.2f}"
                    if got.evaluation else ""))
    steps.append(step)
    say(f"    {step.name}: median {step.median:.3f} s ({step.note}) {step.aside}")

    step = await timed("/segments answer (engine, chart)", engine,
                       lambda: segments_answer(engine), TARGET_SCORES_S, repeats)
    steps.append(step)
    say(f"    {step.name}: median {step.median:.2f} s, worst {step.worst:.2f} s {step.aside}")

    step = await timed("roll-ups of the tail (job)", engine, lambda: rollups.run(
        db, programme, NOW + rollups.SETTLE + timedelta(seconds=1)), None)
    step.note = f"{sum(tail.values())} events"
    steps.append(step)
    agreements.append(await verify(db, programme, shape, NOW))
    say(f"    after the tail's job: {agreements[1].line()}")
    gc.unfreeze()
    gc.set_threshold(*threshold)
    return Run(backend, seeded, seed_s, baseline, steps, agreements, tail, start_rss)


def report(runs: list[Run]) -> str:
    head = ("step", "backend", "median s", "worst s", "target", "x baseline", "loop lag ms",
            "stretch ms", "member p99 ms", "replies", "RSS peak MB (rise)", "traced MB", "pass")
    rows, notes = [], []
    for run in runs:
        periods_s = run.agreements[0].periods_s
        rows += [["baseline: " + BASELINE, run.backend, f"{run.baseline_s:.3f}", "", "", "1.00",
                  *[""] * 7],
                 ["both periods from the raw tables", run.backend, f"{periods_s:.2f}", "", "",
                  f"{periods_s / run.baseline_s:.2f}", *[""] * 7]]
        for s in run.steps:
            rows.append([
                s.name, run.backend, f"{s.median:.2f}", f"{s.worst:.2f}",
                f"< {s.target_s:g} s" if s.target_s else "-",
                f"{s.median / run.baseline_s:.2f}", f"{s.lag_ms:.0f}", f"{s.stretch_ms:.0f}",
                f"{s.p99_ms:.0f}", str(s.replies), f"{s.rss_mb:.0f} ({s.rise_mb:+.0f})",
                f"{s.traced_mb:.1f}" if s.traced_mb is not None else "-",
                "yes" if s.passed else "NO"])
            notes.append(f"  {s.name}, {run.backend}: " + "; ".join(filter(None, (
                s.note, f"longest stretch {s.stretch_ms:.0f} ms, ended at "
                        f"{s.stretch_at or 'the loop (no task of ours)'}"))))
    return (format_table(head, rows, left={0, 1, 4, 12})
            + "\n\nstretch ms: the loop's longest await-free stretch in the loop thread's CPU "
              "time (loop lag also counts time other processes took the core)\n"
            + "\n".join(notes))


# ------------------------------------------------------------------ the command

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.analytics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=0.01,
                   help="share of issue 17's size (1,000,000 members); default 0.01")
    p.add_argument("--repeats", type=int, default=5, help="/stats reads timed (default 5)")
    p.add_argument("--campaign-share", type=float, default=0.25,
                   help="members each of the two campaigns reached (default 0.25; 0: none)")
    p.add_argument("--tail-minutes", type=float, default=12.0,
                   help="minutes of activity after the job's marks (default 12)")
    p.add_argument("--no-trace", action="store_true",
                   help="leave out the tracemalloc runs (they take as long again)")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--pg-url", default=os.environ.get("MEMBERBOT_TEST_DATABASE_URL",
                                                      DEFAULT_PG_URL),
                   help="PostgreSQL URL (default $MEMBERBOT_TEST_DATABASE_URL, else "
                        "%(default)s)")
    args = p.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - set(BACKENDS):
        p.error(f"unknown backend(s): {', '.join(set(args.backends) - set(BACKENDS))}")
    if not 0 < args.scale <= 2 or args.repeats < 1 or not 0 <= args.campaign_share <= 1:
        p.error("--scale from 0 to 2, --repeats 1 or more, --campaign-share from 0 to 1")
    return args


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="memberbot-analytics-") as tmp:
        yield Path(tmp)


async def main_async(args: argparse.Namespace) -> int:
    programme = programme_file.load()
    shape = shape_of(programme, args.scale, args.campaign_share)
    print(f"analytics benchmark: scale {args.scale:g} ({shape.members:,} members), "
          f"history {shape.start:%Y-%m-%d %H:%M} .. {shape.end:%Y-%m-%d %H:%M} UTC; "
          f"load average {load_average()}", flush=True)
    runs = []
    with _folder() as folder:
        for backend in args.backends:
            def say(line: str) -> None:
                print(line, flush=True)

            kwargs = dict(repeats=args.repeats, trace=not args.no_trace,
                          tail_minutes=args.tail_minutes, say=say)
            if backend == "sqlite":
                db = Database.from_url(f"sqlite+aiosqlite:///{folder / 'analytics.db'}")
                try:
                    runs.append(await measure(db, programme, shape, folder, **kwargs))
                finally:
                    await db.dispose()
            else:
                why = await pg_reachable(args.pg_url)
                if why is not None:
                    print(f"  postgresql skipped: not reachable at {args.pg_url} ({why})")
                    continue
                async with pg_database(args.pg_url, pool_size=10) as db:
                    runs.append(await measure(db, programme, shape, folder, **kwargs))
    if runs:
        print()
        print(report(runs))
        for run in runs:
            print(f"{run.backend}: process RSS when the steps began {run.start_rss_mb:.0f} MB; "
                  f"peak over the whole run (ru_maxrss, seeding in a child process) "
                  f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    passed = bool(runs) and all(r.passed for r in runs)
    print(f"\n{'PASS' if passed else 'FAIL'}; load average {load_average()}")
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
