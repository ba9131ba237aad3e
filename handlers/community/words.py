"""What a tier still needs, said the same way in /groups and in a declined join."""

from __future__ import annotations

from typing import Any

from domain.config import Programme
from domain.tiers.tiers import Progress
from handlers.engine.types import Money, Text
from handlers.engine.words import tier_called


def needs(programme: Programme, progress: Progress, code: str) -> dict[str, Any]:
    """Reply parameters for "Gold: 320 more qualifying points" (or spend)."""
    ladder = programme.tiers
    tier = ladder.by_code(code)
    missing = max((tier.threshold if tier else 0) - progress.total, 0)
    by_spend = ladder.basis == "spend"
    return {"tier": tier_called(ladder, code),
            "needed": Money(missing, programme.currency) if by_spend else missing,
            "unit": Text("tier.unit_spend" if by_spend else "tier.unit_points")}
