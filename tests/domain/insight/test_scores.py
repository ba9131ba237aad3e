"""The nightly scores: every member's RFM segment and churn risk as /segments works
them out, kept for campaign segments, which then pick by them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from domain.campaigns import segments
from domain.campaigns.segments import Segment, SegmentRefused
from domain.insight import churn, scores
from domain.insight.tables import InsightMemberScore
from domain.members.tables import Member
from domain.points.tables import Purchase
from tests.support import crowd
from tests.support.crowd import Person

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


async def buyers(db) -> list[int]:
    """Ten buyers from a loyal regular to a one-off long ago, and two who never bought."""
    people, bought = [], []
    for n in range(10):
        count = 10 - n
        last = 3 + 40 * n  # days ago
        people.append(Person(purchases=count, last_purchase_days_ago=last,
                             first_purchase_days_ago=last + 30 * (count - 1),
                             idle_days=last))
        bought.append([(last + 30 * k, 1_000 * (10 - n)) for k in range(count)])
    people += [Person(), Person(consent=False)]
    ids = await crowd.add(db, people, NOW)
    rows = [dict(order_id=f"o-{member_id}-{k}", member_id=member_id, amount=amount,
                 currency="CNY", items=[], points=0, entries=[], refunded=0, source="api",
                 created_at=NOW - timedelta(days=days))
            for member_id, orders in zip(ids, bought, strict=False)
            for k, (days, amount) in enumerate(orders)]
    async with db.uow() as uow:
        await uow.session.execute(insert(Purchase), rows)
        await uow.commit()
    return ids


async def stored(db) -> dict[int, tuple[str | None, int]]:
    async with db.uow() as uow:
        return {m: (s, r) for m, s, r in await uow.session.execute(select(
            InsightMemberScore.member_id, InsightMemberScore.segment, InsightMemberScore.risk))}


async def picked(db, programme, segment: Segment) -> set[int]:
    async with db.uow() as uow:
        return set(await uow.session.scalars(
            select(Member.id).where(segments.clause(segment, programme, NOW))))


async def test_the_job_keeps_what_segments_works_out_for_every_member(db, programme):
    ids = await buyers(db)
    assert await scores.run(db, programme, NOW) == {"members": 12, "buyers": 10}
    async with db.snapshot() as uow:
        found = await churn.report(uow, programme, NOW, evaluated=False)
    kept = await stored(db)
    assert set(kept) == set(ids)
    for member_id in ids:
        assert kept[member_id][0] == found.rfm.scores.segment_of(member_id)
    assert kept[ids[10]][0] is None and kept[ids[11]][0] is None  # never bought
    assert kept[ids[0]][0] == "champions" and kept[ids[9]][0] == "hibernating"
    risky = set(await found.risk.scores.members_at_least(50))
    assert {m for m, (_, r) in kept.items() if r >= 50} == risky and risky


async def test_campaign_segments_pick_by_the_scores_with_consent_and_reach(db, programme):
    ids = await buyers(db)
    await scores.run(db, programme, NOW)
    kept = await stored(db)
    champions = {m for m, (s, _) in kept.items() if s == "champions"}
    assert champions and await picked(db, programme, Segment(rfm=("champions",))) == champions
    both = Segment(rfm=("champions", "hibernating"))
    assert await picked(db, programme, both) == {
        m for m, (s, _) in kept.items() if s in ("champions", "hibernating")}
    at_risk = {m for m, (_, r) in kept.items() if r >= 60}
    assert await picked(db, programme, Segment(risk_min=60)) == at_risk - {ids[11]}
    # Withdrawn consent takes a champion out, whatever the scores say.
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == ids[0])
                                  .values(marketing_consent=False))
        await uow.commit()
    assert ids[0] not in await picked(db, programme, Segment(rfm=("champions",)))


async def test_an_erased_member_loses_their_scores_at_the_next_run(db, programme):
    ids = await buyers(db)
    await scores.run(db, programme, NOW)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == ids[-1])
                                  .values(status="erased"))
        await uow.commit()
    await scores.run(db, programme, NOW + timedelta(days=1))
    assert set(await stored(db)) == set(ids[:-1])


@pytest.mark.parametrize("segment", [Segment(rfm=("whales",)), Segment(risk_min=0),
                                     Segment(risk_min=101)])
def test_unknown_segments_and_risks_out_of_range_are_refused(programme, segment):
    with pytest.raises(SegmentRefused):
        segments.check(segment, programme)
