"""RFM: quintiles by rank with ties scored alike, the standard grid of segments, and
fifteen buyers designed so that every segment is named, scored on a real database."""

from __future__ import annotations

import asyncio
from array import array
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert

from domain.insight import rfm
from domain.members.tables import Member
from domain.points.tables import Purchase

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


# --- the grid -------------------------------------------------------------------------

def test_every_cell_of_the_grid_is_one_segment():
    for r in range(1, 6):
        for fm in range(1, 6):
            codes = [code for code, rs, fms in rfm.GRID if r in rs and fm in fms]
            assert len(codes) == 1, (r, fm, codes)
    assert {code for code, _, _ in rfm.GRID} == set(rfm.SEGMENTS)


@pytest.mark.parametrize(("scores", "segment"), [
    ((5, 5, 5), "champions"), ((5, 4, 3), "champions"),  # FM 3.5 rounds up to 4
    ((5, 3, 3), "potential_loyalists"),
    ((5, 1, 2), "potential_loyalists"),  # FM 1.5 rounds up to 2: no longer "new"
    ((5, 1, 1), "new"), ((4, 1, 1), "promising"), ((4, 4, 4), "loyal"),
    ((3, 5, 5), "loyal"), ((3, 3, 3), "need_attention"), ((3, 2, 1), "about_to_sleep"),
    ((2, 4, 3), "at_risk"), ((1, 5, 4), "cant_lose"), ((2, 2, 2), "hibernating"),
    ((1, 1, 1), "hibernating"), ((4, 2, 2), "potential_loyalists"),
])
def test_segments_by_example(scores, segment):
    assert rfm.segment_for(*scores) == segment


def test_fm_rounds_half_up():
    assert [rfm.fm(f, m) for f, m in [(1, 1), (1, 2), (2, 3), (4, 5), (5, 5)]] == \
        [1, 2, 3, 5, 5]


# --- quintiles ------------------------------------------------------------------------

def by_edges(edges: tuple[int, ...], value: int) -> int:
    return 1 + sum(value > e for e in edges)


async def test_quintiles_of_ten_distinct_values():
    values = array("q", [7, 3, 10, 1, 9, 2, 8, 4, 6, 5])
    edges = await rfm.edges(values)
    assert edges == (2, 4, 6, 8)
    assert [by_edges(edges, v) for v in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


async def test_tied_values_share_the_score_of_their_lowest_rank():
    """Six buyers bought once: all score 1 (none is pushed into 2 or 3), and the next
    value up starts at the score of its rank, 7th of 10: 1 + 5 * 6 // 10 = 4."""
    values = array("q", [1, 1, 1, 1, 1, 1, 2, 3, 4, 5])
    edges = await rfm.edges(values)
    assert [by_edges(edges, v) for v in sorted(values)] == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]


async def test_few_or_no_values():
    assert await rfm.edges(array("q")) == ()
    assert [by_edges(await rfm.edges(array("q", [5])), 5)] == [1]
    edges = await rfm.edges(array("q", [1, 2]))
    assert [by_edges(edges, v) for v in (1, 2)] == [1, 3]


@given(st.lists(st.integers(min_value=-10**12, max_value=10**12), min_size=1, max_size=300),
       st.integers(min_value=1, max_value=64))
def test_edges_give_each_value_the_score_of_its_rank(values, chunk):
    """Whatever the chunking of the sort: score = 1 + 5 * (values strictly below) // n."""
    n = len(values)
    old, rfm.SORTED = rfm.SORTED, chunk
    try:
        edges = asyncio.run(rfm.edges(array("q", values)))
    finally:
        rfm.SORTED = old
    for v in values:
        assert by_edges(edges, v) == 1 + 5 * sum(w < v for w in values) // n


# --- on a database --------------------------------------------------------------------

