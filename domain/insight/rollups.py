"""Daily roll-ups of what is appended: points moved, purchases, refunds, redemptions,
check-ins, joins and coupons issued, by day in the programme's zone.

Each source is an append-only table read in id order from its mark (InsightMark). A
window's figures and the mark's move are one transaction, so a window is counted once
however often, or on however many schedulers at once, the job runs: the mark row is
locked first, and a second runner reads the mark the first one left. `/stats` reads
the roll-ups plus the rows after the marks (`tail`), folded by the same code, so its
figures are current whether the job ran a minute ago or never.

Ids are handed out when a row is inserted, not when its transaction commits, so a
row could commit after a higher id was rolled up. Our transactions last milliseconds:
the job takes only rows older than SETTLE, stopping at the first younger one, and a
row that old has committed or never will.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from domain.config import Programme
from domain.insight import cohorts
from domain.insight.tables import InsightDay, InsightMark, InsightMemberDay
from domain.members.tables import Member
from domain.points.tables import Checkin, LedgerEntry, Purchase, Refund
from domain.rewards.tables import Coupon, Redemption
from domain.storage import turns
from domain.storage.database import Database, UnitOfWork

SETTLE = timedelta(minutes=2)
WINDOW = 1000  # rows the first window of a run rolls up, and a read of the tail takes
LEAST_WINDOW, MOST_WINDOW = 50, 4000

# Where earned points came from, by the ledger's reason code.
SOURCES_OF_POINTS = {
    "purchase": "purchase", "tier_bonus": "purchase", "category_bonus": "purchase",
    "sku_bonus": "purchase", "promotion": "purchase", "first_purchase": "purchase",
    "campaign_bonus": "campaign", "checkin": "checkin", "birthday": "birthday",
    "referral": "referral", "referral_welcome": "referral", "survey_completed": "survey",
    "profile_completed": "profile", "plan_bonus": "purchase", "plan_gift": "membership",
}
POINT_SOURCES = ("purchase", "checkin", "birthday", "referral", "survey", "campaign",
                 "profile", "membership", "operator", "other")


@dataclass
class Tally:
    """Figures folded from rows, before they are written or read beside the tables."""

    days: dict[tuple[date, str, str], list[int]] = field(default_factory=dict)
    members: dict[tuple[date, int], list[int]] = field(default_factory=dict)

    def add(self, day: date, measure: str, amount: int, dimension: str = "") -> None:
        figure = self.days.setdefault((day, measure, dimension), [0, 0])
        figure[0] += amount
        figure[1] += 1

    def did(self, day: date, member_id: int, moves: int = 0, purchases: int = 0,
            checkins: int = 0) -> None:
        done = self.members.setdefault((day, member_id), [0, 0, 0])
        done[0] += moves
        done[1] += purchases
        done[2] += checkins


Fold = Callable[[Any, date, Tally], None]


@dataclass(frozen=True)
class Source:
    name: str
    query: Any  # a Select: the rows after :b_mark, in id order; `id` and `at` first
    fold: Fold


def _points(row: Any, day: date, tally: Tally) -> None:
    kind, delta = row.kind, row.delta
    if delta == 0:  # a refund of spent points takes back only what counted for a tier
        return
    if kind == "earn" or (kind == "adjust" and delta > 0):
        source = "operator" if kind == "adjust" else SOURCES_OF_POINTS.get(row.reason, "other")
        tally.add(day, "points.issued", delta, source)
        tally.did(day, row.member_id, moves=1)
    elif kind == "redeem":
        tally.add(day, "points.redeemed", -delta)
        tally.did(day, row.member_id, moves=1)
    elif kind == "expire":
        tally.add(day, "points.expired", -delta)
    elif kind == "reverse":
        tally.add(day, "points.reversed", -delta)
    else:  # an operator's deduction
        tally.add(day, "points.deducted", -delta)


def _purchase(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "sales", row.amount, row.tier or "")
    tally.did(day, row.member_id, purchases=1)


def _refund(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "refunds", row.amount, row.tier or "")


def _redemption(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "redemptions", row.cost, row.reward)


def _checkin(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "checkins", row.points)
    if row.streak >= 7:
        tally.add(day, "checkins.streak7", row.streak)
    tally.did(day, row.member_id, checkins=1)


def _join(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "members.joined", 0)


def _coupon(row: Any, day: date, tally: Tally) -> None:
    tally.add(day, "coupons.issued", 0, row.kind)


_MARK: Any = bindparam("b_mark")
_L, _P = LedgerEntry, Purchase
SOURCES = (
    Source("ledger", select(_L.id, _L.created_at.label("at"), _L.member_id, _L.delta, _L.kind,
                            _L.reason).where(_L.id > _MARK), _points),
    # The buyer's tier when it is rolled up: minutes after the purchase, as a rule.
    Source("purchases", select(_P.id, _P.created_at.label("at"), _P.member_id, _P.amount,
                               Member.tier).join(Member, Member.id == _P.member_id)
           .where(_P.id > _MARK), _purchase),
    Source("refunds", select(Refund.id, Refund.created_at.label("at"), Refund.amount,
                             Member.tier).join(_P, _P.id == Refund.purchase_id)
           .join(Member, Member.id == _P.member_id).where(Refund.id > _MARK), _refund),
    Source("redemptions", select(Redemption.id, Redemption.created_at.label("at"),
                                 Redemption.reward, Redemption.cost)
           .where(Redemption.id > _MARK), _redemption),
    Source("checkins", select(Checkin.id, Checkin.created_at.label("at"), Checkin.member_id,
                              Checkin.points, Checkin.streak)
           .where(Checkin.id > _MARK), _checkin),
    Source("members", select(Member.id, Member.joined_at.label("at"))
           .where(Member.id > _MARK), _join),
    Source("coupons", select(Coupon.id, Coupon.issued_at.label("at"), Coupon.kind)
           .where(Coupon.id > _MARK), _coupon),
)
NAMES = tuple(s.name for s in SOURCES)


def fold(source: Source, rows: Iterable[Any], zone: ZoneInfo, tally: Tally,
         before: datetime | None = None) -> tuple[int, int]:
    """Fold rows in id order into `tally`, up to the first one at or after `before`:
    how many were folded, and the last id folded (0 when none was)."""
    folded = last = 0
    day_of: dict[tuple[int, int, int, int], date] = {}  # rows come in runs of one hour
    for row in rows:
        at = row.at
        if before is not None and at >= before:
            break
        hour = (at.year, at.month, at.day, at.hour)
        day = day_of.get(hour)
        if day is None:
            day = day_of[hour] = at.astimezone(zone).date()
        source.fold(row, day, tally)
        folded, last = folded + 1, row.id
    return folded, last


async def marks(uow: UnitOfWork) -> dict[str, int]:
    found = dict((await uow.execute(select(InsightMark.source, InsightMark.last_id))).all())
    return {name: int(found.get(name, 0)) for name in NAMES}


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, Any]:
    """The scheduled job: every source rolled up to SETTLE ago, a window a transaction,
    each window sized to take about a slice (domain.storage.turns) by how long the last
    one took: a window writes a row of each member's day and month, each on a page of
    its own, so its cost per row grows with the tables and a fixed size held the loop
    for a hundred milliseconds and more on a large programme."""
    rows = 0
    # On PostgreSQL the loop waits for none of it: only the fold's Python, which a
    # bigger window would lengthen (as Database.in_slices).
    most = MOST_WINDOW if db.dialect == "sqlite" else WINDOW
    share = turns.SQLITE_OFF_LOOP_S if db.dialect == "sqlite" else None
    for source in SOURCES:
        size = WINDOW
        while (done := await _window(db, source, programme.zone, now, size))[0]:
            rows += done[0]
            size = turns.resized(size, done[1], db.dialect, LEAST_WINDOW, most, share)
    return {"rows": rows}


def _after(source: Source, limit: int) -> Any:
    return source.query.order_by(source.query.selected_columns[0]).limit(limit)


async def _window(db: Database, source: Source, zone: ZoneInfo, now: datetime,
                  size: int) -> tuple[int, float]:
    """Rows rolled up, and how long that took once the write lock was held."""
    async with db.window() as uow:
        began = time.perf_counter()
        mark = await _claim(uow, source.name, now)
        found = (await uow.execute(_after(source, size), {"b_mark": mark})).all()
        tally = Tally()
        folded, last = fold(source, found, zone, tally, now - SETTLE)
        if not folded:
            return 0, 0.0
        await write(uow, tally)
        await cohorts.note(uow, zone, tally)
        await uow.execute(InsightMark.__table__.update()
                          .where(InsightMark.source == source.name)
                          .values(last_id=last, updated_at=now))
        await uow.commit()
        return folded, time.perf_counter() - began


async def _claim(uow: UnitOfWork, name: str, now: datetime) -> int:
    """The source's mark, locked until this transaction ends (a first run makes it)."""
    await uow.execute(uow.upsert(InsightMark.__table__).values(
        source=name, last_id=0, updated_at=now).on_conflict_do_nothing(
        index_elements=["source"]))
    stmt = select(InsightMark.last_id).where(InsightMark.source == name)
    if uow.dialect != "sqlite":  # SQLite's one writer is the lock there
        stmt = stmt.with_for_update()
    return int(await uow.scalar(stmt))


