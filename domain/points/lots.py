"""FIFO lots, replayed from the ledger.

Every positive entry opens a lot. A negative entry takes from the lot it names
(expiries, reversals) and otherwise from the oldest lots still unexpired at its
time. Replaying is pure, so what /points promises and what the expiry job writes
off come from the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Movement:
    id: int
    delta: int
    created_at: datetime
    expires_at: datetime | None = None
    lot_id: int | None = None


@dataclass
class Lot:
    id: int
    created_at: datetime
    expires_at: datetime | None
    remaining: int


def replay(entries: Iterable[Movement]) -> list[Lot]:
    """Lots with what is left of each, in the order they were opened."""
    lots: list[Lot] = []
    by_id: dict[int, Lot] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.delta > 0:
            lot = Lot(entry.id, entry.created_at, entry.expires_at, entry.delta)
            lots.append(lot)
            by_id[entry.id] = lot
            continue
        owed = -entry.delta
        named = by_id.get(entry.lot_id) if entry.lot_id is not None else None
        if named is not None:
            taken = min(named.remaining, owed)
            named.remaining -= taken
            owed -= taken
        for lot in lots:
            if owed == 0:
                break
            if lot.remaining and (lot.expires_at is None or lot.expires_at > entry.created_at):
                taken = min(lot.remaining, owed)
                lot.remaining -= taken
                owed -= taken
    return lots


def due(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """Lots whose points have expired and still hold some."""
    return [lot for lot in lots if lot.remaining and lot.expires_at and lot.expires_at <= now]


def next_expiry(lots: Iterable[Lot]) -> datetime | None:
    dates = [lot.expires_at for lot in lots if lot.remaining and lot.expires_at]
    return min(dates) if dates else None