# Fifteen buyers and their designed scores (R, F, M): each score taken by three buyers
# per measure, and every segment named at least once.
DESIGN = [
    ((1, 3, 4), "at_risk"), ((1, 4, 2), "at_risk"), ((1, 4, 4), "at_risk"),
    ((2, 2, 2), "hibernating"), ((2, 4, 5), "cant_lose"), ((2, 3, 3), "at_risk"),
    ((3, 2, 4), "need_attention"), ((3, 5, 5), "loyal"), ((3, 1, 1), "about_to_sleep"),
    ((4, 2, 5), "loyal"), ((4, 1, 1), "promising"), ((4, 5, 3), "loyal"),
    ((5, 3, 3), "potential_loyalists"), ((5, 1, 1), "new"), ((5, 5, 2), "champions"),
]


def ranks(scores: list[int]) -> list[int]:
    """Distinct ranks 1-15 giving these scores: score s takes ranks 3s-2 to 3s, in order."""
    taken = {s: 3 * (s - 1) for s in range(1, 6)}
    out = []
    for s in scores:
        taken[s] += 1
        out.append(taken[s])
    return out


def member_row(member_id: int, **fields) -> dict:
    row = dict(id=member_id, referral_code=f"R{member_id}", joined_at=NOW - 900 * DAY,
               last_active_at=NOW - 10 * DAY, status="active", purchase_count=0,
               first_purchase_at=None, last_purchase_at=None)
    return {**row, **fields}


def purchase_row(order: str, member_id: int, amount: int, at: datetime,
                 refunded: int = 0) -> dict:
    return dict(order_id=order, member_id=member_id, amount=amount, currency="CNY",
                source="api", created_at=at, refunded=refunded)


async def designed(db) -> dict[str, list[int]]:
    """The fifteen buyers (ids 1-15), each with an order of rank * 10.00 and one refunded
    in full; a member who never bought (16); an erased buyer (17), who is not scored."""
    r_ranks = ranks([s[0] for s, _ in DESIGN])
    f_ranks = ranks([s[1] for s, _ in DESIGN])
    m_ranks = ranks([s[2] for s, _ in DESIGN])
    members, orders = [], []
    for i, (r, f, m) in enumerate(zip(r_ranks, f_ranks, m_ranks, strict=True)):
        member_id = i + 1
        last = NOW - (20 - r) * DAY  # a higher rank bought more recently
        members.append(member_row(member_id, purchase_count=f, first_purchase_at=NOW - 400 * DAY,
                                  last_purchase_at=last, last_active_at=last))
        orders.append(purchase_row(f"A{member_id}", member_id, m * 1000, last))
        orders.append(purchase_row(f"B{member_id}", member_id, 700, last - DAY, refunded=700))
    members.append(member_row(16))
    members.append(member_row(17, status="erased", purchase_count=99,
                              first_purchase_at=NOW - DAY, last_purchase_at=NOW))
    orders.append(purchase_row("E17", 17, 10**9, NOW))
    async with db.uow() as uow:
        await uow.execute(insert(Member.__table__), members)
        await uow.execute(insert(Purchase.__table__), orders)
        await uow.commit()
    expected: dict[str, list[int]] = {code: [] for code in rfm.SEGMENTS}
    for i, (_, code) in enumerate(DESIGN):
        expected[code].append(i + 1)
    return expected


async def test_designed_buyers_get_their_scores_and_segments(db):
    expected = await designed(db)
    async with db.snapshot() as snap:
        result = await rfm.rfm(snap, NOW)
    scores = result.scores
    for i, (triple, code) in enumerate(DESIGN):
        assert scores.scores_of(i + 1) == triple
        assert scores.segment_of(i + 1) == code
    assert scores.scores_of(16) is None and scores.segment_of(17) is None
    assert list(scores.ids) == list(range(1, 16))
    assert [row[4] for row in scores.rows()] == [code for _, code in DESIGN]

    assert result.members == 15 and result.at == NOW
    assert result.revenue == 1000 * sum(range(1, 16))  # refunds taken off, the erased left out
    counts = {s.code: s.members for s in result.segments}
    assert counts == {"champions": 1, "loyal": 3, "potential_loyalists": 1, "new": 1,
                      "promising": 1, "need_attention": 1, "about_to_sleep": 1,
                      "at_risk": 4, "cant_lose": 1, "hibernating": 1}
    assert [s.code for s in result.segments] == list(rfm.SEGMENTS)
    # at_risk: buyers 1, 2, 3, 6 with monetary ranks 10, 4, 11, 7.
    assert result.segment("at_risk").revenue == 32_000
    assert result.share_of_revenue("at_risk") == Fraction(32, 120)
    assert result.share_of_members("loyal") == Fraction(3, 15)
    assert sum(s.revenue for s in result.segments) == result.revenue

    # Score s needs a value above the one ranked 3(s-1): ranks 3, 6, 9, 12.
    assert result.edges.frequency == (3, 6, 9, 12)
    assert result.edges.monetary == (3000, 6000, 9000, 12000)
    # Recency is scored by day: its edges are days (midnight UTC).
    assert result.edges.recency == tuple(
        (NOW - (20 - r) * DAY).replace(hour=0, minute=0, second=0, microsecond=0)
        for r in (3, 6, 9, 12))

    assert await scores.members_in(["loyal"]) == expected["loyal"] == [8, 10, 12]
    assert await scores.members_in(["new", "at_risk"]) == [1, 2, 3, 6, 14]
    with pytest.raises(ValueError, match="no such segment"):
        await scores.members_in(["vip"])
    async with db.snapshot() as snap:
        again = await rfm.member_segments(snap)
    assert again == scores


