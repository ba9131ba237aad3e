"""Seats, joining and removals as a specification: who may sit in a gated chat, who
lapses (warned at once, removed after the gate's grace), who comes back by qualifying
again, and the durable half of a removal that the platform's side carries out.

A tier change re-checks the member's seats in its own transaction through the real
services (tier review, refund, purchase, an operator's floor, an import's batch);
the sweep is the safety net for what changed without one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from domain.community import gates, joining, removals, seats
from domain.community.tables import Seat
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.points import ledger, purchases, refunds
from domain.staff.tables import AuditEntry, StaffRole
from domain.tiers import tier_review, tiers, upgrades
from tests.support.lifecycle_helpers import a_member, at, told, with_

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def plain(programme):
    """No promotions: what an order earns does not hang on the day."""
    return with_(programme, earning={"promotions": ()})


# --- helpers ---------------------------------------------------------------------------------


async def a_gate(db, programme, tier="gold", grace=DAY, chat_id="-100", platform="telegram",
                 on_lapse=None, dry_run=False, title=None) -> int:
    async with db.uow() as uow:
        gate = await gates.open_gate(uow, programme, platform, chat_id, "supergroup",
                                     title or f"{tier} {chat_id}", tier, grace, None, "cli", T0)
        if on_lapse is not None or dry_run:
            await gates.configure(uow, gate, "cli", T0, dry_run=dry_run, on_lapse=on_lapse)
        await uow.commit()
        return gate.id


async def arrive(db, programme, gate_id, user, now=T0, admin=False) -> str:
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        status = await seats.arrived(uow, programme.tiers, gate, user, admin, now)
        await uow.commit()
        return status


async def leave(db, gate_id, user, now) -> None:
    async with db.uow() as uow:
        await seats.departed(uow, await gates.by_id(uow, gate_id), user, now)
        await uow.commit()


@dataclass(frozen=True)
class SeatView:
    status: str
    lapsed_at: datetime | None
    remove_after: datetime | None
    attempts: int
    member_id: int | None
    chat_admin: bool


async def seat_of(db_or_uow, gate_id, user) -> SeatView | None:
    if hasattr(db_or_uow, "session"):
        return await _seat(db_or_uow, gate_id, user)
    async with db_or_uow.uow() as uow:
        return await _seat(uow, gate_id, user)


async def _seat(uow, gate_id, user) -> SeatView | None:
    seat = await uow.session.scalar(select(Seat).where(Seat.gate_id == gate_id,
                                                       Seat.user_id == user))
    if seat is None:
        return None
    await uow.session.refresh(seat)
    return SeatView(seat.status, seat.lapsed_at, seat.remove_after, seat.attempts,
                    seat.member_id, seat.chat_admin)


async def keys(db, member_id) -> list[str]:
    return [n.key for n in await told(db, member_id)]


async def lapse_notices(db_or_uow) -> list[tuple[int, str, dict]]:
    statement = (select(Notice.member_id, Notice.key, Notice.params)
                 .where(Notice.key.like("community.%")).order_by(Notice.id))
    if hasattr(db_or_uow, "session"):
        return [tuple(r) for r in await db_or_uow.session.execute(statement)]
    async with db_or_uow.uow() as uow:
        return [tuple(r) for r in await uow.session.execute(statement)]


async def audit_actions(db) -> list[tuple[str, str, str, dict]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("gate.remove%")).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.target, e.params) for e in rows]


async def set_member(db, member_id, **fields) -> None:
    """Change a member behind the tier service's back, as erasure or a bug would."""
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == member_id).values(**fields))
        await uow.commit()


async def give_role(db, member_id, role="moderator") -> None:
    async with db.uow() as uow:
        uow.session.add(StaffRole(member_id=member_id, role=role, granted_by="cli",
                                  granted_at=T0))
        await uow.commit()


# --- arriving --------------------------------------------------------------------------------


