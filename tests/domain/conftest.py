"""Fixtures the domain's tests share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from domain import monitoring


class Heard(monitoring.Watcher):
    """What domain.monitoring reported while a test ran: points moved, by movement, and
    units of work failed, by kind."""

    def __init__(self) -> None:
        self.points: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def points_moved(self, movement: monitoring.Movement, points: int) -> None:
        self.points[movement] += points

    def database_failed(self, kind: str) -> None:
        self.failed[kind] += 1


@pytest.fixture
def heard() -> Iterator[Heard]:
    watcher = Heard()
    monitoring.watch(watcher)
    yield watcher
    monitoring.unwatch(watcher)
