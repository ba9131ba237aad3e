"""Which catalogue rewards a campaign may hand out as its coupon, and why not.

A campaign gives its coupon to everyone it reaches, so the reward must read as itself
in every language (the rule `/stock CODE on` keeps: a new item is worded as its code
until edited), be switched on, and be in stock or unlimited. The picker offers only
those; a pick, an older button or the confirmation is checked again, since the item
may have been switched off or sold out in between.
"""

from __future__ import annotations

from domain.config import RewardItem
from domain.rewards import catalogue, rewards
from domain.rewards.tables import RewardStock
from handlers.campaigns.words import joined
from handlers.engine.routing import Ctx
from handlers.engine.types import Reply, Text, reply
from handlers.engine.words import local

REASONS = ("unworded", "off", "stock")  # in the order they are told


def why_not(item: RewardItem, stock: RewardStock | None) -> str | None:
    """Why a campaign cannot give `item` now, or None when it can."""
    if catalogue.unworded(item):
        return "unworded"
    if stock is not None and not stock.enabled:
        return "off"
    remaining = stock.remaining if stock is not None else item.stock
    if remaining is not None and remaining <= 0:
        return "stock"
    return None


async def unavailable(ctx: Ctx) -> dict[str, str | None]:
    """Every catalogue item's code, with why it cannot be given now (None: it can)."""
    stock = await rewards.stock_of(ctx.uow, ctx.programme)
    return {item.code: why_not(item, stock.get(item.code)) for item in ctx.programme.catalogue()}


def left_out(why: dict[str, str | None]) -> Text | str:
    """A line naming the items left out of the picker and why, or nothing."""
    groups = []
    for reason in REASONS:
        codes = [code for code, r in why.items() if r == reason]
        if codes:
            groups.append(Text(f"campaign.left_out.{reason}", {"items": joined(codes)}))
    return Text("campaign.left_out", {"groups": joined(groups)}) if groups else ""


async def refusal(ctx: Ctx, code: str) -> Reply | None:
    """Why `code` cannot be the campaign's coupon now, in a sentence, or None."""
    item = ctx.programme.reward(code)
    if item is None:
        return reply("campaign.refused.coupon")
    reason = (await unavailable(ctx)).get(code)
    if reason is None:
        return None
    return reply(f"campaign.coupon_{reason}", title=local(item.title), code=item.code)
