"""The suite's own report: skips are counted in one line per reason, while failures
and errors are still reported in full. Runs pytest on a small file with this
project's configuration and conftest."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.adapters.cli.live import ROOT

SAMPLE = '''
import pytest

@pytest.mark.parametrize("n", range(3))
def test_needs_a_server(n):
    pytest.skip("PostgreSQL: not configured")

def test_needs_a_printer():
    pytest.skip("no printer")

def test_passes():
    assert True

def test_fails():
    assert 1 == 2, "one is not two"

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_errors(broken):
    pass
'''


def test_skips_are_summarised_by_reason_and_failures_kept_in_full(tmp_path):
    (tmp_path / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
         str(tmp_path), "-p", "tests.conftest", "-p", "no:cacheprovider", "-q",
         str(tmp_path / "test_sample.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "SKIPPED 3 tests: PostgreSQL: not configured" in out
    assert "SKIPPED 1 test: no printer" in out
    assert "SKIPPED [" not in out  # no line per skipped test
    assert "FAILED test_sample.py::test_fails - AssertionError: one is not two" in out
    assert "ERROR test_sample.py::test_errors - RuntimeError: fixture exploded" in out
    assert "1 failed, 1 passed, 4 skipped, 1 error" in out
