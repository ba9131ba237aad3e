"""Small pieces of wording shared by several flows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from domain.config import LocalText, Tier, Tiers
from domain.members.members import member_number
from handlers.engine.types import Local, Text

BAR_CELLS = 10


def local(text: LocalText) -> Local:
    """Wording the programme or an operator gave in each language."""
    return Local(text.model_dump())


def tier_name(tier: Tier) -> Local:
    return local(tier.name)


def tier_called(ladder: Tiers, code: str) -> Local | str:
    """A tier's name by its code; the code itself for a tier the ladder no longer has
    (the programme file was edited since it was recorded)."""
    tier = ladder.by_code(code)
    return tier_name(tier) if tier is not None else code


def number(member_id: int) -> str:
    return member_number(member_id)


def bar(percent: int) -> str:
    filled = max(0, min(BAR_CELLS, percent * BAR_CELLS // 100))
    return "▓" * filled + "░" * (BAR_CELLS - filled)


def signed(delta: int) -> str:
    return f"{delta:+,}"


def yes_no(value: bool) -> Text:
    return Text("word.yes" if value else "word.no")


def multiplier(percent: int) -> str:
    """150 -> '1.5', 100 -> '1', 125 -> '1.25', with integer arithmetic only."""
    whole, frac = divmod(percent, 100)
    return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """A moment as a staff screen shows it: '2026-03-10 17:30' in `zone`."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def zone_label(zone: ZoneInfo, now: datetime) -> str:
    """'Asia/Shanghai, UTC+8', said once beside times shown in that zone. A zone that
    changes its clocks is named alone: one offset would be wrong half the year."""
    offsets = {datetime(now.year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if zone.key in ("UTC", "Etc/UTC") or len(offsets) != 1:
        return zone.key
    minutes = int(offsets.pop().total_seconds()) // 60  # type: ignore[union-attr]
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{zone.key}, UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
