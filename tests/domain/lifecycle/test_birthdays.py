"""Birthday gifts: due at send_hour in each member's own zone, 29 February kept on the
28th in other years, missed runs made up within catch_up_days, once per year whatever
runs twice, and the greeting in the member's language."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.config import Birthday
from domain.lifecycle import birthdays
from domain.lifecycle.tables import BirthdayGift
from domain.rewards import rewards
from tests.domain.notices.test_notices import Platform
from tests.support.lifecycle_helpers import a_member, at, count, coupons_of, entries, told, with_

JOINED = datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_29_february_is_kept_on_the_28th_in_other_years():
    assert birthdays.gift_day(2, 29, 2027) == date(2027, 2, 28)
    assert birthdays.gift_day(2, 29, 2028) == date(2028, 2, 29)
    assert birthdays.gift_day(4, 31, 2027) is None  # no such day: nothing is due
    shanghai = ZoneInfo("Asia/Shanghai")
    assert birthdays.gift_moment(2, 29, 2027, Birthday(points=1), shanghai) == utc(
        2027, 2, 28, 1)


def test_due_years_follow_the_members_zone():
    rules = Birthday(points=1)
    la = ZoneInfo("America/Los_Angeles")
    assert birthdays.due_years(3, 10, rules, la, utc(2026, 3, 10, 15, 59)) == []  # 08:59
    assert birthdays.due_years(3, 10, rules, la, utc(2026, 3, 10, 16, 0)) == [2026]
    assert birthdays.due_years(3, 10, Birthday(points=1, catch_up_days=1), la,
                               utc(2026, 3, 12, 0)) == []


async def test_each_member_gets_the_gift_at_nine_in_their_own_zone(db, programme):
    shanghai = await a_member(db, programme, JOINED, "sh", birth_month=3, birth_day=10)
    london = await a_member(db, programme, JOINED, "ldn", birth_month=3, birth_day=10,
                            timezone="Europe/London")
    la = await a_member(db, programme, JOINED, "la", birth_month=3, birth_day=10,
                        timezone="America/Los_Angeles")
    other = await a_member(db, programme, JOINED, "x", birth_month=3, birth_day=11)
    plan = [(utc(2026, 3, 10, 0, 30), set()), (utc(2026, 3, 10, 1, 5), {shanghai}),
            (utc(2026, 3, 10, 9, 5), {shanghai, london}),
            (utc(2026, 3, 10, 16, 5), {shanghai, london, la})]  # 09:05 PDT
    for moment, gifted in plan:
        await at(moment, birthdays.run, db, programme)
        for member_id in (shanghai, london, la, other):
            got = await entries(db, member_id, "birthday")
            assert len(got) == (member_id in gifted), (moment, member_id)
    (entry,) = await entries(db, la, "birthday")
    assert entry.delta == 100 and entry.idempotency_key == f"birthday:{la}:2026"
    assert entry.qualifying == 0  # a gift, not a purchase: it does not count for tiers
    assert [n.key for n in await told(db, la)] == ["birthday.greeting_points"]
    assert await count(db, BirthdayGift) == 3


async def test_29_february_birthdays_on_the_28th_then_on_the_29th(db, programme):
    leap = await a_member(db, programme, JOINED, "leap", birth_month=2, birth_day=29)
    await at(utc(2027, 2, 28, 0, 30), birthdays.run, db, programme)  # 08:30 in Shanghai
    assert await entries(db, leap, "birthday") == []
    await at(utc(2027, 2, 28, 1, 30), birthdays.run, db, programme)
    await at(utc(2027, 3, 1, 1, 30), birthdays.run, db, programme)
    assert [e.idempotency_key for e in await entries(db, leap, "birthday")] == [
        f"birthday:{leap}:2027"]
    await at(utc(2028, 2, 28, 1, 30), birthdays.run, db, programme)  # 2028 has a 29th
    assert len(await entries(db, leap, "birthday")) == 1
    await at(utc(2028, 2, 29, 1, 30), birthdays.run, db, programme)
    assert len(await entries(db, leap, "birthday")) == 2


async def test_missed_runs_are_made_up_within_catch_up_days(db, programme):
    late = await a_member(db, programme, JOINED, "late", birth_month=3, birth_day=10)
    gone = await a_member(db, programme, JOINED, "gone", birth_month=3, birth_day=1)
    result = await at(utc(2026, 3, 14, 3), birthdays.run, db, programme)  # down for days
    assert result == {"given": 1}
    assert len(await entries(db, late, "birthday")) == 1
    assert await entries(db, gone, "birthday") == []  # 13 days late: beyond the 7


async def test_days_before_a_new_year_birthday_counts_for_the_birthdays_year(db, programme):
    early = with_(programme, birthday={"days_before": 5})
    member_id = await a_member(db, programme, JOINED, "jan", birth_month=1, birth_day=2)
    await at(utc(2025, 12, 28, 0, 30), birthdays.run, db, early)
    assert await entries(db, member_id, "birthday") == []
    await at(utc(2025, 12, 28, 1, 30), birthdays.run, db, early)
    await at(utc(2026, 1, 2, 1, 30), birthdays.run, db, early)
    assert [e.idempotency_key for e in await entries(db, member_id, "birthday")] == [
        f"birthday:{member_id}:2026"]


async def test_a_coupon_gift_takes_stock_and_none_is_left_means_points_only(db, programme):
    gift = with_(programme, birthday={"reward": "gaiwan"})
    first = await a_member(db, programme, JOINED, "a", birth_month=3, birth_day=10)
    second = await a_member(db, programme, JOINED, "b", birth_month=3, birth_day=10,
                            timezone="America/Los_Angeles")
    async with db.uow() as uow:
        await rewards.set_stock(uow, gift.reward("gaiwan"), 1, True, utc(2026, 1, 1))
        await uow.commit()
    await at(utc(2026, 3, 10, 2), birthdays.run, db, gift)
    await at(utc(2026, 3, 10, 17), birthdays.run, db, gift)
    assert [c.reward for c in await coupons_of(db, first)] == ["gaiwan"]
    assert await coupons_of(db, second) == []  # the last one went to the first member
    assert [n.key for n in await told(db, first)] == ["birthday.greeting_both"]
    assert [n.key for n in await told(db, second)] == ["birthday.greeting_points"]
    assert (await told(db, first))[0].params["reward"] == {"$reward": "gaiwan"}


async def test_only_tiers_with_the_benefit_and_nobody_erased(db, programme):
    refill = with_(programme, birthday={"benefit": "free_refill"})  # silver and gold only
    plain = await a_member(db, programme, JOINED, "m", birth_month=3, birth_day=10)
    silver = await a_member(db, programme, JOINED, "s", birth_month=3, birth_day=10,
                            tier="silver")
    erased = await a_member(db, programme, JOINED, "e", birth_month=3, birth_day=10,
                            tier="silver", status="erased")
    await at(utc(2026, 3, 10, 2), birthdays.run, db, refill)
    assert [len(await entries(db, m, "birthday")) for m in (plain, silver, erased)] == [0, 1, 0]


async def test_no_gift_configured_means_no_birthday_job(db, programme):
    off = with_(programme, birthday={"points": 0, "reward": None})
    member_id = await a_member(db, programme, JOINED, "m", birth_month=3, birth_day=10)
    assert await at(utc(2026, 3, 10, 2), birthdays.run, db, off) == {"given": 0}
    assert await told(db, member_id) == []


async def test_two_runs_at_once_give_once(db, programme):
    ids = [await a_member(db, programme, JOINED, f"m{i}", birth_month=3, birth_day=10)
           for i in range(5)]
    moment = utc(2026, 3, 10, 2)
    results = await asyncio.gather(*(birthdays.run(db, programme, moment, batch=2)
                                     for _ in range(3)))
    assert sum(r["given"] for r in results) == 5
    for member_id in ids:
        assert len(await entries(db, member_id, "birthday")) == 1
        assert len(await told(db, member_id)) == 1


async def test_the_greeting_reaches_members_in_their_language(db, programme):
    from bot.notifier import Notifier
    zh = await a_member(db, programme, JOINED, "zh", birth_month=3, birth_day=10,
                        locale="zh_Hans")
    en = await a_member(db, programme, JOINED, "en", birth_month=3, birth_day=10, locale="en")
    await at(utc(2026, 3, 10, 2), birthdays.run, db, programme)
    telegram = Platform()
    notifier = Notifier(db, programme, {"telegram": telegram},
                        clock=lambda: utc(2026, 3, 10, 2) + timedelta(seconds=1))
    assert await notifier.run_once() == 2
    texts = dict(telegram.got)
    assert "生日快乐" in texts["zh"] and "100 积分" in texts["zh"]
    assert texts["en"].startswith("Happy birthday!") and "100 points" in texts["en"]
    assert {n.status for m in (zh, en) for n in await told(db, m)} == {"sent"}