async def test_a_member_below_the_tier_lapses_at_once_and_is_warned(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", grace=3 * DAY, title="Gold lounge")
    silver = await a_member(db, programme, T0, "s", tier="silver")
    assert await arrive(db, programme, gate_id, "s") == "lapsed"
    seat = await seat_of(db, gate_id, "s")
    assert (seat.status, seat.lapsed_at, seat.remove_after, seat.member_id) == (
        "lapsed", T0, T0 + 3 * DAY, silver)
    assert await lapse_notices(db) == [(silver, "community.lapse_until", {
        "chat": "Gold lounge", "tier": {"$tier": "gold"},
        "until": {"$moment": (T0 + 3 * DAY).isoformat()}})]


async def test_with_no_grace_the_warning_says_now_and_removal_is_due_at_once(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", grace=timedelta(0))
    silver = await a_member(db, programme, T0, "s", tier="silver")
    assert await arrive(db, programme, gate_id, "s") == "lapsed"
    assert (await seat_of(db, gate_id, "s")).remove_after == T0
    ((member_id, key, params),) = await lapse_notices(db)
    assert (member_id, key) == (silver, "community.lapse_now")
    assert "until" not in params
    async with db.uow() as uow:
        assert [r.user_id for r in await removals.due(uow, "telegram", T0, 10)] == ["s"]


async def test_a_warn_only_gate_says_they_may_stay(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", on_lapse="warn")
    silver = await a_member(db, programme, T0, "s", tier="silver")
    assert await arrive(db, programme, gate_id, "s") == "lapsed"
    assert [n[:2] for n in await lapse_notices(db)] == [(silver, "community.lapse_kept")]
    async with db.uow() as uow:  # and nobody is ever due for removal
        assert await removals.due(uow, "telegram", T0 + 365 * DAY, 10) == []


@pytest.mark.parametrize(("gate_tier", "member_tier"), [
    ("gold", "gold"), ("silver", "gold"), ("silver", "silver"), ("member", "member"),
    ("member", None)])
async def test_a_member_whose_tier_opens_the_gate_arrives_in(db, programme, gate_tier,
                                                             member_tier):
    gate_id = await a_gate(db, programme, tier=gate_tier)
    member_id = await a_member(db, programme, T0, "m", tier=member_tier)
    assert await arrive(db, programme, gate_id, "m") == "in"
    seat = await seat_of(db, gate_id, "m")
    assert (seat.status, seat.lapsed_at, seat.remove_after, seat.member_id) == (
        "in", None, None, member_id)
    assert await lapse_notices(db) == []


async def test_a_stranger_lapses_without_a_notice(db, programme):
    gate_id = await a_gate(db, programme, tier="member")
    assert await arrive(db, programme, gate_id, "nobody") == "lapsed"
    seat = await seat_of(db, gate_id, "nobody")
    assert (seat.member_id, seat.remove_after) == (None, T0 + DAY)
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Notice)) == 0


async def test_an_account_is_matched_on_the_gates_own_platform(db, programme):
    gate_id = await a_gate(db, programme, tier="member", platform="wechat")
    await a_member(db, programme, T0, "same-id", tier="gold")  # a Telegram account
    assert await arrive(db, programme, gate_id, "same-id") == "lapsed"
    assert (await seat_of(db, gate_id, "same-id")).member_id is None


async def test_an_erased_member_lapses_without_a_notice(db, programme):
    gate_id = await a_gate(db, programme, tier="member")
    member_id = await a_member(db, programme, T0, "e", tier="gold", status="erased")
    assert await arrive(db, programme, gate_id, "e") == "lapsed"
    assert await told(db, member_id) == []


async def test_a_member_who_blocked_the_bot_is_still_a_member_and_keeps_the_seat(db, programme):
    # "unreachable" only stops notices: blocking the bot in private is not losing a tier.
    gate_id = await a_gate(db, programme, tier="gold")
    await a_member(db, programme, T0, "b", tier="gold", status="unreachable")
    assert await arrive(db, programme, gate_id, "b") == "in"
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        verdict = await joining.decide_join(uow, programme.tiers, gate, "b")
        assert verdict.outcome == "approve"
    assert (await seats.sweep(db, programme, T0 + HOUR))["lapsed"] == 0
    assert (await seat_of(db, gate_id, "b")).status == "in"


async def test_chat_admins_never_lapse_until_they_are_demoted(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    low = await a_member(db, programme, T0, "low", tier="member")
    assert await arrive(db, programme, gate_id, "low", admin=True) == "in"
    assert await arrive(db, programme, gate_id, "owner-no-member", admin=True) == "in"
    assert (await seats.sweep(db, programme, T0 + HOUR)) == {"judged": 2, "lapsed": 0}
    assert await lapse_notices(db) == []
    # Demoted: now judged as anyone else, and warned.
    assert await arrive(db, programme, gate_id, "low", T0 + 2 * HOUR, admin=False) == "lapsed"
    seat = await seat_of(db, gate_id, "low")
    assert (seat.chat_admin, seat.remove_after) == (False, T0 + 2 * HOUR + DAY)
    assert [n[:2] for n in await lapse_notices(db)] == [(low, "community.lapse_until")]
    # Promoted again before the grace is over: in, nothing due.
    assert await arrive(db, programme, gate_id, "low", T0 + 3 * HOUR, admin=True) == "in"
    seat = await seat_of(db, gate_id, "low")
    assert (seat.status, seat.lapsed_at, seat.remove_after) == ("in", None, None)


@pytest.mark.parametrize("role", ["owner", "admin", "operator", "staff", "moderator"])
async def test_staff_never_lapse_whatever_their_tier(db, programme, role):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "staff", tier="member")
    await give_role(db, member_id, role)
    assert await arrive(db, programme, gate_id, "staff") == "in"
    assert await seats.sweep(db, programme, T0 + HOUR) == {"judged": 1, "lapsed": 0}
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        assert (await joining.decide_join(uow, programme.tiers, gate, "staff")).outcome == \
            "approve"


async def test_arriving_again_while_lapsed_keeps_the_clock_and_warns_once(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "s")
    # A chat_member update for the same person an hour later (a title, a demotion).
    assert await arrive(db, programme, gate_id, "s", T0 + HOUR) == "lapsed"
    seat = await seat_of(db, gate_id, "s")
    assert (seat.lapsed_at, seat.remove_after) == (T0, T0 + DAY)
    assert len(await lapse_notices(db)) == 1


async def test_departing_leaves_the_seat_and_a_removal_we_made_stays_ours(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    await a_member(db, programme, T0, "g", tier="gold")
    await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "g")
    await arrive(db, programme, gate_id, "s")
    await leave(db, gate_id, "g", T0 + HOUR)
    await leave(db, gate_id, "s", T0 + HOUR)
    seat = await seat_of(db, gate_id, "g")
    assert (seat.status, seat.lapsed_at, seat.remove_after) == ("left", None, None)
    # Who left while lapsed keeps when the lapse began: coming back gives no new grace.
    seat = await seat_of(db, gate_id, "s")
    assert (seat.status, seat.lapsed_at, seat.remove_after) == ("left", T0, None)
    async with db.uow() as uow:  # a lapsed seat that left is not due for removal
        assert await removals.due(uow, "telegram", T0 + 2 * DAY, 10) == []
    await leave(db, gate_id, "never-seen", T0 + HOUR)  # nothing to record, no error
    assert await seat_of(db, gate_id, "never-seen") is None
    # Taken out by us: the chat_member update that follows keeps it "removed".
    await arrive(db, programme, gate_id, "s", T0 + 2 * HOUR)
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + 2 * DAY, 10)
        assert await removals.removed(uow, removal, T0 + 2 * DAY)
        await uow.commit()
    await leave(db, gate_id, "s", T0 + 2 * DAY)
    assert (await seat_of(db, gate_id, "s")).status == "removed"


