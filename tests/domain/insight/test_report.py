"""The weekly report: which week a run reports, the three biggest changes on figures
worked out by hand, who reads it, and one notice per reader a week however often, on
however many schedulers and across however many restarts the job runs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
import time_machine
from sqlalchemy import select, update

from domain.insight import report
from domain.insight.kpis import Figures
from domain.insight.periods import Period
from domain.insight.report import Change, Week
from domain.insight.tables import InsightMemberScore
from domain.members import members
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.staff import roles
from scheduler.registry import JOBS, Job
from tests.scheduler.test_scheduler_service import Running, ask, scheduler, until
from tests.support.lifecycle_helpers import with_

# 09:00 in Shanghai on Monday 16 March 2026 (ISO week 12): the week reported is 9-15.
MONDAY_9 = datetime(2026, 3, 16, 1, 0, tzinfo=UTC)
WEEK = Period(date(2026, 3, 9), date(2026, 3, 15))


def figures(period: Period, days: dict[tuple[str, str], list[int]], **plain: int) -> Figures:
    values = {"active": 0, "buyers": 0, "repeat_buyers": 0, "checkin_members": 0,
              "outstanding": 0} | plain
    return Figures(period, days, standing=None, standing_at=None, **values)


# Last week and this: worked out by hand in test_the_three_biggest_changes_*.
LAST = figures(WEEK.before(), {
    ("sales", "gold"): [1_000_000, 100], ("points.issued", "purchase"): [10_000, 200],
    ("points.redeemed", "ten_off"): [4_100, 40], ("members.joined", ""): [0, 30],
    ("checkins", ""): [50, 50]},
    active=120, buyers=80, repeat_buyers=20, surveys_sent=10, surveys_completed=1, referrals=1)
THIS = figures(WEEK, {
    ("sales", "gold"): [1_050_000, 110], ("points.issued", "purchase"): [10_000, 220],
    ("points.redeemed", "ten_off"): [2_800, 30], ("members.joined", ""): [0, 10],
    ("checkins", ""): [48, 48]},
    active=125, buyers=82, repeat_buyers=21, surveys_sent=10, surveys_completed=5, referrals=3)


@pytest.mark.parametrize(("local", "weekday", "hour", "week"), [
    (datetime(2026, 3, 16, 9, 0), "mon", 9, WEEK),  # on the hour
    (datetime(2026, 3, 16, 8, 59), "mon", 9, WEEK.before()),  # not due yet: last week's
    (datetime(2026, 3, 18, 15, 0), "mon", 9, WEEK),  # made up on Wednesday: the same
    (datetime(2026, 3, 22, 23, 59), "mon", 9, WEEK),
    (datetime(2026, 3, 20, 18, 0), "fri", 18, Period(date(2026, 3, 13), date(2026, 3, 19))),
    (datetime(2026, 3, 20, 17, 0), "fri", 18, Period(date(2026, 3, 6), date(2026, 3, 12))),
])
def test_a_run_reports_the_seven_days_before_the_latest_report_day(programme, local, weekday,
                                                                   hour, week):
    rules = with_(programme, insight={"report_weekday": weekday, "report_hour": hour})
    now = local.replace(tzinfo=programme.zone).astimezone(UTC)
    assert report.week_of(rules, now) == week


def test_a_week_is_named_by_the_iso_week_it_starts_in():
    assert report.label(WEEK) == "2026-W11"
    assert report.label(Period(date(2025, 12, 29), date(2026, 1, 4))) == "2026-W01"
    assert report.notice_key("2026-W11", 7) == "report:2026-W11:7"


def test_the_three_biggest_changes_on_figures_worked_out_by_hand():
    """Each change is |now - was| / max, weighted by min(base, 100) / 100:

    redemption rate 4,100/10,000 -> 2,800/10,000: 13/41 of 41%, base min(200, 220) = 200
        -> 13/41 (0.317)
    new members 30 -> 10: 20/30, base 30 -> 2/3 * 3/10 = 1/5
    points redeemed 4,100 -> 2,800: 13/41, base 40 redemptions -> 26/205 (0.127)
    purchases 100 -> 110: 1/11, under a tenth; revenue 1/21; buyers, repeat rate, active,
    check-ins less still; surveys 1/10 -> 5/10 on 10 sent and referrals 1 -> 3: too few.
    """
    found = report.biggest(THIS, LAST)
    assert [c.code for c in found] == ["redemption_rate", "new", "redeemed"]
    rate, new, redeemed = found
    assert (rate.was, rate.now, rate.base) == (Fraction(41, 100), Fraction(28, 100), 200)
    assert rate.score == Fraction(13, 41) and not rate.rose
    assert (new.was, new.now, new.base, new.score) == (30, 10, 30, Fraction(1, 5))
    assert (redeemed.base, redeemed.score) == (40, Fraction(26, 205))
    # Nothing else passes: asked for more, the same three.
    assert report.biggest(THIS, LAST, top=99) == found


def test_members_by_tier_and_segment_compete_when_both_weeks_were_scored():
    """Gold "at risk" 20 -> 50: 30/50, base 50 -> 3/10, between the redemption rate and
    new members; Gold champions 50 -> 48 moved under a tenth; Silver loyal 5 -> 15 is
    too few."""
    now = {"gold": {"at_risk": 50, "champions": 48}, "silver": {"loyal": 15}}
    was = {"gold": {"at_risk": 20, "champions": 50}, "silver": {"loyal": 5}}
    found = report.biggest(THIS, LAST, now, was)
    assert [c.code for c in found] == ["redemption_rate", "segment", "new"]
    assert found[1] == Change("segment", Fraction(20), Fraction(50), 50, "gold", "at_risk")
    assert found[1].score == Fraction(3, 10) and found[1].rose
    # A week with no scores (the nightly job had not run) compares with nothing.
    assert [c.code for c in report.biggest(THIS, LAST, now, {})] == [
        "redemption_rate", "new", "redeemed"]


def test_ties_go_to_the_larger_base_then_to_the_order_of_the_figures():
    last = figures(WEEK.before(), {("checkins", ""): [0, 200], ("members.joined", ""): [0, 100]},
                   active=100)
    this = figures(WEEK, {("checkins", ""): [0, 100], ("members.joined", ""): [0, 50]},
                   active=50)
    # All three halved; check-ins count 200 but weigh as 100, like the others.
    assert [c.code for c in report.biggest(this, last)] == ["checkins", "new", "active"]


def test_a_negative_week_of_revenue_counts_as_a_whole_change():
    last = figures(WEEK.before(), {("sales", ""): [10_000, 30]})
    this = figures(WEEK, {("sales", ""): [1_000, 30], ("refunds", ""): [5_000, 2]})
    (revenue,) = [c for c in report.biggest(this, last) if c.code == "revenue"]
    assert (revenue.was, revenue.now, revenue.size) == (10_000, -4_000, 1)


def test_the_notice_carries_the_figures_as_json_and_reads_back_alike():
    week = Week("2026-W11", THIS, LAST, {(date(2026, 3, 9), "sales"): [5_000, 2]},
                tuple(report.biggest(THIS, LAST)), {"gold": {"at_risk": 3}})
    params = json.loads(json.dumps(week.params()))
    assert Week.read(params) == week
    assert params["first"] == {"$date": "2026-03-09"} and params["typed"] == \
        "2026-03-09 2026-03-15"


# The job, on a real database


async def staff(db, programme, now: datetime, *held: str | None,
                user: str = "s") -> list[int]:
    """Members holding each role ("owner" made the owner, the others given by member 1),
    all of them asking for the report; their ids."""
    ids = []
    async with db.uow() as uow:
        for n, role in enumerate(held):
            made = await members.register(uow, programme, "console", f"{user}{n}", now)
            ids.append(made.member.id)
            if role == "owner":
                await roles.set_owner(uow, programme, f"console:{user}{n}", now)
            elif role is not None:
                await roles.grant(uow, 1, role, made.member.id, now)
            assert await report.subscribe(uow, made.member.id, now)
        await uow.commit()
    return ids


async def reports(db) -> dict[str, Notice]:
    async with db.uow() as uow:
        rows = list(await uow.session.scalars(select(Notice).where(Notice.key == report.KEY)
                                              .order_by(Notice.id)))
        uow.session.expunge_all()
    return {n.idempotency_key: n for n in rows}


async def test_readers_are_those_who_asked_and_still_may(db, programme, now):
    owner, operator, clerk, moderator, member = await staff(
        db, programme, now, "owner", "operator", "staff", "moderator", None)
    async with db.uow() as uow:
        assert await report.readers(uow) == [owner, operator]
        assert not await report.subscribe(uow, owner, now)  # already
        assert await report.unsubscribe(uow, owner) and not await report.unsubscribe(uow, owner)
        await roles.revoke(uow, owner, "operator", operator, now)
        assert await report.readers(uow) == []
        assert await report.reads(uow, clerk) and not await report.reads(uow, owner)
    assert member and moderator


async def test_run_again_concurrently_or_later_in_the_week_it_reports_once(db, programme,
                                                                           monkeypatch):
    assert await report.run(db, programme, MONDAY_9) == {"readers": 0, "queued": 0}
    owner, operator = await staff(db, programme, MONDAY_9 - timedelta(days=30), "owner",
                                  "operator")
    results = await asyncio.gather(*(report.run(db, programme, MONDAY_9) for _ in range(3)))
    assert sum(r["queued"] for r in results) >= 2 and {r["readers"] for r in results} == {2}
    sent = await reports(db)
    assert sorted(sent) == ["report:2026-W11:1", "report:2026-W11:2"]
    assert {n.member_id for n in sent.values()} == {owner, operator}

    async def never(*args):
        raise AssertionError("worked out again though every reader had it")

    with monkeypatch.context() as patch:
        patch.setattr(report, "compute", never)
        for later in (timedelta(minutes=1), timedelta(days=2), timedelta(days=6, hours=23)):
            assert await report.run(db, programme, MONDAY_9 + later) == {"readers": 2,
                                                                         "queued": 0}
    assert len(await reports(db)) == 2
    # A reader who asks mid-week gets that week's report at the next run; a week on, all.
    (late,) = await staff(db, programme, MONDAY_9, "operator", user="late")
    assert (await report.run(db, programme, MONDAY_9 + timedelta(days=1)))["queued"] == 1
    assert (await report.run(db, programme, MONDAY_9 + timedelta(days=7)))["queued"] == 3
    assert len(await reports(db)) == 6


async def test_the_schedule_a_restart_and_a_second_scheduler_report_once(db, programme):
    """The real job at 09:00 on Monday: its fire, an operator's run request and a stray
    second scheduler at the same moment; then a restart asked to run it again."""
    owner, operator = await staff(db, programme, MONDAY_9 - timedelta(days=30), "owner",
                                  "operator")
    (real,) = [j for j in JOBS if j.name == "report"]
    assert real.trigger(programme).get_next_fire_time(
        None, MONDAY_9 - timedelta(days=1)) == MONDAY_9
    runs: list[dict] = []

    async def counted(db_, programme_, now):
        result = await real.run(db_, programme_, now)
        runs.append(result)
        return result

    job = Job("report", counted, real.trigger, real.grace_seconds)
    with time_machine.travel(MONDAY_9, tick=True):
        async with Running(scheduler(db, programme, job, name="test:1")) as sched:
            sched._aps.modify_job("report", next_run_time=datetime.now(programme.zone))
            await ask(db, "report")
            stray = scheduler(db, programme, job, name="test:2")
            await stray._execute("report", requested=True)
            await until(lambda: _at_least(runs, 3))
        async with Running(scheduler(db, programme, job, name="test:3")):
            await ask(db, "report")
            await until(lambda: _at_least(runs, 4))
    assert runs[-1] == {"readers": 2, "queued": 0}
    assert sorted(n.member_id for n in (await reports(db)).values()) == [owner, operator]


async def _at_least(runs: list, n: int) -> bool:
    return len(runs) >= n


async def test_segments_by_tier_are_kept_and_compared_the_next_week(db, programme):
    joined = MONDAY_9 - timedelta(days=60)
    await staff(db, programme, joined, "owner")
    async with db.uow() as uow:
        ids = [(await members.register(uow, programme, "console", f"m{n}", joined)).member.id
               for n in range(50)]
        await uow.session.execute(update(Member).where(Member.id.in_(ids)).values(tier="gold"))
        await uow.commit()
    await score(db, ids[:20], "at_risk", MONDAY_9)
    await score(db, ids[20:], "champions", MONDAY_9)
    await report.run(db, programme, MONDAY_9)
    first = Week.read((await reports(db))["report:2026-W11:1"].params)
    assert first.segments == {"gold": {"at_risk": 20, "champions": 30}}
    assert all(c.code != "segment" for c in first.changes)  # nothing to compare with
    await score(db, ids[:50], "at_risk", MONDAY_9 + timedelta(days=6))
    await report.run(db, programme, MONDAY_9 + timedelta(days=7))
    second = Week.read((await reports(db))["report:2026-W12:1"].params)
    assert second.segments == {"gold": {"at_risk": 50}}
    # at_risk 20 -> 50: 3/5 * 1/2; champions 30 -> 0: 1 * 3/10.
    assert [(c.segment, c.score) for c in second.changes if c.code == "segment"] == [
        ("at_risk", Fraction(3, 10)), ("champions", Fraction(3, 10))]


async def score(db, ids: list[int], segment: str, at: datetime) -> None:
    async with db.uow() as uow:
        insert = uow.upsert(InsightMemberScore)
        await uow.session.execute(insert.on_conflict_do_update(
            index_elements=["member_id"], set_={"segment": insert.excluded.segment}),
            [{"member_id": m, "segment": segment, "recency": 1, "frequency": 3,
              "monetary": 3, "risk": 60, "scored_at": at} for m in ids])
        await uow.commit()
