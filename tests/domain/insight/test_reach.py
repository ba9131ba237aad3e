"""/stats' campaign response: worked out from the deliveries while the attribution
window is open, kept by the roll-up job once neither figure can change, and the same
either way."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from domain.campaigns import attribution, campaigns, deliveries
from domain.insight import reach, rollups
from domain.insight.tables import InsightCampaignReach
from tests.domain.campaigns.test_campaigns import buy, claim, fetch, operator, rows, started
from tests.support import crowd


async def test_a_campaigns_response_is_kept_once_its_window_closed(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 40, now, first_id=2)
    c = await started(db, programme, now, holdout=20)
    groups = {r.member_id: r.variant for r in await rows(db, c.id)}
    work = await claim(db, programme, c, now)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, "sent", "telegram", None)
                                      for w in work[:-1]], now)  # one is still sending
        await uow.commit()
    reached = [m for m, v in groups.items() if v != "holdout"]
    held = [m for m, v in groups.items() if v == "holdout"]
    assert reached and held
    for n, member_id in enumerate(reached[:3] + held[:2]):
        await buy(db, programme, member_id, f"R-{n}", 5_000, now + timedelta(days=2))
    await buy(db, programme, reached[0], "R-again", 5_000, now + timedelta(days=3))
    start, end = now - timedelta(days=1), now + timedelta(days=1)
    closed = now + timedelta(days=7) + rollups.SETTLE + timedelta(seconds=1)
    # Still sending: never kept, however late.
    assert await reach.keep(db, closed) == 0
    async with db.uow() as uow:
        await deliveries.finish(uow, [(work[-1].delivery_id, "sent", "telegram", None)], now)
        assert await deliveries.complete(uow, c.id, now)
        await uow.commit()
    # Done, but the window is open: not kept, worked out as asked.
    assert await reach.keep(db, now + timedelta(days=7)) == 0
    async with db.snapshot() as uow:
        live = await reach.in_period(uow, start, end, now + timedelta(days=4))
        groups_ = (await attribution.results(uow, await campaigns.get(uow, c.id),
                                             now + timedelta(days=4))).groups
    assert live == (len(reached), 3) == (
        sum(g.delivered for g in groups_ if g.variant != "holdout"),
        sum(g.buyers for g in groups_ if g.variant != "holdout"))
    # Closed: kept once, read from what was kept, with a purchase after the window left
    # out either way.
    await buy(db, programme, reached[3], "R-late", 5_000, now + timedelta(days=8))
    assert await reach.keep(db, closed) == 1
    assert await reach.keep(db, closed) == 0
    async with db.snapshot() as uow:
        assert await reach.in_period(uow, start, end, closed) == live
        campaign = await fetch(db, c.id)
        assert await reach.counted(uow, campaign, closed) == live
    async with db.uow() as uow:
        await uow.session.execute(update(InsightCampaignReach).values(
            bought=InsightCampaignReach.bought + 100))
        await uow.commit()
    async with db.snapshot() as uow:
        assert await reach.in_period(uow, start, end, closed) == (len(reached), 103)
        # A period the campaign did not start in counts nothing of it.
        assert await reach.in_period(uow, end, end + timedelta(days=30), closed) == (0, 0)