async def test_coming_back_after_leaving_while_lapsed_is_due_at_once(db, programme):
    """One grace per lapse, counted from when they stopped qualifying: leaving and coming
    back (an old link, a friend's re-add) neither restarts the grace nor warns again."""
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "s")
    assert len(await lapse_notices(db)) == 1
    await leave(db, gate_id, "s", T0 + HOUR)
    assert await arrive(db, programme, gate_id, "s", T0 + 2 * DAY) == "lapsed"
    seat = await seat_of(db, gate_id, "s")
    assert (seat.lapsed_at, seat.remove_after) == (T0, T0 + DAY)
    assert await due_users(db, T0 + 2 * DAY) == ["s"]  # the grace was over long ago
    assert len(await lapse_notices(db)) == 1  # no second warning
    # Who qualifies by the time they come back is let in, and that lapse ends.
    await set_member(db, member_id, tier="gold")
    await leave(db, gate_id, "s", T0 + 3 * DAY)
    assert await arrive(db, programme, gate_id, "s", T0 + 4 * DAY) == "in"
    seat = await seat_of(db, gate_id, "s")
    assert (seat.lapsed_at, seat.remove_after) == (None, None)


# --- a tier change re-checks at once, in its own transaction --------------------------------


async def test_a_tier_review_downgrade_lapses_the_seat_in_the_same_run(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", grace=2 * DAY)
    member_id = await a_member(db, programme, T0 - 400 * DAY, "g", tier="gold",
                               tier_valid_until=T0)
    await arrive(db, programme, gate_id, "g", T0 - DAY)
    await at(T0 + DAY, tier_review.run, db, programme)  # in the tier's grace: still gold
    assert (await seat_of(db, gate_id, "g")).status == "in"
    moment = T0 + 31 * DAY
    assert (await at(moment, tier_review.run, db, programme))["downgraded"] == 1
    seat = await seat_of(db, gate_id, "g")
    assert (seat.status, seat.lapsed_at, seat.remove_after) == ("lapsed", moment,
                                                              moment + 2 * DAY)
    assert sorted(await keys(db, member_id)) == ["community.lapse_until", "tier.review_down",
                                                 "tier.review_grace"]


async def test_reevaluate_lapses_the_seat_in_its_transaction_and_a_rollback_undoes_both(
        db, programme):
    gate_id = await a_gate(db, programme, tier="silver")
    member_id = await a_member(db, programme, T0 - 500 * DAY, "g", tier="gold",
                               tier_valid_until=T0 - 40 * DAY)
    await arrive(db, programme, gate_id, "g", T0 - 50 * DAY)
    async with db.uow() as uow:
        decision = await tiers.reevaluate(uow, programme.tiers, member_id, T0)
        assert (decision.code, decision.reason) == ("member", "downgrade")
        assert (await seat_of(uow, gate_id, "g")).status == "lapsed"
        assert [n[1] for n in await lapse_notices(uow)] == ["community.lapse_until"]
        # no commit: the tier change and the lapse go together
    assert (await seat_of(db, gate_id, "g")).status == "in"
    assert await lapse_notices(db) == []
    async with db.uow() as uow:
        await tiers.reevaluate(uow, programme.tiers, member_id, T0)
        await uow.commit()
    assert (await seat_of(db, gate_id, "g")).status == "lapsed"


async def test_a_reevaluation_that_keeps_the_tier_touches_no_seat(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver",
                               tier_valid_until=T0 + 100 * DAY)
    await arrive(db, programme, gate_id, "s")
    async with db.uow() as uow:  # lapsed by hand to "in": only a change re-judges it
        await uow.session.execute(update(Seat).values(status="in", lapsed_at=None,
                                                      remove_after=None))
        await uow.commit()
    async with db.uow() as uow:
        assert (await tiers.reevaluate(uow, programme.tiers, member_id, T0 + HOUR)).code == \
            "silver"
        await uow.commit()
    assert (await seat_of(db, gate_id, "s")).status == "in"


async def test_a_refund_that_drops_the_tier_lapses_the_seat(db, programme):
    shop = plain(programme)
    gate_id = await a_gate(db, programme, tier="silver")
    member_id = await a_member(db, programme, T0 - 500 * DAY, "g")
    async with db.uow() as uow:  # long ago, gold for a year from then
        done = await purchases.record(uow, shop, member_id,
                                      purchases.Order("O-1", 300_000, "CNY"), T0 - 400 * DAY)
        assert done.tier == "gold"
        await uow.commit()
    await arrive(db, programme, gate_id, "g", T0 - 60 * DAY)
    assert (await seat_of(db, gate_id, "g")).status == "in"
    async with db.uow() as uow:  # the year and its grace are over: the refund drops gold
        await refunds.refund(uow, shop, "O-1", None, None, T0)
        assert (await seat_of(uow, gate_id, "g")).status == "lapsed"
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.session.get(Member, member_id)).tier == "member"
    assert [n[:2] for n in await lapse_notices(db)] == [(member_id, "community.lapse_until")]


