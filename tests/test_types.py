"""The type checker's verdict on domain/ and handlers/, as configured in pyproject.toml
([tool.mypy]): no errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_errors():
    # No cache: a run leaves nothing behind and cannot be misled by a stale one.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", os.devnull], cwd=ROOT,
        capture_output=True, text=True, timeout=280)
    if result.returncode != 0:
        pytest.fail(result.stdout + result.stderr, pytrace=False)
