"""What a tier still needs, said the same way in /groups and in a declined join."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.community import durations
from domain.config import Programme
from domain.tiers.tiers import Progress
from handlers.engine.types import Money, Text
from handlers.engine.words import tier_called


def length(span: timedelta) -> Text:
    """A length in words of the reader's language ("1 week 2 days", "1周2天"), where
    admins typed `9d`: "1m" reads as a month in Chinese."""
    found = durations.parts(span)
    if not found:
        return Text("duration.none")
    said = [Text(f"duration.{unit}", {"count": count}) for count, unit in found]
    whole = said[-1]
    for part in reversed(said[:-1]):
        whole = Text("duration.join", {"first": part, "rest": whole})
    return whole


def needs(programme: Programme, progress: Progress, code: str) -> dict[str, Any]:
    """Reply parameters for "Gold: 320 more qualifying points" (or spend)."""
    ladder = programme.tiers
    tier = ladder.by_code(code)
    missing = max((tier.threshold if tier else 0) - progress.total, 0)
    by_spend = ladder.basis == "spend"
    return {"tier": tier_called(ladder, code),
            "needed": Money(missing, programme.currency) if by_spend else missing,
            "unit": Text("tier.unit_spend" if by_spend else "tier.unit_points")}