async def test_a_purchase_that_upgrades_restores_a_lapsed_seat_before_removal(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver",
                               tier_valid_until=T0 + 100 * DAY)
    await arrive(db, programme, gate_id, "s")
    async with db.uow() as uow:
        done = await purchases.record(uow, plain(programme), member_id,
                                      purchases.Order("O-1", 300_000, "CNY"), T0 + HOUR)
        assert (done.tier, done.upgraded) == ("gold", True)
        await uow.commit()
    seat = await seat_of(db, gate_id, "s")
    assert (seat.status, seat.lapsed_at, seat.remove_after, seat.attempts) == (
        "in", None, None, 0)
    async with db.uow() as uow:
        assert await removals.due(uow, "telegram", T0 + 2 * DAY, 10) == []


async def test_a_purchase_too_small_for_a_lapsed_tier_downgrades_and_lapses(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0 - 500 * DAY, "g", tier="gold",
                               tier_valid_until=T0 - 40 * DAY)
    await arrive(db, programme, gate_id, "g", T0 - 50 * DAY)
    async with db.uow() as uow:  # upgrades.apply, the purchase's own path
        done = await purchases.record(uow, plain(programme), member_id,
                                      purchases.Order("O-1", 1_000, "CNY"), T0)
        assert done.tier == "member"
        await uow.commit()
    assert (await seat_of(db, gate_id, "g")).status == "lapsed"


async def test_an_operator_floor_restores_and_its_removal_lapses(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "m", tier="member")
    await arrive(db, programme, gate_id, "m")
    async with db.uow() as uow:
        assert (await tiers.set_floor(uow, programme.tiers, member_id, "gold", T0 + HOUR)
                ).code == "gold"
        await uow.commit()
    assert (await seat_of(db, gate_id, "m")).status == "in"
    await set_member(db, member_id, tier_valid_until=T0 - 40 * DAY)  # gold's time is over
    async with db.uow() as uow:
        assert (await tiers.set_floor(uow, programme.tiers, member_id, None, T0 + 2 * HOUR)
                ).code == "member"
        await uow.commit()
    seat = await seat_of(db, gate_id, "m")
    assert (seat.status, seat.lapsed_at) == ("lapsed", T0 + 2 * HOUR)


