"""Earning rules: what a purchase earns, rule by rule, in whole points.

Pure arithmetic on integers. Every product is formed before the one division, so
no rule rounds twice, and a refund takes back floor(points * refunded / amount) in
total however it is split, so partial refunds never drift from a full one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from domain.config import Earning, Promotion


@dataclass(frozen=True)
class Item:
    sku: str
    category: str
    quantity: int
    amount: int  # minor units, for all `quantity` together


@dataclass(frozen=True)
class Earn:
    rule: str  # unique within one order: "base", "tier", "sku:LONGJING-250G", ...
    reason: str  # the statement's reason code
    points: int
    params: dict[str, Any] = field(default_factory=dict)


def plan(rules: Earning, multiplier_percent: int, amount: int, items: Sequence[Item],
         day: date, first: bool, campaign_percent: int = 0,
         plan_percent: int = 0) -> list[Earn]:
    """Every rule that pays for this purchase; rules that pay nothing are left out.
    `campaign_percent`: the extra of a campaign's points-multiplier window the member
    is in (domain/campaigns/boosts.py), on top of any promotion. `plan_percent`: the
    extra a paid plan gives while active (domain/membership), likewise."""
    ppu, unit = rules.points_per_unit, rules.unit_minor
    base = amount * ppu // unit
    with_tier = amount * ppu * multiplier_percent // (unit * 100)
    earns = [Earn("base", "purchase", base),
             Earn("tier", "tier_bonus", with_tier - base, {"percent": multiplier_percent})]
    for bonus in rules.category_bonuses if items else ():
        spent = sum(i.amount for i in items if i.category == bonus.category)
        earns.append(Earn(f"category:{bonus.category}", "category_bonus",
                          spent * ppu * bonus.percent // (unit * 100),
                          {"category": bonus.category}))
    for sku_bonus in rules.sku_bonuses if items else ():
        quantity = sum(i.quantity for i in items if i.sku == sku_bonus.sku)
        earns.append(Earn(f"sku:{sku_bonus.sku}", "sku_bonus", quantity * sku_bonus.points,
                          {"sku": sku_bonus.sku, "quantity": quantity}))
    best = best_promotion(rules, day)
    if best is not None:
        earns.append(Earn(f"promotion:{best.code}", "promotion",
                          with_tier * best.percent // 100, {"promotion": best.code}))
    if campaign_percent:
        earns.append(Earn("campaign", "campaign_bonus", with_tier * campaign_percent // 100,
                          {"percent": campaign_percent}))
    if plan_percent:
        earns.append(Earn("plan", "plan_bonus", with_tier * plan_percent // 100,
                          {"percent": plan_percent}))
    if first:
        earns.append(Earn("first_purchase", "first_purchase", rules.first_purchase))
    return [e for e in earns if e.points > 0]


def best_promotion(rules: Earning, day: date) -> Promotion | None:
    """The one promotion that applies on `day`: the richest, when several do."""
    return _best(rules.promotions, day)


@lru_cache(maxsize=64)  # keyed by a tuple of frozen promotions: cheap to hash, exact
def _best(promotions: tuple[Promotion, ...], day: date) -> Promotion | None:
    applying = [p for p in promotions if p.applies(day)]
    return max(applying, key=lambda p: p.percent) if applying else None


def reversal(points: int, amount: int, refunded_before: int, refunded_after: int) -> int:
    """What one earn entry gives back when refunds on its order grow from `before` to
    `after`: cumulative, so a full refund in any number of parts returns all of it."""
    return points * refunded_after // amount - points * refunded_before // amount
