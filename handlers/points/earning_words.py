"""Programme wording for statement lines: ledger entries keep codes (a reward, a
promotion) and are shown with the names the programme file gives them now."""

from __future__ import annotations

from typing import Any

from domain.config import Programme
from handlers.engine.words import local


def programme_names(programme: Programme, params: dict[str, Any]) -> dict[str, Any]:
    named = dict(params)
    reward = programme.reward(str(params.get("reward", "")))
    if reward is not None:
        named["reward"] = local(reward.title)
    promotion = next((p for p in programme.earning.promotions
                      if p.code == params.get("promotion")), None)
    if promotion is not None:
        named["promotion"] = local(promotion.name)
    return named