async def test_reevaluate_many_rechecks_every_member_that_moved(db, programme):
    silver_gate = await a_gate(db, programme, tier="silver")
    rising = await a_member(db, programme, T0, "up", tier="member",
                            tier_valid_until=T0 + 100 * DAY)
    falling = await a_member(db, programme, T0 - 500 * DAY, "down", tier="gold",
                             tier_valid_until=T0 - 40 * DAY)
    steady = await a_member(db, programme, T0, "steady", tier="silver",
                            tier_valid_until=T0 + 100 * DAY)
    for user in ("up", "down", "steady"):
        await arrive(db, programme, silver_gate, user, T0 - 50 * DAY)
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=rising, delta=600, kind="earn",
                                           reason="import", key="imp:1", qualifying=600), T0)
        await upgrades.reevaluate_many(uow, programme, {rising, falling, steady}, T0)
        await uow.commit()
    assert [(await seat_of(db, silver_gate, u)).status for u in ("up", "down", "steady")] == [
        "in", "lapsed", "in"]
    assert [n[:2] for n in await lapse_notices(db)] == [
        (rising, "community.lapse_until"), (falling, "community.lapse_until")]  # up: at arrival


# --- the sweep -------------------------------------------------------------------------------


async def crowd(db, programme) -> dict[str, int]:
    """Two gates, six people; returns member ids by name (and the gate ids)."""
    ids = {"gold_gate": await a_gate(db, programme, tier="gold", chat_id="-1"),
           "silver_gate": await a_gate(db, programme, tier="silver", chat_id="-2")}
    for user, tier in (("a", "gold"), ("b", "gold"), ("c", "silver"), ("d", "member"),
                       ("e", "member")):
        ids[user] = await a_member(db, programme, T0, user, tier=tier,
                                   tier_valid_until=T0 + 100 * DAY)
    await give_role(db, ids["e"])
    for user in ("a", "b", "c", "d", "e", "x"):  # x: no member at all
        await arrive(db, programme, ids["gold_gate"], user)
    for user in ("a", "c", "d"):
        await arrive(db, programme, ids["silver_gate"], user)
    await arrive(db, programme, ids["silver_gate"], "gone")
    await leave(db, ids["silver_gate"], "gone", T0)
    return ids


async def statuses(db, gate_id) -> dict[str, str]:
    async with db.uow() as uow:
        return dict((await uow.session.execute(select(Seat.user_id, Seat.status).where(
            Seat.gate_id == gate_id))).all())


@pytest.mark.parametrize("page", [1, 2, 3, 500])
async def test_sweep_judges_every_present_seat_page_by_page(db, programme, page):
    ids = await crowd(db, programme)
    assert await statuses(db, ids["gold_gate"]) == {
        "a": "in", "b": "in", "c": "lapsed", "d": "lapsed", "e": "in", "x": "lapsed"}
    before = len(await lapse_notices(db))
    # What changed without a tier change: b dropped by hand, c raised by hand, e's role
    # revoked, a erased.
    await set_member(db, ids["b"], tier="member")
    await set_member(db, ids["c"], tier="gold")
    await set_member(db, ids["a"], status="erased")
    async with db.uow() as uow:
        await uow.session.execute(StaffRole.__table__.delete())
        await uow.commit()
    later = T0 + HOUR
    result = await seats.sweep(db, programme, later, page=page)
    # Present: six in the gold gate and three in the silver one; "gone" left.
    assert result == {"judged": 9, "lapsed": 4}  # a twice, b and e; c came back
    assert await statuses(db, ids["gold_gate"]) == {
        "a": "lapsed", "b": "lapsed", "c": "in", "d": "lapsed", "e": "lapsed", "x": "lapsed"}
    assert await statuses(db, ids["silver_gate"]) == {
        "a": "lapsed", "c": "in", "d": "lapsed", "gone": "left"}
    new = (await lapse_notices(db))[before:]
    assert sorted(n[0] for n in new) == sorted([ids["b"], ids["e"]])  # a is erased: no notice
    seat = await seat_of(db, ids["gold_gate"], "b")
    assert (seat.lapsed_at, seat.remove_after) == (later, later + DAY)
    # The next run finds nothing new and tells nobody twice.
    assert await seats.sweep(db, programme, later + HOUR, page=page) == {"judged": 9,
                                                                        "lapsed": 0}
    assert len(await lapse_notices(db)) == before + 2
    assert (await seat_of(db, ids["gold_gate"], "b")).remove_after == later + DAY


