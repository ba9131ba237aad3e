"""Birthday gifts: points and/or a coupon, with a greeting, once a year.

The gift is due at `send_hour` on the birthday (or `days_before` it) in the member's
own time zone, else the programme's; a 29 February birthday is kept on 28 February in
other years. Each run gives what fell due in the last `catch_up_days`, so runs the
scheduler missed are made up, and the row keyed (member, birthday year) makes a
second run, a double fire or a second scheduler give nothing more.

Selection reads only members whose birthday is near: (birth_month, birth_day) is
indexed, and the window is a handful of days, widened by one on each side because at
any moment the calendar date differs by up to a day across the world's zones. Gifts
are given in short transactions (Database.in_turns), so members are answered meanwhile.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, or_, select, update

from domain.config import Birthday, Programme
from domain.lifecycle.tables import BirthdayGift
from domain.members.tables import Member
from domain.notices import announce
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.rewards import gifts
from domain.storage import turns
from domain.storage.database import Database, UnitOfWork

BATCH = 200


def gift_day(month: int, day: int, year: int) -> date | None:
    """The birthday in `year`; 29 February is kept on the 28th when there is none."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def gift_moment(month: int, day: int, year: int, rules: Birthday,
                zone: ZoneInfo) -> datetime | None:
    """When the gift for the birthday of `year` is due, in UTC."""
    birthday = gift_day(month, day, year)
    if birthday is None:
        return None
    local = datetime.combine(birthday - timedelta(days=rules.days_before),
                             time(rules.send_hour), tzinfo=zone)
    return local.astimezone(UTC)


def due_years(month: int, day: int, rules: Birthday, zone: ZoneInfo,
              now: datetime) -> list[int]:
    """Birthday years whose gift fell due in (now - catch_up_days, now]."""
    since = now - timedelta(days=rules.catch_up_days)
    year = now.astimezone(zone).year
    return [y for y in (year - 1, year, year + 1)
            if (at := gift_moment(month, day, y, rules, zone)) is not None and since < at <= now]


@lru_cache(maxsize=1024)
def zone_of(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def window(rules: Birthday, now: datetime) -> dict[tuple[int, int], set[int]]:
    """(birthday year, month) -> days, covering every birthday that may be due now
    somewhere in the world."""
    first = (now - timedelta(days=rules.catch_up_days)).date() - timedelta(days=1)
    last = now.date() + timedelta(days=1)
    found: dict[tuple[int, int], set[int]] = defaultdict(set)
    day = first
    while day <= last:
        birthday = day + timedelta(days=rules.days_before)
        found[(birthday.year, birthday.month)].add(birthday.day)
        if (birthday.month, birthday.day) == (2, 28) and not calendar.isleap(birthday.year):
            found[(birthday.year, 2)].add(29)
        day += timedelta(days=1)
    return found


def selection(programme: Programme, now: datetime) -> Any:
    """Members who may have a gift due and have not had that year's: the birthday index
    picks them, one branch per (year, month)."""
    rules = programme.birthday
    branches = [
        and_(Member.birth_month == month, Member.birth_day.in_(sorted(days)),
             ~exists().where(BirthdayGift.member_id == Member.id, BirthdayGift.year == year))
        for (year, month), days in sorted(window(rules, now).items())]
    stmt = (select(Member.id, Member.birth_month, Member.birth_day, Member.timezone)
            .where(or_(*branches), Member.status != "erased"))
    if rules.benefit is not None:
        tiers = [t.code for t in programme.tiers.levels if rules.benefit in t.benefits]
        stmt = stmt.where(Member.tier.in_(tiers))
    return stmt


@dataclass(frozen=True)
class Due:
    member_id: int
    year: int


async def due(db: Database, programme: Programme, now: datetime) -> list[Due]:
    out = []
    # A snapshot takes no write lock. Its rows are made as they are iterated, paced, not
    # all at once: the Core path, since the ORM's execute makes every row before it
    # returns (100,000 of them held the loop for 60 ms).
    async with db.snapshot() as snapshot:
        # Any: mypy 1.11 cannot see through a Row's variadic type when paced.
        rows: Iterable[Any] = await snapshot.execute(selection(programme, now))
        async for member_id, month, day, zone in turns.paced(rows):
            for year in due_years(month, day, programme.birthday,
                                  zone_of(zone, programme.timezone), now):
                out.append(Due(member_id, year))
    return out


async def give(uow: UnitOfWork, programme: Programme, gift: Due, now: datetime) -> bool:
    """The gift and its greeting, once per (member, year). False if given before."""
    rules = programme.birthday
    claimed = await uow.session.scalar(
        uow.upsert(BirthdayGift).values(
            member_id=gift.member_id, year=gift.year, points=rules.points, given_at=now)
        .on_conflict_do_nothing(index_elements=["member_id", "year"])
        .returning(BirthdayGift.member_id))
    if claimed is None:
        return False
    key = f"birthday:{gift.member_id}:{gift.year}"
    params: dict[str, Any] = {}
    if rules.points:
        await ledger.post(uow, ledger.Post(
            member_id=gift.member_id, delta=rules.points, kind="earn", reason="birthday",
            key=key, source="birthday", params={"year": gift.year},
            expires_at=expires_at(programme.expiry, programme, now)), now)
        params["points"] = rules.points
    coupon = None
    if rules.reward is not None:
        coupon = await gifts.give_coupon(uow, programme, gift.member_id, rules.reward, now)
    if coupon is not None:
        await uow.session.execute(update(BirthdayGift).where(
            BirthdayGift.member_id == gift.member_id, BirthdayGift.year == gift.year)
            .values(coupon_id=coupon.id))
        params["reward"] = {"$reward": coupon.reward}
    text = ("birthday.greeting_both" if rules.points and coupon is not None else
            "birthday.greeting_coupon" if coupon is not None else
            "birthday.greeting_points" if rules.points else "birthday.greeting")
    await announce.tell(uow, gift.member_id, text, params, key, now)
    return True


async def run(db: Database, programme: Programme, now: datetime,
              batch: int = BATCH) -> dict[str, int]:
    if not programme.birthday.enabled:
        return {"given": 0}
    pending = await due(db, programme, now)
    given = await db.in_turns(pending, lambda uow, gift: give(uow, programme, gift, now),
                              most=batch)
    return {"given": sum(given)}