async def test_nobody_bought(db):
    async with db.uow() as uow:
        await uow.execute(insert(Member.__table__), [member_row(1), member_row(2)])
        await uow.commit()
    async with db.snapshot() as snap:
        result = await rfm.rfm(snap, NOW)
    assert result.members == 0 and result.revenue == 0
    assert all(s.members == 0 and s.revenue == 0 for s in result.segments)
    assert result.share_of_revenue("champions") is None
    assert result.edges == rfm.Edges((), (), ())
    assert await result.scores.members_in(rfm.SEGMENTS) == []


async def test_windows_of_ids_read_every_member(db, monkeypatch):
    """Windows far smaller than the population, ids with gaps: the same figures."""
    await designed(db)
    async with db.snapshot() as snap:
        whole = await rfm.rfm(snap, NOW)
    monkeypatch.setattr(rfm, "MEMBER_WINDOW", 4)
    monkeypatch.setattr(rfm, "PURCHASE_WINDOW", 3)
    async with db.snapshot() as snap:
        windowed = await rfm.rfm(snap, NOW)
    assert windowed == whole


async def test_buyers_of_the_same_day_are_all_as_recent_as_can_be(db):
    """Five members who bought today, one in the same second as another: all R5, so
    none of them is called dormant ("at risk", "hibernating") for being tied."""
    members = [member_row(i, purchase_count=1, first_purchase_at=NOW - i * timedelta(
        minutes=10), last_purchase_at=NOW - i * timedelta(minutes=10)) for i in range(1, 6)]
    members[1]["last_purchase_at"] = members[1]["first_purchase_at"] = NOW - timedelta(
        minutes=10)
    orders = [purchase_row(f"T{i}", i, 1000 * i, NOW - i * timedelta(minutes=10))
              for i in range(1, 6)]
    async with db.uow() as uow:
        await uow.execute(insert(Member.__table__), members)
        await uow.execute(insert(Purchase.__table__), orders)
        await uow.commit()
    async with db.snapshot() as snap:
        result = await rfm.rfm(snap, NOW + timedelta(minutes=5))
    assert {result.scores.scores_of(i)[0] for i in range(1, 6)} == {5}
    assert {result.scores.segment_of(i) for i in range(1, 6)} <= {
        "new", "potential_loyalists", "champions"}
    assert result.segment("at_risk").members == result.segment("hibernating").members == 0


async def test_what_each_spent_is_the_same_summed_by_the_database_or_folded(db, monkeypatch):
    """/segments sums each member's spend in SQL from the covering index; the look back
    folds every purchase itself: the same spend, refunds taken off, window by window."""
    await designed(db)
    monkeypatch.setattr(rfm, "MEMBER_WINDOW", 4)
    async with db.snapshot() as snap:
        summed = await rfm.read(snap)
        folded = await rfm.read(snap, NOW - 30 * DAY, NOW)
    assert list(summed.spent) == list(folded.spent)
    assert sum(summed.spent) == 1000 * sum(range(1, 16)) and summed.spent[16] == 0