async def test_sweep_of_nothing_is_nothing(db, programme):
    assert await seats.sweep(db, programme, T0) == {"judged": 0, "lapsed": 0}
    await a_gate(db, programme)
    assert await seats.sweep(db, programme, T0, page=1) == {"judged": 0, "lapsed": 0}


async def test_a_raised_gate_tier_lapses_its_seats_at_the_next_sweep(db, programme):
    gate_id = await a_gate(db, programme, tier="silver")
    await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "s")
    await a_gate(db, programme, tier="gold")  # the same chat, gated higher
    assert (await seat_of(db, gate_id, "s")).status == "in"
    assert (await seats.sweep(db, programme, T0 + HOUR, page=1))["lapsed"] == 1
    assert (await seat_of(db, gate_id, "s")).status == "lapsed"


# --- joining ---------------------------------------------------------------------------------


async def verdict(db, programme, gate_id, user):
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        found = await joining.decide_join(uow, programme.tiers, gate, user)
        return found.outcome, found.member.id if found.member else None


async def test_decide_join_approves_declines_and_knows_strangers(db, programme):
    gold_gate = await a_gate(db, programme, tier="gold", chat_id="-1")
    silver_gate = await a_gate(db, programme, tier="silver", chat_id="-2")
    gold = await a_member(db, programme, T0, "g", tier="gold")
    silver = await a_member(db, programme, T0, "s", tier="silver")
    await a_member(db, programme, T0, "e", tier="gold", status="erased")
    assert await verdict(db, programme, gold_gate, "g") == ("approve", gold)
    assert await verdict(db, programme, silver_gate, "g") == ("approve", gold)
    assert await verdict(db, programme, silver_gate, "s") == ("approve", silver)
    assert await verdict(db, programme, gold_gate, "s") == ("decline", silver)
    assert await verdict(db, programme, gold_gate, "nobody") == ("stranger", None)
    assert await verdict(db, programme, gold_gate, "e") == ("stranger", None)


async def test_staff_are_approved_whatever_their_tier(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "m", tier="member")
    assert await verdict(db, programme, gate_id, "m") == ("decline", member_id)
    await give_role(db, member_id, "staff")
    assert await verdict(db, programme, gate_id, "m") == ("approve", member_id)


async def test_an_admitted_requester_is_seated_in_even_after_a_removal(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "s")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
        assert await removals.removed(uow, removal, T0 + DAY)
        await uow.commit()
    await set_member(db, member_id, tier="gold")  # qualifies again, asks to rejoin
    assert await verdict(db, programme, gate_id, "s") == ("approve", member_id)
    async with db.uow() as uow:
        await joining.admitted(uow, await gates.by_id(uow, gate_id), "s", member_id,
                               T0 + 2 * DAY)
        await uow.commit()
    seat = await seat_of(db, gate_id, "s")
    assert (seat.status, seat.member_id, seat.lapsed_at, seat.remove_after, seat.attempts) == (
        "in", member_id, None, None, 0)
    assert await arrive(db, programme, gate_id, "s", T0 + 2 * DAY) == "in"  # the join itself


# --- removals --------------------------------------------------------------------------------


async def due_users(db, now, platform="telegram", limit=10) -> list[str]:
    async with db.uow() as uow:
        return [r.user_id for r in await removals.due(uow, platform, now, limit)]


async def test_due_lists_lapsed_seats_past_grace_on_gates_that_remove(db, programme):
    removing = await a_gate(db, programme, tier="gold", chat_id="-1", grace=DAY)
    longer = await a_gate(db, programme, tier="gold", chat_id="-2", grace=3 * DAY)
    warning = await a_gate(db, programme, tier="gold", chat_id="-3", on_lapse="warn")
    dry = await a_gate(db, programme, tier="gold", chat_id="-4", dry_run=True)
    elsewhere = await a_gate(db, programme, tier="gold", chat_id="-5", platform="wechat")
    await a_member(db, programme, T0, "g", tier="gold")
    await arrive(db, programme, removing, "g")  # in: never due
    await arrive(db, programme, removing, "late", T0 + HOUR)
    await arrive(db, programme, removing, "early")
    await arrive(db, programme, longer, "slow")
    for gate_id in (warning, dry, elsewhere):
        await arrive(db, programme, gate_id, "early")
    assert await due_users(db, T0 + DAY - MINUTE) == []
    assert await due_users(db, T0 + DAY) == ["early"]  # the grace ends: due that moment
    assert await due_users(db, T0 + DAY + HOUR) == ["early", "late"]  # first due first
    assert await due_users(db, T0 + DAY + HOUR, limit=1) == ["early"]
    assert await due_users(db, T0 + 3 * DAY) == ["early", "late", "slow"]
    assert await due_users(db, T0 + 3 * DAY, platform="wechat") == ["early"]
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
    assert (removal.gate_id, removal.chat_id, removal.user_id, removal.title,
            removal.platform) == (removing, "-1", "early", "gold -1", "telegram")
    async with db.uow() as uow:  # the dry run ends: its lapsed are judged afresh, so
        await gates.configure(uow, await gates.by_id(uow, dry), "cli", T0, dry_run=False)
        await uow.commit()
    assert await due_users(db, T0 + DAY) == ["early"]  # nobody is removed unwarned
    assert await seats.sweep(db, programme, T0 + DAY) == {"judged": 7, "lapsed": 1}
    assert await due_users(db, T0 + 2 * DAY) == ["early", "late", "early"]  # a full grace


