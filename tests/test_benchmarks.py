"""The benchmarks are not run by the suite (they measure, they don't assert), but each
must at least import: a restructure once broke one unnoticed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(f"benchmarks.{path.stem}" for path in (ROOT / "benchmarks").glob("*.py")
                 if path.stem != "__init__")


def test_the_benchmarks_are_found():
    assert "benchmarks.loop_lag" in MODULES and "benchmarks.purchases" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_a_benchmark_imports(module):
    assert importlib.import_module(module).__name__ == module


async def test_the_selection_jobs_operator_reaches_the_confirmation(tmp_path):
    """benchmarks.loop_lag scripts an operator through /campaign: a changed step of the
    conversation must break this test, not a 40-minute run at its end."""
    from benchmarks import loop_lag
    from bot import programme as programme_file

    programme = programme_file.load()
    fresh = loop_lag._seeder("sqlite", "selection", 30, programme, tmp_path, "")
    async with fresh() as db:
        await loop_lag.run_job("selection", db, programme, tmp_path)  # raises when lost
