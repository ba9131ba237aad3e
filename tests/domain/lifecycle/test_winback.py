"""Win-back: a lapsing member gets one coupon per lapse, measured against their own
purchase rhythm; using it is recorded as a win-back; a later lapse is a new episode."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from domain.lifecycle import winback
from domain.lifecycle.tables import WinBackEpisode
from domain.members.tables import Member
from domain.points import purchases
from domain.rewards import coupons, rewards
from domain.rewards.tables import RewardStock
from tests.support.lifecycle_helpers import a_member, at, coupons_of, told, with_

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def lapsed(db, programme, user: str, idle_days: int, **fields) -> int:
    """Joined long ago, last seen `idle_days` before T0 + 100 days."""
    seen = T0 + 100 * DAY - idle_days * DAY
    return await a_member(db, programme, T0 - 200 * DAY, user,
                          **{"last_active_at": seen, "marketing_consent": True, **fields})


async def episodes(db, member_id: int) -> list[WinBackEpisode]:
    async with db.uow() as uow:
        rows = list(await uow.session.scalars(select(WinBackEpisode).where(
            WinBackEpisode.member_id == member_id).order_by(WinBackEpisode.id)))
        uow.session.expunge_all()
        return rows


async def come_back(db, member_id: int, when: datetime) -> None:
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == member_id)
                                  .values(last_active_at=when))
        await uow.commit()


async def test_one_coupon_per_lapse_for_reachable_consenting_members(db, programme):
    now = T0 + 100 * DAY
    target = await lapsed(db, programme, "lapsing", 40)
    active = await lapsed(db, programme, "active", 10)
    churned = await lapsed(db, programme, "churned", 200)
    no_consent = await lapsed(db, programme, "noconsent", 40, marketing_consent=False)
    blocked = await lapsed(db, programme, "blocked", 40, status="unreachable")
    newbie = await a_member(db, programme, now - 10 * DAY, "new", marketing_consent=True)
    first = await at(now, winback.run, db, programme)
    again = await at(now + DAY, winback.run, db, programme)
    assert first["offered"] == 1 and again["offered"] == 0
    (coupon,) = await coupons_of(db, target)
    assert coupon.reward == "ten_off" and coupon.redemption_id is None
    (notice,) = await told(db, target)
    assert notice.key == "winback.offer" and notice.params["reward"] == {"$reward": "ten_off"}
    for other in (active, churned, no_consent, blocked, newbie):
        assert await coupons_of(db, other) == [] and await told(db, other) == []


async def test_the_members_own_rhythm_sets_when_they_lapse(db, programme):
    """A monthly customer is not lapsing 40 days after their last visit; after 91 they are."""
    plain = programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"promotions": ()})})
    member_id = await a_member(db, programme, T0 - 30 * DAY, "monthly", marketing_consent=True)
    for month in range(4):  # purchases 30 days apart
        async with db.uow() as uow:
            await purchases.record(uow, plain, member_id, purchases.Order(
                f"M-{month}", 3000, "CNY"), T0 + month * 30 * DAY)
            await uow.commit()
    last = T0 + 90 * DAY
    assert (await at(last + 40 * DAY, winback.run, db, programme))["offered"] == 0
    assert (await at(last + 89 * DAY, winback.run, db, programme))["offered"] == 0
    assert (await at(last + 91 * DAY, winback.run, db, programme))["offered"] == 1
    assert len(await coupons_of(db, member_id)) == 1


async def test_using_the_coupon_records_the_win_back_and_a_new_lapse_is_a_new_episode(
        db, programme):
    now = T0 + 100 * DAY
    member_id = await lapsed(db, programme, "back", 40)
    await at(now, winback.run, db, programme)
    (coupon,) = await coupons_of(db, member_id)
    back = now + 3 * DAY
    await come_back(db, member_id, back)
    async with db.uow() as uow:
        await coupons.consume(uow, coupon.code, "member:staff", back)
        await uow.commit()
    settled = await at(now + 4 * DAY, winback.run, db, programme)
    assert (settled["returned"], settled["won_back"], settled["offered"]) == (1, 1, 0)
    (episode,) = await episodes(db, member_id)
    assert episode.won_back_at == back and episode.returned_at == back
    assert episode.idle_since == now - 40 * DAY
    async with db.uow() as uow:
        assert await winback.results(uow) == winback.Results(1, 1, 1, 1)
    # Silent again for 45 days: a second lapse, a second coupon.
    later = back + 45 * DAY
    assert (await at(later, winback.run, db, programme))["offered"] == 1
    assert [e.idle_since for e in await episodes(db, member_id)] == [now - 40 * DAY, back]
    assert len(await coupons_of(db, member_id)) == 2
    async with db.uow() as uow:
        assert await winback.results(uow) == winback.Results(2, 2, 1, 1)


async def test_out_of_stock_leaves_the_episode_without_a_coupon_or_a_notice(db, programme):
    now = T0 + 100 * DAY
    member_id = await lapsed(db, programme, "nostock", 40)
    async with db.uow() as uow:
        await rewards.set_stock(uow, programme.reward("ten_off"), 0, True, T0)
        await uow.commit()
    assert (await at(now, winback.run, db, programme))["offered"] == 1
    (episode,) = await episodes(db, member_id)
    assert episode.coupon_id is None
    assert await coupons_of(db, member_id) == [] and await told(db, member_id) == []
    assert (await at(now + DAY, winback.run, db, programme))["offered"] == 0


async def test_stock_for_part_of_a_slice_goes_to_the_first_members_and_never_below_zero(
        db, programme):
    now = T0 + 100 * DAY
    ids = [await lapsed(db, programme, f"few{i}", 40) for i in range(3)]
    async with db.uow() as uow:
        await rewards.set_stock(uow, programme.reward("ten_off"), 2, True, T0)
        await uow.commit()
    assert (await at(now, winback.run, db, programme))["offered"] == 3
    given = [len(await coupons_of(db, m)) for m in ids]
    assert given == [1, 1, 0]
    assert [len(await told(db, m)) for m in ids] == given
    assert [(await episodes(db, m))[0].coupon_id is not None for m in ids] == [True, True, False]
    async with db.uow() as uow:
        stock = await uow.session.get(RewardStock, "ten_off")
        assert stock is not None and stock.remaining == 0


async def test_a_member_who_changed_since_the_snapshot_is_left_for_the_next_run(db, programme):
    now = T0 + 100 * DAY
    back = await lapsed(db, programme, "back", 40)
    still = await lapsed(db, programme, "still", 40)
    async with db.snapshot() as snap:  # what the run's page read found
        found = list(await snap.session.execute(
            winback.selection(programme, now).with_only_columns(Member.id, *winback.JUDGED)))
    assert [row[0] for row in found] == [back, still]
    await come_back(db, back, now - DAY)  # active again before their slice runs
    async with db.uow() as uow:
        assert await winback.offer(uow, programme, "ten_off", found, now) == 1
        await uow.commit()
    assert await coupons_of(db, back) == [] and await episodes(db, back) == []
    assert len(await coupons_of(db, still)) == 1


async def test_without_a_reward_configured_nobody_is_offered_anything(db, programme):
    member_id = await lapsed(db, programme, "m", 40)
    off = with_(programme, winback={"reward": None})
    assert (await at(T0 + 100 * DAY, winback.run, db, off))["offered"] == 0
    assert await episodes(db, member_id) == []


async def test_runs_racing_each_other_give_one_coupon_each(db, programme):
    now = T0 + 100 * DAY
    ids = [await lapsed(db, programme, f"m{i}", 40 + i) for i in range(4)]
    results = await asyncio.gather(*(winback.run(db, programme, now, batch=3)
                                     for _ in range(3)))
    assert sum(r["offered"] for r in results) == 4
    for member_id in ids:
        assert len(await coupons_of(db, member_id)) == 1
        assert len(await told(db, member_id)) == 1
