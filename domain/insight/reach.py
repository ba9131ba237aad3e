"""What each campaign did, as /stats counts it: members it reached (holdout aside) and
those of them who bought within its attribution window.

Working that out joins every delivery of the campaign to the member's purchases:
seconds for a campaign to a quarter of a million members. Once the window has closed
(SETTLE ago) and the campaign is done or cancelled, neither figure changes again, so the
roll-up job counts it once and keeps it (InsightCampaignReach); a campaign still in its
window is counted as /stats asks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select

from domain.campaigns import attribution
from domain.campaigns.tables import Campaign
from domain.insight import rollups
from domain.insight.tables import InsightCampaignReach
from domain.storage.database import Database, UnitOfWork

FINISHED = ("done", "cancelled")


def settled(campaign: Campaign, now: datetime) -> bool:
    """Its figures no longer change: sending is over and the window closed SETTLE ago."""
    return (campaign.status in FINISHED and campaign.started_at is not None
            and campaign.started_at + timedelta(days=campaign.attribution_days)
            + rollups.SETTLE <= now)


async def counted(uow: UnitOfWork, campaign: Campaign, now: datetime) -> tuple[int, int]:
    """(reached, bought), holdout aside, worked out from the deliveries and purchases."""
    reached = bought = 0
    for group in (await attribution.results(uow, campaign, now)).groups:
        if group.variant != "holdout":
            reached += group.delivered
            bought += group.buyers
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