async def test_a_dry_run_warns_nobody(db, programme):
    dry = await a_gate(db, programme, tier="gold", chat_id="-4", dry_run=True)
    member_id = await a_member(db, programme, T0, "b", tier="bronze")
    await arrive(db, programme, dry, "b")
    assert (await seat_of(db, dry, "b")).status == "lapsed"  # /gates reports them
    assert await keys(db, member_id) == []


async def test_removed_records_the_removal_once_and_audits_it(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", title="Gold lounge")
    await arrive(db, programme, gate_id, "x")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
        assert await removals.removed(uow, removal, T0 + DAY) is True
        await uow.commit()
    seat = await seat_of(db, gate_id, "x")
    assert (seat.status, seat.remove_after) == ("removed", None)
    async with db.uow() as uow:  # the same removal reported twice: once is recorded
        assert await removals.removed(uow, removal, T0 + DAY + MINUTE) is False
        await uow.commit()
    assert await audit_actions(db) == [("community", "gate.remove", "chat:telegram:-100",
                                        {"user": "x", "title": "Gold lounge"})]
    assert await due_users(db, T0 + 10 * DAY) == []


async def test_removed_is_false_when_the_seat_requalified_meanwhile(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver",
                               tier_valid_until=T0 + 100 * DAY)
    await arrive(db, programme, gate_id, "s")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
    async with db.uow() as uow:  # while the platform call is under way, a purchase
        await purchases.record(uow, plain(programme), member_id,
                               purchases.Order("O-1", 300_000, "CNY"), T0 + DAY)
        await uow.commit()
    async with db.uow() as uow:
        assert await removals.removed(uow, removal, T0 + DAY + MINUTE) is False
        await uow.commit()
    assert (await seat_of(db, gate_id, "s")).status == "in"
    assert await audit_actions(db) == []


async def test_postpone_tries_later_then_gives_up_with_an_audit_entry(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    await arrive(db, programme, gate_id, "x")
    now = T0 + DAY
    for attempt in range(1, removals.GIVE_UP_AFTER):
        async with db.uow() as uow:
            (removal,) = await removals.due(uow, "telegram", now, 10)
            await removals.postpone(uow, removal, now + HOUR, "Bad Request: not enough rights",
                                    now)
            await uow.commit()
        seat = await seat_of(db, gate_id, "x")
        assert (seat.status, seat.attempts, seat.remove_after) == ("lapsed", attempt,
                                                                   now + HOUR)
        assert await due_users(db, now + HOUR - MINUTE) == []
        now += HOUR
        # The first refusal is audited at once; later ones are not, until we give up.
        ((actor, action, target, params),) = await audit_actions(db)
        assert (actor, action, target, params["user"], params["reason"]) == (
            "community", "gate.remove_refused", "chat:telegram:-100", "x",
            "Bad Request: not enough rights")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", now, 10)
        await removals.postpone(uow, removal, now + HOUR, "refused " * 100, now)
        await uow.commit()
    seat = await seat_of(db, gate_id, "x")
    assert (seat.status, seat.attempts, seat.remove_after) == (
        "lapsed", removals.GIVE_UP_AFTER, None)
    assert await due_users(db, now + 365 * DAY) == []
    (refused, (actor, action, target, params)) = await audit_actions(db)
    assert refused[1] == "gate.remove_refused"
    assert (actor, action, target, params["user"]) == (
        "community", "gate.remove_failed", "chat:telegram:-100", "x")
    assert params["reason"] == ("refused " * 100)[:200]
    async with db.uow() as uow:  # still lapsed for staff to see in /gates, no longer due
        ((seated, lapsed, due),) = [(s.seated, s.lapsed, s.due)
                                    for s in await gates.listing(uow, now + 365 * DAY)]
    assert (seated, lapsed, due) == (0, 1, 0)


async def test_postpone_leaves_a_seat_that_moved_on_alone(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    await arrive(db, programme, gate_id, "x")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
    await leave(db, gate_id, "x", T0 + DAY)
    async with db.uow() as uow:
        await removals.postpone(uow, removal, T0 + 2 * DAY, "flood", T0 + DAY)
        await uow.commit()
    seat = await seat_of(db, gate_id, "x")
    assert (seat.status, seat.attempts, seat.remove_after) == ("left", 0, None)


async def test_requalifying_forgets_earlier_refusals(db, programme):
    gate_id = await a_gate(db, programme, tier="gold")
    member_id = await a_member(db, programme, T0, "s", tier="silver")
    await arrive(db, programme, gate_id, "s")
    async with db.uow() as uow:
        (removal,) = await removals.due(uow, "telegram", T0 + DAY, 10)
        await removals.postpone(uow, removal, T0 + 2 * DAY, "flood", T0 + DAY)
        await uow.commit()
    await set_member(db, member_id, tier="gold")
    await seats.sweep(db, programme, T0 + DAY + HOUR)
    assert (await seat_of(db, gate_id, "s")).attempts == 0


async def test_would_remove_lists_a_dry_runs_accounts_and_their_members(db, programme):
    gate_id = await a_gate(db, programme, tier="gold", dry_run=True)
    other = await a_gate(db, programme, tier="gold", chat_id="-200")
    silver = await a_member(db, programme, T0, "s", tier="silver")
    await a_member(db, programme, T0, "g", tier="gold")
    await arrive(db, programme, gate_id, "s")
    await arrive(db, programme, gate_id, "x", T0 + HOUR)
    await arrive(db, programme, gate_id, "g")
    await arrive(db, programme, other, "y")
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        assert await removals.would_remove(uow, gate, T0 + DAY - MINUTE) == []
        assert await removals.would_remove(uow, gate, T0 + DAY) == [("s", silver)]
        assert await removals.would_remove(uow, gate, T0 + 2 * DAY) == [("s", silver),
                                                                         ("x", None)]
        assert await removals.would_remove(uow, gate, T0 + 2 * DAY, limit=1) == [("s", silver)]
        assert await removals.due(uow, "telegram", T0 + 2 * DAY, 10) != []  # the other gate
        assert [r.user_id for r in await removals.due(uow, "telegram", T0 + 2 * DAY, 10)] == [
            "y"]


# --- accounts that change hands --------------------------------------------------------------


async def test_a_stranger_who_becomes_a_member_qualifies_at_the_next_sweep(db, programme):
    gate_id = await a_gate(db, programme, tier="member")
    assert await arrive(db, programme, gate_id, "late") == "lapsed"
    member_id = await a_member(db, programme, T0 + HOUR, "late")  # sends /start
    await seats.sweep(db, programme, T0 + 2 * HOUR)
    seat = await seat_of(db, gate_id, "late")
    assert (seat.status, seat.member_id) == ("in", member_id)
    async with db.uow() as uow:
        assert await removals.due(uow, "telegram", T0 + 2 * DAY, 10) == []


async def test_an_account_linked_to_a_gold_member_is_judged_as_theirs(db, programme):
    from domain.members import members

    gate_id = await a_gate(db, programme, tier="gold")
    fresh = await a_member(db, programme, T0, "tg")  # the Telegram account's own member
    assert await arrive(db, programme, gate_id, "tg") == "lapsed"
    async with db.uow() as uow:  # a gold member from WeChat links that account
        gold = (await members.register(uow, programme, "wechat", "wx", T0)).member
        await uow.flush()
        await uow.session.execute(update(Member).where(Member.id == gold.id)
                                  .values(tier="gold", tier_valid_until=T0 + 300 * DAY))
        code = (await members.issue_link_code(uow, gold.id, T0)).code
        gold_id = gold.id
        await uow.commit()
    async with db.uow() as uow:
        await members.link(uow, code, "telegram", "tg", T0 + MINUTE)
        await uow.commit()
    await seats.sweep(db, programme, T0 + 2 * HOUR)
    seat = await seat_of(db, gate_id, "tg")
    assert (seat.status, seat.member_id) == ("in", gold_id)
    assert fresh != gold_id
    # From now on their tier changes reach the seat at once.
    await set_member(db, gold_id, tier_valid_until=T0 - 40 * DAY)
    async with db.uow() as uow:
        assert (await tiers.reevaluate(uow, programme.tiers, gold_id, T0 + 3 * HOUR)).code == \
            "member"
        await uow.commit()
    assert (await seat_of(db, gate_id, "tg")).status == "lapsed"
