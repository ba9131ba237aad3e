"""What each campaign did, as /stats counts it: members it reached (holdout aside) and
those of them who bought within its attribution window.

Working that out joins every delivery of the campaign to the member's purchases:
seconds for a campaign to a quarter of a million members. Once the window has closed
(SETTLE ago) and the campaign is done or cancelled, neither figure changes again, so the
roll-up job counts it once and keeps it (InsightCampaignReach); a campaign still in its
window is counted as /stats asks, from the window's purchases (by their time) rather
than from every delivery, each checked against the campaign's members: the same figures
as domain/campaigns/attribution.py's, in a tenth of the time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, distinct, exists, func, select

from domain.campaigns.tables import Campaign, Delivery
from domain.insight import rollups
from domain.insight.tables import InsightCampaignReach
from domain.points.tables import Purchase
from domain.storage.database import Database, UnitOfWork

FINISHED = ("done", "cancelled")


def settled(campaign: Campaign, now: datetime) -> bool:
    """Its figures no longer change: sending is over and the window closed SETTLE ago."""
    return (campaign.status in FINISHED and campaign.started_at is not None
            and campaign.started_at + timedelta(days=campaign.attribution_days)
            + rollups.SETTLE <= now)


_C: Any = bindparam("b_campaign")
_REACHED = select(func.count()).where(Delivery.campaign_id == _C, Delivery.status == "sent")
_BOUGHT = select(func.count(distinct(Purchase.member_id))).where(
    Purchase.created_at >= bindparam("b_start"), Purchase.created_at < bindparam("b_end"),
    exists().where(Delivery.campaign_id == _C, Delivery.member_id == Purchase.member_id,
                   Delivery.variant != "holdout"))


async def counted(uow: UnitOfWork, campaign: Campaign, now: datetime) -> tuple[int, int]:
    """(reached, bought), holdout aside: attribution.results' delivered and buyers of
    the variants, summed."""
    if campaign.started_at is None:
        return 0, 0
    start = campaign.started_at
    end = min(start + timedelta(days=campaign.attribution_days), now)
    reached = int(await uow.scalar(_REACHED, {"b_campaign": campaign.id}))
    bought = int(await uow.scalar(_BOUGHT, {"b_campaign": campaign.id, "b_start": start,
                                            "b_end": end}))
    return reached, bought


async def in_period(uow: UnitOfWork, start: datetime, end: datetime,
                    now: datetime) -> tuple[int, int]:
    """Members reached by the campaigns started in [start, end), and those of them who
    bought within each one's attribution window: kept figures where there are, the rest
    worked out now."""
    reached = bought = 0
    started = (await uow.session.execute(
        select(Campaign, InsightCampaignReach.reached, InsightCampaignReach.bought)
        .outerjoin(InsightCampaignReach, InsightCampaignReach.campaign_id == Campaign.id)
        .where(and_(Campaign.started_at >= start, Campaign.started_at < end)))).all()
    for campaign, kept_reached, kept_bought in started:
        if kept_reached is None:
            kept_reached, kept_bought = await counted(uow, campaign, now)
        reached += kept_reached
        bought += kept_bought
    return reached, bought


async def keep(db: Database, now: datetime) -> int:
    """Count and keep the campaigns that settled and are not kept yet; how many."""
    async with db.snapshot() as uow:
        waiting = list(await uow.session.scalars(
            select(Campaign.id).outerjoin(InsightCampaignReach,
                                          InsightCampaignReach.campaign_id == Campaign.id)
            .where(InsightCampaignReach.campaign_id.is_(None), Campaign.status.in_(FINISHED),
                   Campaign.started_at.is_not(None))))
    kept = 0
    for campaign_id in waiting:
        async with db.snapshot() as uow:
            campaign = await uow.session.get_one(Campaign, campaign_id)
            if not settled(campaign, now):
                continue
            reached, bought = await counted(uow, campaign, now)
        async with db.uow() as uow:
            await uow.execute(uow.upsert(InsightCampaignReach.__table__).values(
                campaign_id=campaign_id, reached=reached, bought=bought, counted_at=now)
                .on_conflict_do_nothing(index_elements=["campaign_id"]))
            await uow.commit()
        kept += 1
    return kept
