"""Daily check-in (签到) as a specification: once per calendar day in the member's
own time zone, streaks and their bonuses, points in the ledger, tiers at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from domain.config import CheckinRules
from domain.errors import AlreadyCheckedIn
from domain.members import members
from domain.points import checkin, ledger
from domain.points.checkin import CheckedIn
from domain.points.expiry import expires_at
from domain.points.tables import Checkin, LedgerEntry
from domain.tiers import tiers

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
DAY = timedelta(days=1)


def at(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    """A wall-clock moment in `zone`, as an aware UTC datetime."""
    return datetime(y, mo, d, h, mi, tzinfo=zone).astimezone(UTC)


async def new_member(db, programme, timezone: str | None = None) -> int:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "test", uuid.uuid4().hex,
                                         datetime(2026, 1, 1, tzinfo=UTC))).member
        member.timezone = timezone
        await uow.commit()
        return member.id


async def check_in(db, programme, member_id, now) -> CheckedIn:
    async with db.uow() as uow:
        result = await checkin.check_in(uow, programme, await members.get(uow, member_id), now)
        await uow.commit()
        return result


async def footprint(db, member_id) -> tuple[int, int, int]:
    """(balance, ledger entries, check-in rows): everything a check-in writes."""
    async with db.uow() as uow:
        rows = await uow.session.scalar(
            select(func.count()).select_from(Checkin).where(Checkin.member_id == member_id))
        return (await ledger.balance_of(uow, member_id), await ledger.count(uow, member_id),
                int(rows or 0))


# --- one per local day ----------------------------------------------------------------------


async def test_a_check_in_pays_the_base_points_into_the_ledger_as_checkin(db, programme):
    m = await new_member(db, programme)
    now = at(SHANGHAI, 2026, 3, 10, 9)
    result = await check_in(db, programme, m, now)
    assert result == CheckedIn(day=date(2026, 3, 10), streak=1, base=5, bonus=0, balance=5,
                               tier_changed=None)
    async with db.uow() as uow:
        [entry] = await ledger.recent(uow, m, 10)
        assert (entry.delta, entry.kind, entry.reason, entry.qualifying, entry.params) == (
            5, "earn", "checkin", 5, {"streak": 1})
        assert entry.expires_at == expires_at(programme.expiry, programme, now)
    assert await footprint(db, m) == (5, 1, 1)


async def test_a_second_check_in_the_same_local_day_is_refused_and_changes_nothing(
        db, programme):
    m = await new_member(db, programme)
    await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 10, 0, 1))
    before = await footprint(db, m)
    with pytest.raises(AlreadyCheckedIn) as refused:
        await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 10, 23, 59))
    assert refused.value.params == {"streak": 1, "next_day": date(2026, 3, 11)}
    assert await footprint(db, m) == before == (5, 1, 1)


async def test_23_59_and_00_01_local_are_two_days_and_a_streak_of_two(db, programme):
    m = await new_member(db, programme)
    first = await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 10, 23, 59))
    second = await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 11, 0, 1))
    assert (first.day, second.day) == (date(2026, 3, 10), date(2026, 3, 11))
    assert second.streak == 2
    assert await footprint(db, m) == (10, 2, 2)


async def test_the_same_instant_is_a_different_day_for_a_member_in_another_zone(
        db, programme):
    instant = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, 20:00 the 9th in LA
    default = await new_member(db, programme)
    angeleno = await new_member(db, programme, "America/Los_Angeles")
    assert (await check_in(db, programme, default, instant)).day == date(2026, 3, 10)
    assert (await check_in(db, programme, angeleno, instant)).day == date(2026, 3, 9)


async def test_local_midnight_in_the_members_zone_not_the_programmes_starts_a_new_day(
        db, programme):
    # 23:59 and 00:01 in Los Angeles are both 9 March afternoon in Shanghai.
    before_midnight = at(LOS_ANGELES, 2026, 3, 9, 23, 59)
    after_midnight = at(LOS_ANGELES, 2026, 3, 10, 0, 1)
    assert before_midnight.astimezone(SHANGHAI).date() == after_midnight.astimezone(
        SHANGHAI).date()

    angeleno = await new_member(db, programme, "America/Los_Angeles")
    await check_in(db, programme, angeleno, before_midnight)
    assert (await check_in(db, programme, angeleno, after_midnight)).streak == 2

    default = await new_member(db, programme)
    await check_in(db, programme, default, before_midnight)
    with pytest.raises(AlreadyCheckedIn):
        await check_in(db, programme, default, after_midnight)


async def test_concurrent_check_ins_the_same_day_pay_once(db, programme):
    """A double tap: whichever loses is refused (or conflicts, and the engine retries
    into a refusal); the points are paid once."""
    m = await new_member(db, programme)
    now = at(SHANGHAI, 2026, 3, 10)

    async def tap() -> bool:
        try:
            await check_in(db, programme, m, now)
            return True
        except (AlreadyCheckedIn, IntegrityError):
            return False

    results = await asyncio.gather(*(tap() for _ in range(5)))
    assert sum(results) == 1
    assert await footprint(db, m) == (5, 1, 1)


# --- streaks and bonuses --------------------------------------------------------------------


async def test_a_streak_grows_on_consecutive_days_and_restarts_after_a_gap(db, programme):
    m = await new_member(db, programme)
    streaks = []
    for day in (1, 2, 3, 5, 6, 9):  # gaps before the 5th and the 9th
        streaks.append((await check_in(db, programme, m, at(SHANGHAI, 2026, 3, day))).streak)
    assert streaks == [1, 2, 3, 1, 2, 1]
    async with db.uow() as uow:
        last = await uow.session.scalar(select(Checkin).where(Checkin.member_id == m)
                                        .order_by(Checkin.day.desc()).limit(1))
        assert (last.day, last.streak) == (date(2026, 3, 9), 1)


async def test_streak_bonuses_at_days_3_and_7_repeat_with_the_cycle(db, programme):
    assert programme.checkin.cycle_days == 7
    m = await new_member(db, programme)
    results = [await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 1) + n * DAY)
               for n in range(10)]
    assert [r.streak for r in results] == list(range(1, 11))
    assert [r.bonus for r in results] == [0, 0, 5, 0, 0, 0, 20, 0, 0, 5]  # day 10 = day 3
    assert all(r.base == 5 for r in results)
    assert results[-1].balance == 10 * 5 + 5 + 20 + 5
    async with db.uow() as uow:
        entries = [(e.delta, e.reason) for e in reversed(await ledger.recent(uow, m, 20))]
    assert entries == [(r.base + r.bonus, "checkin") for r in results]


async def test_without_a_cycle_each_bonus_is_paid_once_per_streak(db, programme):
    once = programme.model_copy(update={
        "checkin": programme.checkin.model_copy(update={"cycle_days": 0})})
    m = await new_member(db, once)
    bonuses = [(await check_in(db, once, m, at(SHANGHAI, 2026, 3, 1) + n * DAY)).bonus
               for n in range(10)]
    assert bonuses == [0, 0, 5, 0, 0, 0, 20, 0, 0, 0]


async def test_a_broken_streak_earns_its_bonuses_again(db, programme):
    m = await new_member(db, programme)
    start = at(SHANGHAI, 2026, 3, 1)
    for n in (0, 1, 2):
        await check_in(db, programme, m, start + n * DAY)
    again = [await check_in(db, programme, m, start + n * DAY) for n in (4, 5, 6)]
    assert [(r.streak, r.bonus) for r in again] == [(1, 0), (2, 0), (3, 5)]


@pytest.mark.parametrize(("streak", "bonus"), [
    (1, 0), (2, 0), (3, 5), (7, 20), (8, 0), (10, 5), (14, 20), (17, 5), (70, 20)])
def test_streak_bonus_with_a_seven_day_cycle(programme, streak, bonus):
    assert checkin.streak_bonus(programme.checkin, streak) == bonus


def test_streak_bonuses_on_the_same_day_add_up():
    rules = CheckinRules.model_validate({"streak_bonuses": [{"days": 3, "points": 5},
                                                            {"days": 3, "points": 2}]})
    assert checkin.streak_bonus(rules, 3) == 7


# --- tiers ----------------------------------------------------------------------------------


async def test_a_check_in_that_crosses_a_threshold_upgrades_the_tier_at_once(db, programme):
    m = await new_member(db, programme)
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=m, delta=495, kind="earn", reason="purchase",
                                           key="buy", qualifying=495),
                          at(SHANGHAI, 2026, 3, 1))
        await uow.commit()
    result = await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 10))
    assert result.tier_changed == "silver"
    assert result.balance == 500
    async with db.uow() as uow:
        assert (await members.get(uow, m)).tier == "silver"
        [change] = await tiers.history(uow, m)
        assert (change.from_tier, change.to_tier, change.reason, change.qualifying) == (
            "member", "silver", "upgrade", 500)


async def test_a_check_in_below_the_threshold_reports_no_tier_change(db, programme):
    m = await new_member(db, programme)
    assert (await check_in(db, programme, m, at(SHANGHAI, 2026, 3, 10))).tier_changed is None
    async with db.uow() as uow:
        assert (await members.get(uow, m)).tier == "member"
        assert await tiers.history(uow, m) == []
        assert await uow.session.scalar(
            select(func.count()).select_from(LedgerEntry)
            .where(LedgerEntry.member_id == m, LedgerEntry.reason == "checkin")) == 1
