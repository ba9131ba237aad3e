"""What a campaign achieved, per variant and for the holdout: members, deliveries,
the campaign's coupons redeemed (whenever), and purchases within the attribution
window (from the start, for `attribution_days`). All counts and minor units; the
comparison (uplift) is for the caller to make, with exact fractions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, case, distinct, func, select

from domain.campaigns.tables import Campaign, Delivery
from domain.points.tables import Purchase
from domain.rewards.tables import Coupon
from domain.storage.database import UnitOfWork


@dataclass(frozen=True)
class Group:
    variant: str  # "A", "B" or "holdout"
    members: int
    delivered: int = 0
    coupons_used: int = 0
    buyers: int = 0  # members with at least one purchase in the window
    orders: int = 0
    spend: int = 0  # minor units, net of refunds


@dataclass(frozen=True)
class Results:
    groups: list[Group]
    window_start: datetime | None
    window_end: datetime | None  # the end of the window, or now if it is still open

    def group(self, variant: str) -> Group | None:
        return next((g for g in self.groups if g.variant == variant), None)


async def results(uow: UnitOfWork, campaign: Campaign, now: datetime) -> Results:
    if campaign.started_at is None:
        return Results([], None, None)
    start = campaign.started_at
    end = min(start + timedelta(days=campaign.attribution_days), now)
    mine = Delivery.campaign_id == campaign.id
    base = {v: (int(n), int(sent or 0)) for v, n, sent in await uow.session.execute(
        select(Delivery.variant, func.count(),
               func.sum(case((Delivery.status == "sent", 1), else_=0).cast(Integer)))
        .where(mine).group_by(Delivery.variant))}
    used = dict((await uow.session.execute(
        select(Delivery.variant, func.count())
        .join(Coupon, Coupon.id == Delivery.coupon_id)
        .where(mine, Coupon.status == "used")
        .group_by(Delivery.variant))).all())
    bought = {v: (int(b), int(o), int(s or 0)) for v, b, o, s in await uow.session.execute(
        select(Delivery.variant, func.count(distinct(Purchase.member_id)), func.count(),
               func.sum(Purchase.amount - Purchase.refunded))
        .join(Purchase, Purchase.member_id == Delivery.member_id)
        .where(mine, Purchase.created_at >= start, Purchase.created_at < end)
        .group_by(Delivery.variant))}
    order = [v["code"] for v in campaign.variants] + ["holdout"]
    groups = [Group(v, base[v][0], base[v][1], int(used.get(v, 0)), *bought.get(v, (0, 0, 0)))
              for v in order if v in base]
    return Results(groups, start, end)