async def write(uow: UnitOfWork, tally: Tally) -> None:
    """Add a tally to the tables (each figure to what is there)."""
    if tally.days:
        table = InsightDay.__table__
        insert = uow.upsert(table)
        await uow.execute(insert.on_conflict_do_update(
            index_elements=["day", "measure", "dimension"],
            set_={"amount": table.c.amount + insert.excluded.amount,
                  "number": table.c.number + insert.excluded.number}),
            [{"day": d, "measure": m, "dimension": k, "amount": a, "number": n}
             for (d, m, k), (a, n) in tally.days.items()])
    if tally.members:
        table = InsightMemberDay.__table__
        insert = uow.upsert(table)
        await uow.execute(insert.on_conflict_do_update(
            index_elements=["day", "member_id"],
            set_={"moves": table.c.moves + insert.excluded.moves,
                  "purchases": table.c.purchases + insert.excluded.purchases,
                  "checkins": table.c.checkins + insert.excluded.checkins}),
            [{"day": d, "member_id": m, "moves": a, "purchases": b, "checkins": c}
             for (d, m), (a, b, c) in tally.members.items()])


async def tail(uow: UnitOfWork, zone: ZoneInfo, since: dict[str, int]) -> Tally:
    """What was appended after the marks, folded as the job will fold it: read in
    windows, so a programme whose job never ran is still answered, more slowly."""
    tally = Tally()
    for source in SOURCES:
        mark = since[source.name]
        while found := (await uow.execute(_after(source, WINDOW), {"b_mark": mark})).all():
            mark = fold(source, found, zone, tally)[1]
    return tally


def recount(rows_by_source: dict[str, Iterable[Any]], zone: ZoneInfo) -> Tally:
    """Every source folded from scratch: what the roll-ups must agree with."""
    tally = Tally()
    for source in SOURCES:
        fold(source, rows_by_source[source.name], zone, tally)
    return tally
