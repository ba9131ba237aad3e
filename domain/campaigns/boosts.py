"""Points-multiplier windows of campaigns: a member whose campaign message was delivered
earns the campaign's extra percent on purchases made while its window is open (the
richest one, when several are). The holdout, and members the message never reached,
earn as usual, so the uplift against the holdout measures the offer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain.campaigns.tables import Campaign, Delivery


def best_percent(member_id: Any, now: Any) -> Any:
    """A scalar subquery: the extra percent open to `member_id` at `now`, or NULL.
    Served by the deliveries' member index; most members have no row at all."""
    return (select(Campaign.bonus_percent)
            .join(Delivery, Delivery.campaign_id == Campaign.id)
            .where(Delivery.member_id == member_id, Delivery.status == "sent",
                   Campaign.bonus_percent.is_not(None), Campaign.bonus_starts <= now,
                   Campaign.bonus_ends > now)
            .order_by(Campaign.bonus_percent.desc()).limit(1).scalar_subquery())
