"""Churn risk: the score against the member's own rhythm, in step with lifecycle's
stages; the members at highest risk and the win-back coupons that reached them; and a
look back whose true and false positives are known, counted exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from types import SimpleNamespace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import insert

from domain.config import Lifecycle
from domain.insight import churn, rfm
from domain.insight.churn import AtRisk
from domain.insight.rfm import NEVER
from domain.lifecycle.lifecycle import seconds, stage_of
from domain.lifecycle.tables import WinBackEpisode
from domain.members.tables import Member
from domain.points.tables import Purchase
from domain.rewards.tables import Coupon

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
D = 86_400
RULES = Lifecycle(new_days=30, lapse_multiple=3, lapse_floor_days=30, churn_days=180)
C = 180 * D


@pytest.fixture
def plain(programme):
    return programme.model_copy(update={"lifecycle": RULES})


def score(idle: int, first: int = NEVER, last: int = NEVER, purchases: int = 0) -> int:
    return churn.risk(idle, churn.lapse_point(first, last, purchases, RULES), C)


# --- the score ------------------------------------------------------------------------

def test_without_two_purchases_the_floor_is_the_lapse_point():
    assert [score(d * D) for d in (0, 15, 30)] == [0, 24, 49]
    assert score(30 * D + 1) == 50  # lapsing from the next second
    assert [score(d * D) for d in (105, 179, 180)] == [75, 99, 100]
    assert [score(180 * D + 1), score(900 * D)] == [100, 100]
    assert score(-D) == 0  # activity stamped a little ahead of the clock
    assert score(20 * D, first=0, last=0, purchases=1) == 32


def test_the_members_own_rhythm_moves_the_lapse_point():
    weekly = dict(first=0, last=28 * D, purchases=5)  # every 7 days: 3 x 7 < the floor
    monthly = dict(first=0, last=90 * D, purchases=4)  # every 30 days: lapses after 90
    yearly = dict(first=0, last=730 * D, purchases=3)  # lapses after 1,095: churns first
    assert [score(d * D, **weekly) for d in (20, 40)] == [32, 53]
    assert [score(d * D, **monthly) for d in (20, 45, 90, 100, 135)] == [10, 24, 49, 55, 75]
    assert [score(d * D, **yearly) for d in (179, 180, 181)] == [8, 8, 100]
    assert churn.usual_gap(0, 90 * D, 4) == 30 * D
    assert churn.usual_gap(0, 0, 1) is None and churn.usual_gap(NEVER, NEVER, 0) is None


def near(*days: int):
    """Seconds around some days: the rule's boundaries, to the second."""
    return st.one_of(st.sampled_from([d * D + e for d in days for e in (-1, 0, 1)]),
                     st.integers(min_value=0, max_value=800 * D))


@given(idle=near(30, 90, 180, 270), span=near(0, 20, 30, 60, 90, 180, 400),
       purchases=st.integers(min_value=0, max_value=7))
@example(idle=180 * D, span=400 * D, purchases=2)
@example(idle=90 * D + 1, span=90 * D, purchases=4)
def test_fifty_or_more_exactly_when_lifecycle_finds_them_lapsing_or_churned(
        idle, span, purchases):
    last = NOW - timedelta(seconds=idle)
    member = SimpleNamespace(
        joined_at=NOW - 1000 * DAY, last_active_at=last, purchase_count=purchases,
        first_purchase_at=last - timedelta(seconds=span) if purchases else None,
        last_purchase_at=last if purchases else None)
    at = seconds(last)
    got = score(seconds(NOW) - at, at - span if purchases else NEVER,
                at if purchases else NEVER, purchases)
    assert (got >= 50) == (stage_of(member, RULES, NOW) in ("lapsing", "churned"))
    assert 0 <= got <= 100


@given(st.lists(st.tuples(near(0, 30, 180), near(0, 30, 400), st.integers(0, 7),
                          st.booleans()), max_size=20))
def test_scoring_many_at_once_agrees_with_the_rule(members):
    """churn.scores, the loop at_risk and evaluate run, against risk and lapse_point."""
    now = 10**9
    rows = [(now - idle, now - idle - span if bought else NEVER,
             now - idle if bought else NEVER, n if bought else 0)
            for idle, span, n, bought in members]
    many = churn.scores(now, *zip(*rows, strict=True), RULES) if rows else []
    assert many == [churn.risk(now - a, churn.lapse_point(f, last, n, RULES), C)
                    for a, f, last, n in rows]


async def test_a_threshold_is_a_score(db, plain):
    async with db.snapshot() as snap:
        with pytest.raises(ValueError, match="threshold"):
            await churn.at_risk(snap, plain, NOW, threshold=101)
        with pytest.raises(ValueError, match="threshold"):
            await churn.evaluate(snap, plain, NOW, threshold=-1)


# --- on a database --------------------------------------------------------------------

