"""Tiers as a specification: the pure decision (`tiers.evaluate`) under each policy,
then the service that reads the qualifying total from the ledger and records history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import config
from domain.config import Tiers
from domain.errors import UnknownTier
from domain.members import members
from domain.points import ledger
from domain.tiers import tiers
from domain.tiers.tiers import Decision, Standing, evaluate, qualified_for

DAY = timedelta(days=1)
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

# A small programme of its own, so these rules do not hang on the example's numbers.
LADDER_TOML = """
name = {{ en = "Test", zh_Hans = "测试" }}
[tiers]
mode = "{mode}"
window_days = 365
validity_days = 100
grace_days = 30
[[tiers.levels]]
code = "bronze"
name = {{ en = "Bronze", zh_Hans = "青铜" }}
threshold = 0
[[tiers.levels]]
code = "silver"
name = {{ en = "Silver", zh_Hans = "白银" }}
threshold = 100
[[tiers.levels]]
code = "gold"
name = {{ en = "Gold", zh_Hans = "黄金" }}
threshold = 1000
[[tiers.levels]]
code = "platinum"
name = {{ en = "Platinum", zh_Hans = "铂金" }}
threshold = 5000
"""


def ladder(mode: str = "up_and_down", **changes) -> Tiers:
    tiers_ = config.parse(LADDER_TOML.format(mode=mode)).tiers
    return tiers_.model_copy(update=changes) if changes else tiers_


ONLY_UP = ladder("only_up")
UP_AND_DOWN = ladder("up_and_down")
VALIDITY = timedelta(days=UP_AND_DOWN.validity_days)
GRACE = timedelta(days=UP_AND_DOWN.grace_days)


def rank(code: str | None) -> int:
    return UP_AND_DOWN.rank(code)


# --- qualified_for --------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "code"), [
    (0, "bronze"), (99, "bronze"), (100, "silver"), (999, "silver"),
    (1000, "gold"), (4999, "gold"), (5000, "platinum"), (10**9, "platinum"),
])
def test_qualified_for_is_the_highest_tier_whose_threshold_is_reached(total, code):
    assert qualified_for(UP_AND_DOWN, total).code == code


def test_qualified_for_uses_the_programme_thresholds(programme):
    assert [qualified_for(programme.tiers, n).code for n in (0, 499, 500, 1999, 2000)] == [
        "member", "member", "silver", "silver", "gold"]


# --- only_up --------------------------------------------------------------------------------


def test_only_up_upgrades_as_soon_as_the_threshold_is_reached():
    decision = evaluate(ONLY_UP, 1200, Standing("bronze"), None, NOW)
    assert decision == Decision("gold", None, "upgrade")
    assert decision.changes


def test_only_up_keeps_a_tier_when_the_total_falls_and_never_expires_it():
    decision = evaluate(ONLY_UP, 0, Standing("gold"), None, NOW + 1000 * DAY)
    assert decision == Decision("gold", None, "kept")
    assert not decision.changes


def test_only_up_from_no_tier_lands_on_what_is_earned():
    assert evaluate(ONLY_UP, 0, Standing(None), None, NOW).code == "bronze"
    assert evaluate(ONLY_UP, 150, Standing(None), None, NOW).code == "silver"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=8000),
                          st.integers(min_value=0, max_value=400)), min_size=1, max_size=30))
def test_only_up_rank_never_decreases_over_any_sequence_of_totals(steps):
    standing, now = Standing("bronze"), NOW
    for total, days in steps:
        now += days * DAY
        decision = evaluate(ONLY_UP, total, standing, None, now)
        assert rank(decision.code) >= rank(standing.code)
        assert rank(decision.code) >= rank(qualified_for(ONLY_UP, total).code)
        assert decision.valid_until is None
        assert decision.changes == (decision.code != standing.code)
        standing = Standing(decision.code, decision.valid_until)


# --- up_and_down ----------------------------------------------------------------------------


def test_up_and_down_upgrade_starts_a_fresh_validity_period():
    decision = evaluate(UP_AND_DOWN, 150, Standing("bronze", NOW + 5 * DAY), None, NOW)
    assert decision == Decision("silver", NOW + VALIDITY, "upgrade")


def test_up_and_down_still_qualifying_renews_the_validity():
    decision = evaluate(UP_AND_DOWN, 150, Standing("silver", NOW + 5 * DAY), None, NOW)
    assert decision == Decision("silver", NOW + VALIDITY, "renewed")
    assert not decision.changes


def test_up_and_down_not_qualifying_keeps_the_tier_until_it_lapses():
    valid_until = NOW + 5 * DAY
    decision = evaluate(UP_AND_DOWN, 0, Standing("gold", valid_until), None, NOW)
    assert decision == Decision("gold", valid_until, "kept")
    assert not decision.changes


def test_up_and_down_after_lapsing_the_tier_is_kept_through_the_grace_period():
    valid_until = NOW - 10 * DAY
    decision = evaluate(UP_AND_DOWN, 0, Standing("gold", valid_until), None, NOW)
    assert decision == Decision("gold", valid_until, "grace")
    assert not decision.changes


@pytest.mark.parametrize(("after_lapse", "code", "reason"), [
    (timedelta(0), "gold", "grace"),                 # the moment it lapses: grace begins
    (GRACE - timedelta(seconds=1), "gold", "grace"),  # last second of grace
    (GRACE, "silver", "downgrade"),                  # grace over: down to what is earned
    (GRACE + 400 * DAY, "silver", "downgrade"),
])
def test_up_and_down_grace_boundaries(after_lapse, code, reason):
    valid_until = NOW
    now = valid_until + after_lapse
    decision = evaluate(UP_AND_DOWN, 150, Standing("gold", valid_until), None, now)
    assert (decision.code, decision.reason) == (code, reason)
    if reason == "downgrade":
        assert decision.valid_until == now + VALIDITY  # the new tier gets its own period
        assert decision.changes


def test_a_downgrade_goes_straight_to_the_earned_tier_skipping_levels():
    decision = evaluate(UP_AND_DOWN, 0, Standing("platinum", NOW - 100 * DAY), None, NOW)
    assert (decision.code, decision.reason) == ("bronze", "downgrade")


def test_without_grace_the_downgrade_comes_the_moment_the_tier_lapses():
    no_grace = ladder(grace_days=0)
    assert evaluate(no_grace, 0, Standing("gold", NOW), None, NOW).code == "bronze"
    assert evaluate(no_grace, 0, Standing("gold", NOW), None, NOW - DAY).code == "gold"


def test_a_lapsed_member_who_qualifies_again_in_grace_is_renewed():
    decision = evaluate(UP_AND_DOWN, 1500, Standing("gold", NOW - 10 * DAY), None, NOW)
    assert decision == Decision("gold", NOW + VALIDITY, "renewed")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=8000),
                          st.integers(min_value=0, max_value=200)), min_size=1, max_size=30))
def test_up_and_down_holds_a_tier_above_qualification_only_within_validity_and_grace(steps):
    standing, now = Standing("bronze", NOW + VALIDITY), NOW
    for total, days in steps:
        now += days * DAY
        decision = evaluate(UP_AND_DOWN, total, standing, None, now)
        earned = qualified_for(UP_AND_DOWN, total).code
        assert rank(decision.code) >= rank(earned)
        if rank(decision.code) > rank(earned):
            assert decision.code == standing.code
            assert now < standing.valid_until + GRACE
        assert decision.valid_until is not None
        standing = Standing(decision.code, decision.valid_until)


# --- the operator's floor -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["only_up", "up_and_down"])
def test_a_floor_lifts_a_member_who_earned_less(mode):
    decision = evaluate(ladder(mode), 0, Standing("bronze", NOW + DAY), "gold", NOW)
    assert decision.code == "gold"
    assert decision.changes


@pytest.mark.parametrize("mode", ["only_up", "up_and_down"])
def test_a_floor_below_what_is_earned_changes_nothing(mode):
    with_floor = evaluate(ladder(mode), 1500, Standing("bronze", NOW + DAY), "silver", NOW)
    without = evaluate(ladder(mode), 1500, Standing("bronze", NOW + DAY), None, NOW)
    assert with_floor == without
    assert with_floor.code == "gold"


def test_a_floor_stops_an_up_and_down_downgrade_at_the_floor():
    decision = evaluate(UP_AND_DOWN, 0, Standing("platinum", NOW - 100 * DAY), "silver", NOW)
    assert decision.code == "silver"
    assert decision.changes


def test_a_floor_equal_to_the_current_tier_keeps_it_past_grace_without_a_change():
    decision = evaluate(UP_AND_DOWN, 0, Standing("silver", NOW - 100 * DAY), "silver", NOW)
    assert (decision.code, decision.reason) == ("silver", "kept")
    assert not decision.changes


@settings(max_examples=200, deadline=None)
@given(mode=st.sampled_from(["only_up", "up_and_down"]),
       total=st.integers(min_value=0, max_value=8000),
       current=st.sampled_from([None, "bronze", "silver", "gold", "platinum"]),
       lapse_days=st.integers(min_value=-200, max_value=200),
       floor=st.sampled_from([None, "bronze", "silver", "gold", "platinum"]))
def test_in_both_modes_the_tier_is_never_below_the_floor_or_the_earned_tier(
        mode, total, current, lapse_days, floor):
    tiers_ = ladder(mode)
    decision = evaluate(tiers_, total, Standing(current, NOW - lapse_days * DAY), floor, NOW)
    assert rank(decision.code) >= rank(floor)
    assert rank(decision.code) >= rank(qualified_for(tiers_, total).code)


# --- the service ----------------------------------------------------------------------------


async def new_member(db, programme, at=NOW) -> int:
    async with db.uow() as uow:
        reg = await members.register(uow, programme, "test", uuid.uuid4().hex, at)
        await uow.commit()
        return reg.member.id


async def earn(db, member_id, at, qualifying=0, spend=0, points=10) -> int:
    async with db.uow() as uow:
        posted = await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=points, kind="earn", reason="purchase",
            key=uuid.uuid4().hex, qualifying=qualifying, spend=spend,
        ), at)
        await uow.commit()
        return posted.entry_id


async def reevaluate(db, tiers_, member_id, at) -> Decision:
    async with db.uow() as uow:
        decision = await tiers.reevaluate(uow, tiers_, member_id, at)
        await uow.commit()
        return decision


async def standing(db, member_id) -> tuple[str | None, datetime | None, str | None]:
    """(tier, tier_valid_until, tier_floor) as stored."""
    async with db.uow() as uow:
        row = await members.get(uow, member_id)
        return row.tier, row.tier_valid_until, row.tier_floor


async def history(db, member_id, limit=10):
    async with db.uow() as uow:
        return [(c.from_tier, c.to_tier, c.reason, c.qualifying, c.created_at)
                for c in await tiers.history(uow, member_id, limit)]


async def test_crossing_a_threshold_upgrades_and_records_the_change(db, programme):
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=600)
    decision = await reevaluate(db, programme.tiers, m, NOW + DAY)
    assert (decision.code, decision.reason) == ("silver", "upgrade")
    assert await standing(db, m) == (
        "silver", NOW + DAY + timedelta(days=programme.tiers.validity_days), None)
    assert await history(db, m) == [("member", "silver", "upgrade", 600, NOW + DAY)]


async def test_a_reevaluation_that_changes_nothing_records_nothing(db, programme):
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=600)
    await reevaluate(db, programme.tiers, m, NOW)
    again = await reevaluate(db, programme.tiers, m, NOW + DAY)
    assert (again.code, again.reason) == ("silver", "renewed")
    assert len(await history(db, m)) == 1


async def test_qualifying_points_outside_the_rolling_window_do_not_count(db, programme):
    window = timedelta(days=programme.tiers.window_days)
    m = await new_member(db, programme, NOW - 2 * window)
    await earn(db, m, NOW - window - DAY, qualifying=2500)  # just outside
    await earn(db, m, NOW - window + DAY, qualifying=300)  # just inside
    await earn(db, m, NOW - DAY, qualifying=250)
    assert (await reevaluate(db, programme.tiers, m, NOW)).code == "silver"
    async with db.uow() as uow:
        progress = await tiers.progress(uow, programme.tiers, await members.get(uow, m), NOW)
    assert progress.total == 550


async def test_spend_basis_counts_the_spend_column_not_qualifying_points(db, programme):
    by_spend = programme.tiers.model_copy(update={"basis": "spend"})
    spender, pointer = await new_member(db, programme), await new_member(db, programme)
    await earn(db, spender, NOW, qualifying=0, spend=2500)
    await earn(db, pointer, NOW, qualifying=2500, spend=0)
    assert (await reevaluate(db, by_spend, spender, NOW)).code == "gold"
    assert (await reevaluate(db, by_spend, pointer, NOW)).code == "member"
    assert (await reevaluate(db, programme.tiers, pointer, NOW)).code == "gold"
    assert await history(db, spender) == [("member", "gold", "upgrade", 2500, NOW)]


async def test_a_lapsed_tier_is_kept_through_grace_then_downgraded_and_recorded(db, programme):
    policy = programme.tiers
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=600)
    await reevaluate(db, policy, m, NOW)
    lapse = NOW + timedelta(days=policy.validity_days)

    in_grace = lapse + DAY  # and the purchase has left the 365-day window
    decision = await reevaluate(db, policy, m, in_grace)
    assert (decision.code, decision.reason) == ("silver", "grace")
    async with db.uow() as uow:
        progress = await tiers.progress(uow, policy, await members.get(uow, m), in_grace)
    assert progress.in_grace and progress.total == 0 and progress.tier.code == "silver"

    after = lapse + timedelta(days=policy.grace_days)
    decision = await reevaluate(db, policy, m, after)
    assert (decision.code, decision.reason) == ("member", "downgrade")
    assert (await standing(db, m))[0] == "member"
    assert await history(db, m) == [("silver", "member", "downgrade", 0, after),
                                    ("member", "silver", "upgrade", 600, NOW)]


async def test_only_up_keeps_the_tier_after_the_points_leave_the_window(db, programme):
    only_up = programme.tiers.model_copy(update={"mode": "only_up"})
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=2000)
    await reevaluate(db, only_up, m, NOW)
    later = NOW + 3 * timedelta(days=only_up.window_days)
    assert (await reevaluate(db, only_up, m, later)).code == "gold"
    assert len(await history(db, m)) == 1


async def test_set_floor_lifts_the_member_at_once_and_records_why(db, programme):
    m = await new_member(db, programme)
    async with db.uow() as uow:
        decision = await tiers.set_floor(uow, programme.tiers, m, "gold", NOW)
        await uow.commit()
    assert (decision.code, decision.reason) == ("gold", "floor")
    assert await standing(db, m) == ("gold", NOW + timedelta(days=programme.tiers.validity_days),
                                     "gold")
    assert await history(db, m) == [("member", "gold", "floor", 0, NOW)]


async def test_a_lifted_floor_leaves_the_tier_to_run_out_its_validity_and_grace(db, programme):
    policy = programme.tiers
    m = await new_member(db, programme)
    async with db.uow() as uow:
        await tiers.set_floor(uow, policy, m, "gold", NOW)
        await uow.commit()
    async with db.uow() as uow:
        lifted = await tiers.set_floor(uow, policy, m, None, NOW + DAY)
        await uow.commit()
    assert (lifted.code, lifted.reason) == ("gold", "kept")
    gone = NOW + timedelta(days=policy.validity_days + policy.grace_days)
    assert (await reevaluate(db, policy, m, gone)).code == "member"


async def test_an_unknown_floor_is_refused_and_changes_nothing(db, programme):
    m = await new_member(db, programme)
    with pytest.raises(UnknownTier):
        async with db.uow() as uow:
            await tiers.set_floor(uow, programme.tiers, m, "diamond", NOW)
            await uow.commit()
    tier, _, floor = await standing(db, m)
    assert (tier, floor) == ("member", None)


async def test_progress_shows_what_is_needed_for_the_next_tier(db, programme):
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=300)
    await reevaluate(db, programme.tiers, m, NOW)
    async with db.uow() as uow:
        p = await tiers.progress(uow, programme.tiers, await members.get(uow, m), NOW)
    assert (p.tier.code, p.total, p.next_tier.code, p.needed, p.percent) == (
        "member", 300, "silver", 200, 60)
    assert not p.in_grace


async def test_progress_at_the_top_tier_needs_nothing_more(db, programme):
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=2500)
    await reevaluate(db, programme.tiers, m, NOW)
    async with db.uow() as uow:
        p = await tiers.progress(uow, programme.tiers, await members.get(uow, m), NOW)
    assert (p.tier.code, p.next_tier, p.needed, p.percent) == ("gold", None, 0, 100)


async def test_history_is_newest_first_and_limited(db, programme):
    m = await new_member(db, programme)
    await earn(db, m, NOW, qualifying=600)
    await reevaluate(db, programme.tiers, m, NOW)
    await earn(db, m, NOW + DAY, qualifying=1500)
    await reevaluate(db, programme.tiers, m, NOW + DAY)
    async with db.uow() as uow:
        await tiers.set_floor(uow, programme.tiers, m, "gold", NOW + 2 * DAY)  # no change
        await uow.commit()
    full = await history(db, m)
    assert [(f, t) for f, t, *_ in full] == [("silver", "gold"), ("member", "silver")]
    assert await history(db, m, limit=1) == full[:1]


async def test_a_reversal_after_its_purchase_left_the_window_leaves_the_lowest_tier(
        db, programme):
    """A refund takes back the purchase's qualifying points. When the purchase has
    already left the window, the sum over the window is negative; the member must
    still have a tier (the lowest), not crash the evaluation."""
    monthly = programme.tiers.model_copy(update={"window_days": 30})
    m = await new_member(db, programme)
    purchase = await earn(db, m, NOW, qualifying=600, points=600)
    await reevaluate(db, monthly, m, NOW)
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(
            member_id=m, delta=-600, kind="reverse", reason="refund", key=f"refund:{purchase}",
            lot_id=purchase, qualifying=-600,
        ), NOW + 35 * DAY)
        await uow.commit()
    decision = await reevaluate(db, monthly, m, NOW + 35 * DAY)
    assert decision.code == "silver"  # still inside validity: kept, not an IndexError
    async with db.uow() as uow:
        p = await tiers.progress(uow, monthly, await members.get(uow, m), NOW + 35 * DAY)
    assert 0 <= p.percent <= 100 and p.needed <= p.next_tier.threshold
    gone = NOW + timedelta(days=monthly.validity_days + monthly.grace_days)
    assert (await reevaluate(db, monthly, m, gone)).code == "member"


@pytest.mark.parametrize("mode", ["only_up", "up_and_down"])
def test_a_floor_that_lifts_the_member_is_recorded_as_floor_in_both_modes(mode):
    now = datetime(2026, 3, 10, tzinfo=UTC)
    decision = evaluate(ladder(mode), 0, Standing("member", now + timedelta(days=10)), "gold", now)
    assert decision.code == "gold" and decision.reason == "floor" and decision.changes
