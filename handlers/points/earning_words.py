"""Programme wording for statement lines and /rules: ledger entries keep codes (a
reward, a promotion, a category, a SKU) and are shown with the names the programme
file gives them now; a category or SKU the file does not name is shown by its code."""

from __future__ import annotations

from typing import Any

from domain.config import Earning, Programme
from handlers.engine.types import Local
from handlers.engine.words import local, multiplier


def category_name(rules: Earning, code: str) -> Local | str:
    bonus = next((b for b in rules.category_bonuses if b.category == code), None)
    return local(bonus.name) if bonus is not None and bonus.name is not None else code


def sku_name(rules: Earning, sku: str) -> Local | str:
    bonus = next((b for b in rules.sku_bonuses if b.sku == sku), None)
    return local(bonus.name) if bonus is not None and bonus.name is not None else sku


def programme_names(programme: Programme, params: dict[str, Any]) -> dict[str, Any]:
    named = dict(params)
    reward = programme.reward(str(params.get("reward", "")))
    if reward is not None:
        named["reward"] = local(reward.title)
    promotion = next((p for p in programme.earning.promotions
                      if p.code == params.get("promotion")), None)
    if promotion is not None:
        named["promotion"] = local(promotion.name)
    if "category" in params:
        named["category"] = category_name(programme.earning, str(params["category"]))
    if "sku" in params:
        named["sku"] = sku_name(programme.earning, str(params["sku"]))
    return named


def tier_bonus_params(params: dict[str, Any]) -> dict[str, Any]:
    """The tier bonus as the multiplier it comes from (×1.5), not the bare percent
    (150%) the ledger keeps, which reads as if the bonus were one and a half times
    the purchase points."""
    percent = params.get("percent")
    return {**params, "multiplier": multiplier(percent) if isinstance(percent, int)
            else str(percent)}