def member_row(member_id: int, idle_days: int, *, first: int | None = None,
               last: int | None = None, purchases: int = 0, status: str = "active") -> dict:
    """A member last active `idle_days` ago, whose purchases (if any) ran from `first`
    to `last` days ago."""
    return dict(id=member_id, referral_code=f"R{member_id}", joined_at=NOW - 900 * DAY,
                last_active_at=NOW - idle_days * DAY, status=status,
                purchase_count=purchases,
                first_purchase_at=None if first is None else NOW - first * DAY,
                last_purchase_at=None if last is None else NOW - last * DAY)


async def add(db, members: list[dict], purchases: list[dict] = (),
              coupons: list[tuple[int, int, str, bool]] = ()) -> None:
    """`coupons`: (member id, issued days ago, reward, given by win-back)."""
    async with db.uow() as uow:
        await uow.execute(insert(Member.__table__), members)
        if purchases:
            await uow.execute(insert(Purchase.__table__), list(purchases))
        for n, (member_id, days, reward, winback) in enumerate(coupons):
            issued = NOW - days * DAY
            coupon_id = await uow.scalar(insert(Coupon.__table__).values(
                code=f"C{n}", member_id=member_id, reward=reward, kind="coupon",
                issued_at=issued, expires_at=issued + 30 * DAY).returning(Coupon.id))
            if winback:
                await uow.execute(insert(WinBackEpisode.__table__).values(
                    member_id=member_id, idle_since=issued - 40 * DAY, detected_at=issued,
                    coupon_id=coupon_id, coupon_expires_at=issued + 30 * DAY))
        await uow.commit()


async def lapses(db) -> None:
    await add(db, [
        member_row(1, 200),  # never bought: 100
        member_row(2, 40, first=68, last=40, purchases=5),  # weekly: 53
        member_row(3, 100, first=190, last=100, purchases=4),  # monthly: 55
        member_row(4, 45, first=135, last=45, purchases=4),  # monthly: 24
        member_row(5, 20, first=20, last=20, purchases=1),  # once: 32
        member_row(6, 300, status="unreachable"),  # 100
        member_row(7, 500, status="erased"),  # never scored
        member_row(8, 1, first=400, last=300, purchases=2),  # talks, stopped buying: 0
        member_row(9, 60),  # 60
        member_row(10, 180),  # 100 (lapsing by the rule until the next second: >= 50)
    ], coupons=[
        (1, 150, "ten_off", True),  # reached
        (2, 5, "ten_off", True),  # reached
        (3, 150, "ten_off", True),  # before their last purchase: they came back since
        (4, 10, "ten_off", True),  # reached, but not at risk
        (9, 5, "birthday_cake", False),  # not a win-back coupon
    ])
    async with db.uow() as uow:  # a lapse without a coupon (out of stock)
        await uow.execute(insert(WinBackEpisode.__table__).values(
            member_id=6, idle_since=NOW - 300 * DAY, detected_at=NOW - 250 * DAY))
        await uow.commit()


async def test_members_at_highest_risk_and_the_win_back_coupons_that_reached_them(
        db, plain):
    await lapses(db)
    async with db.snapshot() as snap:
        risk = await churn.at_risk(snap, plain, NOW, top=4)
    assert risk.at == NOW and risk.threshold == 50
    assert risk.members == 9  # the erased member aside
    assert risk.at_risk == 6  # 1, 2, 3, 6, 9, 10
    assert risk.reached == 2  # 1 and 2
    assert risk.bands == (1, 0, 1, 1, 0, 2, 1, 0, 0, 0, 3)
    assert risk.top == (
        AtRisk(6, 100, idle_days=300, usual_gap_days=None, reachable=False, winback=False),
        AtRisk(1, 100, idle_days=200, usual_gap_days=None, reachable=True, winback=True),
        AtRisk(10, 100, idle_days=180, usual_gap_days=None, reachable=True, winback=False),
        AtRisk(9, 60, idle_days=60, usual_gap_days=None, reachable=True, winback=False))
    assert list(risk.scores.ids) == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert list(risk.scores.scores) == [100, 53, 55, 24, 32, 100, 0, 60, 100]
    assert await risk.scores.members_at_least(50) == [1, 2, 3, 6, 9, 10]
    assert await risk.scores.members_at_least(100) == [1, 6, 10]

    async with db.snapshot() as snap:
        everyone = await churn.at_risk(snap, plain, NOW, top=20, reachable_only=True)
    assert [a.member_id for a in everyone.top] == [1, 10, 9, 3, 2, 5, 4, 8]
    by_id = {a.member_id: a for a in everyone.top}
    assert by_id[3] == AtRisk(3, 55, 100, 30, True, False)
    assert by_id[2] == AtRisk(2, 53, 40, 7, True, True)
    assert by_id[4] == AtRisk(4, 24, 45, 30, True, True)
    assert (everyone.at_risk, everyone.reached) == (risk.at_risk, risk.reached)

    async with db.snapshot() as snap:
        stricter = await churn.at_risk(snap, plain, NOW, top=0, threshold=100)
    assert (stricter.at_risk, stricter.reached, stricter.top) == (3, 1, ())


