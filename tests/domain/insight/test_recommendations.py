"""Personal reward picks: never what the member cannot have, tier taste for a newcomer,
what goes with what they took, the points still to go, and the same answer every time."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.config import RewardItem
from domain.insight import cooccurrence, recommendations
from domain.insight.cooccurrence import Models, Tally
from domain.insight.recommendations import Weights
from domain.members.tables import Member
from domain.points import ledger
from domain.rewards import rewards
from domain.rewards.tables import Redemption, RewardStock


def item(code: str, cost: int, **more) -> RewardItem:
    words = {"en": code, "zh_Hans": code}
    return RewardItem(code=code, kind="goods", title=words, description=words, cost=cost,
                      **more)


CATALOGUE = (
    item("tea_set", 400), item("cups", 300), item("leaves", 200), item("pot", 350),
    item("voucher", 100, per_member=2), item("gold_box", 500, min_tier="gold"),
    item("autumn", 150, ends=date(2026, 1, 1)), item("limited", 250, stock=3),
    item("dear", 5000),
)


def ours(programme):
    """The test programme with a catalogue of our own (the shared one is left alone)."""
    return programme.model_copy(update={"rewards": CATALOGUE})


async def crowd(db, now, tiers: list[str], joined_days: int = 120) -> list[int]:
    """Members of these tiers, added straight to the table: the picks only read them."""
    async with db.uow() as uow:
        start = await uow.session.scalar(Member.__table__.select().with_only_columns(
            Member.id).order_by(Member.id.desc()).limit(1)) or 0
        rows = [Member(id=start + n + 1, tier=tier, joined_at=now - timedelta(days=joined_days),
                       last_active_at=now, referral_code=f"T{start + n + 1}")
                for n, tier in enumerate(tiers)]
        uow.session.add_all(rows)
        await uow.commit()
    return [row.id for row in rows]


async def took(db, now, member_ids, *codes: str, days_ago: int = 10) -> None:
    async with db.uow() as uow:
        for member_id in member_ids:
            for n, code in enumerate(codes):
                uow.session.add(Redemption(
                    key=f"t:{member_id}:{code}:{n}:{days_ago}", member_id=member_id,
                    reward=code, cost=1, created_at=now - timedelta(days=days_ago)))
        await uow.commit()


async def earn(db, now, member_id, points, days_ago=5, key="", expires_at=None) -> None:
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=points, kind="earn" if points > 0 else "adjust",
            reason="test", key=f"e:{member_id}:{days_ago}:{points}:{key}",
            expires_at=expires_at), now - timedelta(days=days_ago))
        await uow.commit()


async def picks_of(db, programme, member_id, now):
    model = await cooccurrence.build(db, now)
    async with db.uow() as uow:
        return await recommendations.for_member(uow, programme, model, member_id, now)


def codes(picks) -> list[str]:
    return [p.item.code for p in picks]


# ------------------------------------------------------------------ on a real database

async def test_nothing_the_member_cannot_have_is_ever_picked(db, programme, now):
    programme = ours(programme)
    others = await crowd(db, now, ["gold"] * 10)
    await took(db, now, others, "autumn", "limited", "voucher", "pot", "cups", "gold_box")
    await took(db, now, others[:3], "tea_set")
    await took(db, now, others[:1], "leaves")
    [silver] = await crowd(db, now, ["silver"])
    await took(db, now, [silver], "voucher", "voucher")  # its limit of two reached
    await earn(db, now, silver, 10_000)
    async with db.uow() as uow:
        await rewards.set_stock(uow, programme.reward("pot"), None, False, now)  # off
        await rewards.set_stock(uow, programme.reward("cups"), 0, True, now)  # none left
        await uow.commit()

    picked = await picks_of(db, programme, silver, now)
    # autumn ended, pot is off, cups is out, the voucher's limit is reached, gold_box is
    # for gold; dear was never redeemed, so nothing speaks for it.
    assert codes(picked) == ["limited", "tea_set", "leaves"]
    async with db.uow() as uow:
        member = await uow.session.get(Member, silver)
        offers = {o.item.code: o for o in await rewards.catalogue(
            uow, programme, member, 10_000, now)}
        shown = await recommendations.picks(
            uow, programme, await cooccurrence.build(db, now), member, 10_000, now)
    assert {offers[code].locked for code in codes(picked)} == {None}
    assert {offers[c].locked for c in ("autumn", "pot", "cups", "voucher", "gold_box")} == \
        {"dates", "off", "stock", "limit", "tier"}
    assert codes(shown) == codes(picked)


async def test_a_newcomer_gets_what_their_tier_redeems(db, programme, now):
    programme = ours(programme)
    await took(db, now, await crowd(db, now, ["gold"] * 10), "tea_set")
    await took(db, now, await crowd(db, now, ["silver"] * 20), "leaves")  # more overall
    gold, silver = await crowd(db, now, ["gold", "silver"])
    for member_id in (gold, silver):
        await earn(db, now, member_id, 1_000)

    gold_picks = await picks_of(db, programme, gold, now)
    silver_picks = await picks_of(db, programme, silver, now)
    assert codes(gold_picks) == ["tea_set", "leaves"]
    assert (gold_picks[0].reason, gold_picks[0].params) == ("tier_popular", {"tier": "gold"})
    assert codes(silver_picks) == ["leaves", "tea_set"]
    assert (silver_picks[0].reason, silver_picks[0].params) == \
        ("tier_popular", {"tier": "silver"})


async def test_what_goes_with_what_they_took_is_picked_and_says_so(db, programme, now):
    programme = ours(programme)
    people = await crowd(db, now, ["member"] * 40)
    await took(db, now, people[:6], "tea_set", "cups")
    await took(db, now, people[6:10], "tea_set")
    await took(db, now, people[10:], "leaves")  # the most popular by far
    [alice] = await crowd(db, now, ["member"])
    await took(db, now, [alice], "tea_set")
    await earn(db, now, alice, 1_000)

    picked = await picks_of(db, programme, alice, now)
    assert codes(picked)[0] == "cups"
    assert (picked[0].reason, picked[0].params, picked[0].needed) == \
        ("chosen_with", {"reward": "tea_set"}, 0)
    # A newcomer is offered the popular one first instead.
    [bob] = await crowd(db, now, ["member"])
    await earn(db, now, bob, 1_000)
    assert codes(await picks_of(db, programme, bob, now))[0] == "leaves"


async def test_an_item_within_a_months_earning_says_how_many_points_to_go(db, programme, now):
    programme = ours(programme)
    await took(db, now, await crowd(db, now, ["member"] * 10), "tea_set", "dear")
    [carol] = await crowd(db, now, ["member"], joined_days=200)
    for days_ago in (80, 50, 20):
        await earn(db, now, carol, 300, days_ago)  # 900 in 90 days: 300 a month
    await earn(db, now, carol, -800, 1)  # spent: 100 left

    picked = await picks_of(db, programme, carol, now)
    assert codes(picked) == ["tea_set"]  # dear (4,900 to go) is out of reach
    assert (picked[0].reason, picked[0].params, picked[0].needed) == \
        ("points_to_go", {"points": 300}, 300)


async def test_points_expired_but_not_yet_written_off_do_not_count(db, programme, now):
    programme = ours(programme)
    await took(db, now, await crowd(db, now, ["member"] * 10), "tea_set")
    [dave] = await crowd(db, now, ["member"], joined_days=200)
    await earn(db, now, dave, 500, 100, expires_at=now - timedelta(days=1))
    await earn(db, now, dave, 100, 10)
    model = await cooccurrence.build(db, now)
    async with db.uow() as uow:
        member = await uow.session.get(Member, dave)
        assert member.points_balance == 600
        as_if = await recommendations.picks(uow, programme, model, member, 600, now)
        found = await recommendations.for_members(uow, programme, model, [dave, 999], now)
    assert codes(as_if) == ["tea_set"]
    assert found == {dave: []}  # 300 to go, and 100 points in 90 days reach 33 a month


async def test_the_model_is_read_in_windows_and_equals_the_one_counted_in_memory(
        db, programme, now, monkeypatch):
    monkeypatch.setattr(cooccurrence, "FIRST_SPAN", 100)
    monkeypatch.setattr(cooccurrence, "WINDOW_ROWS", 50)  # several windows of ids
    tiers = ["member", "silver", "gold"]
    people = await crowd(db, now, [tiers[n % 3] for n in range(330)])
    menu = [c.code for c in CATALOGUE]
    expected = Tally()
    for n, member_id in enumerate(people):
        basket = [menu[(n * k) % len(menu)] for k in (1, 2, 3, 5)][: 1 + n % 4]
        await took(db, now, [member_id], *basket)
        expected.add(tiers[n % 3], Counter(basket))
    await took(db, now, people[:5], "dear", days_ago=400)  # too old to count
    model = await cooccurrence.build(db, now)
    wanted = expected.model(now)
    assert model.members == 330
    for part in ("tier_members", "takers", "tier_takers", "redeemed", "together"):
        assert getattr(model, part) == getattr(wanted, part), part


async def test_the_model_is_shared_until_stale_then_rebuilt_behind_the_callers(db, now):
    people = await crowd(db, now, ["member"] * 3)
    await took(db, now, people, "tea_set")
    models = Models(db, max_age=timedelta(hours=1))
    first = await models.get(now)
    assert first.takers == {"tea_set": 3} and await models.get(now) is first
    await took(db, now, people, "cups")
    later = now + timedelta(hours=2)
    assert await models.get(later) is first  # stale, still served; a rebuild starts
    await models.settled()
    assert models.latest is not first and models.latest.takers == {"tea_set": 3, "cups": 3}
    both = await asyncio.gather(models.rebuild(later), models.rebuild(later))
    assert both[0] is both[1] is models.latest  # fresh: no second build
    await models.close()


# ------------------------------------------------------------------ the core, in memory

def test_usual_earning_is_whole_points_per_thirty_days(now):
    assert recommendations.usual_earning(900, now - timedelta(days=400), now) == 300
    assert recommendations.usual_earning(100, now - timedelta(days=400), now) == 33
    # A newer member's rate comes from the days since joining, but never fewer than 30.
    assert recommendations.usual_earning(600, now - timedelta(days=60), now) == 300
    assert recommendations.usual_earning(500, now - timedelta(days=2), now) == 500
    assert recommendations.usual_earning(0, None, now) == 0


def _offers(programme, member, balance, now, items):
    return [rewards.judge(programme, i, member, balance, 0, None, now) for i in items]


def test_ties_go_to_the_cheaper_item_then_to_the_code(programme, now):
    tally = Tally()
    for basket in (["b", "c", "a", "x"],) * 4:
        tally.add("member", Counter(basket))
    model = tally.model(now)
    items = [item("c", 300), item("b", 300), item("a", 300), item("x", 200)]
    member = Member(id=1, tier="member")
    for order in (items, items[::-1], [items[2], items[0], items[3], items[1]]):
        offers = _offers(programme, member, 1_000, now, order)
        assert codes(recommendations.rank(model, "member", [], offers, 1_000, 0,
                                          weights=Weights(1, 1, 0))) == ["x", "a", "b"]
        # With closeness, the dearer ones use the points better; then by code.
        assert codes(recommendations.rank(model, "member", [], offers, 1_000, 0)) == \
            ["a", "b", "c"]


def test_the_partner_named_is_the_strongest_lift_and_the_earlier_code_on_a_tie(programme,
                                                                               now):
    tally = Tally()
    for _ in range(4):
        tally.add("member", Counter(["p", "q", "cups"]))
    for _ in range(12):
        tally.add("member", Counter(["leaves"]))
    model = tally.model(now)
    member = Member(id=1, tier="member")
    offers = _offers(programme, member, 1_000, now, [
        item("cups", 300), item("leaves", 300),
        item("p", 300, min_tier="gold"), item("q", 300, min_tier="gold")])  # not for them
    picked = recommendations.rank(model, "member", ["q", "p"], offers, 1_000, 0)
    assert (codes(picked), picked[0].reason, picked[0].params) == \
        (["cups", "leaves"], "chosen_with", {"reward": "p"})


NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TIERS = ["member", "silver", "gold"]
CODES = [f"i{n}" for n in range(6)]
catalogue_items = st.lists(st.builds(
    lambda n, cost, tier, limit, ends: item(CODES[n], cost, min_tier=tier, per_member=limit,
                                            ends=ends),
    st.integers(0, 5), st.integers(1, 2_000), st.sampled_from([None, *TIERS]),
    st.sampled_from([None, 1, 2]), st.sampled_from([None, date(2026, 1, 1),
                                                    date(2027, 1, 1)])),
    min_size=1, max_size=6, unique_by=lambda i: i.code)


@settings(max_examples=300, deadline=None)
@given(items=catalogue_items,
       baskets=st.lists(st.tuples(st.sampled_from(TIERS),
                                  st.lists(st.sampled_from(CODES), max_size=4)), max_size=30),
       tier=st.sampled_from(TIERS), balance=st.integers(0, 3_000), reach=st.integers(0, 1_000),
       taken=st.dictionaries(st.sampled_from(CODES), st.integers(0, 3)),
       stock=st.dictionaries(st.sampled_from(CODES),
                             st.tuples(st.sampled_from([None, 0, 1, 5]), st.booleans())))
def test_never_picks_what_availability_refuses(programme, items, baskets, tier, balance,
                                               reach, taken, stock):
    now = NOW
    tally = Tally()
    for who, basket in baskets:
        tally.add(who, Counter(basket))
    member = Member(id=1, tier=tier)
    rows = {code: RewardStock(code=code, remaining=left, enabled=on, updated_at=now)
            for code, (left, on) in stock.items()}

    def verdict(i):
        return rewards.judge(programme, i, member, balance, taken.get(i.code, 0),
                             rows.get(i.code), now)

    picked = recommendations.rank(tally.model(now), tier, [c for c, n in taken.items() if n],
                                  [verdict(i) for i in items], balance, reach)
    assert len(picked) <= 3
    for pick in picked:
        judged = verdict(pick.item)
        assert judged.locked is None or (judged.locked == "points" and judged.needed <= reach)
        assert pick.needed == judged.needed
        assert (pick.reason == "points_to_go") == (judged.locked == "points")


def test_a_partner_gone_from_the_catalogue_still_counts_but_is_not_named(programme, now):
    tally = Tally()
    for _ in range(4):
        tally.add("member", Counter(["retired", "cups"]))
    for _ in range(4):
        tally.add("member", Counter(["leaves"]))
    model = tally.model(now)
    offers = _offers(programme, Member(id=1, tier="member"), 1_000, now,
                     [item("cups", 300), item("leaves", 300)])
    picked = recommendations.rank(model, "member", ["retired"], offers, 1_000, 0)
    assert codes(picked) == ["cups", "leaves"]
    assert (picked[0].reason, picked[0].params) == ("tier_popular", {"tier": "member"})