async def test_small_windows_read_the_same(db, plain, monkeypatch):
    await lapses(db)
    async with db.snapshot() as snap:
        whole = await churn.at_risk(snap, plain, NOW)
    for name, size in (("MEMBER_WINDOW", 3), ("PURCHASE_WINDOW", 2)):
        monkeypatch.setattr(rfm, name, size)
    monkeypatch.setattr(churn, "EPISODE_WINDOW", 2)
    async with db.snapshot() as snap:
        assert await churn.at_risk(snap, plain, NOW) == whole


# --- looking back ---------------------------------------------------------------------

T = NOW - 180 * DAY  # the look back starts here and ends at NOW


def bought(member_id: int, *days_from_t: float) -> list[dict]:
    """Purchases this many days after T (negative: before it)."""
    return [dict(order_id=f"O{member_id}-{n}", member_id=member_id, amount=1000,
                 currency="CNY", source="api", created_at=T + d * DAY, refunded=0)
            for n, d in enumerate(days_from_t)]


async def history(db) -> None:
    weekly = (-28, -21, -14, -7, 0)
    monthly = (-90, -60, -30, 0)
    await add(db, [member_row(i, 1, status="erased" if i == 8 else "active")
                   for i in range(1, 15)], [
        *bought(1, *(d - 100 for d in weekly)),  # idle 100 on a weekly rhythm: 73; gone
        *bought(2, *(d - 40 for d in weekly), 10),  # 53, yet came back: false alarm
        *bought(3, *(d - 20 for d in monthly)),  # monthly, idle 20: 10; gone, unforeseen
        *bought(4, *(d - 10 for d in monthly), 5),  # 5, came back
        *bought(5, 1),  # first bought after T: not looked at
        *bought(7, -200, 0),  # 100, and bought at T itself: back within the horizon
        *bought(8, -300),  # erased: not looked at
        *bought(9, -5),  # once, idle 5: 8; gone
        *bought(10, -60, 180),  # 60; bought at NOW, which is past the horizon: gone
        *bought(11, -170),  # 96; gone
        *bought(12, *(d - 3 for d in weekly), 7),  # 4, came back
        *bought(13, -400),  # 100; gone
        *bought(14, *(d - 1 for d in monthly)),  # 0; gone
    ])


async def test_the_look_back_counts_what_the_score_foretold(db, plain):
    await history(db)
    async with db.snapshot() as snap:
        found = await churn.evaluate(snap, plain, NOW)
    assert (found.as_of, found.until, found.threshold) == (T, NOW, 50)
    assert found.members == 11  # 6 never bought, 5 first bought after T, 8 is erased
    assert (found.true_positives, found.false_positives, found.false_negatives,
            found.true_negatives) == (4, 2, 3, 2)  # 1 10 11 13 | 2 7 | 3 9 14 | 4 12
    assert (found.flagged, found.churned) == (6, 7)
    assert found.precision == Fraction(2, 3)
    assert found.recall == Fraction(4, 7)

    async with db.snapshot() as snap:
        lower = await churn.evaluate(snap, plain, NOW, threshold=10)  # flags 3 too
    assert (lower.true_positives, lower.false_positives, lower.false_negatives,
            lower.true_negatives) == (5, 2, 2, 2)
    assert lower.precision == lower.recall == Fraction(5, 7)


async def test_a_shorter_horizon_and_a_look_back_with_nobody(db, plain):
    await history(db)
    async with db.snapshot() as snap:
        early = await churn.evaluate(snap, plain, T - 290 * DAY, horizon_days=100)
    # As of T - 390 days only 13 had bought (at T - 400): idle 10 days, 16, not flagged;
    # and nothing bought in the 100 days after.
    assert (early.as_of, early.until) == (T - 390 * DAY, T - 290 * DAY)
    assert (early.members, early.true_positives, early.false_negatives) == (1, 0, 1)
    assert (early.precision, early.recall) == (None, Fraction(0))
    async with db.snapshot() as snap:
        nobody = await churn.evaluate(snap, plain, T - 500 * DAY, horizon_days=10)
    assert nobody.members == 0 and nobody.precision is None and nobody.recall is None


async def test_one_reading_for_everything(db, plain):
    await history(db)
    await add(db, [member_row(20, 90),  # 70, and a win-back coupon since
                   member_row(21, 250, first=300, last=250, purchases=2)],  # 100
              bought(21, -120, -70), coupons=[(20, 30, "ten_off", True)])
    async with db.snapshot() as snap:
        report = await churn.report(snap, plain, NOW, top=5)
        separate = (await rfm.rfm(snap, NOW), await churn.at_risk(snap, plain, NOW, top=5),
                    await churn.evaluate(snap, plain, NOW))
    assert (report.rfm, report.risk, report.evaluation) == separate
    assert (report.risk.at_risk, report.risk.reached) == (2, 1)
    assert report.rfm.members == 1 and report.rfm.revenue == 2000
    async with db.snapshot() as snap:
        alone = await churn.report(snap, plain, NOW, evaluated=False)
        assert alone.evaluation is None and alone.rfm == report.rfm
        with pytest.raises(ValueError, match="look back"):
            await churn.evaluate(snap, plain, NOW, members=await rfm.read(snap))
