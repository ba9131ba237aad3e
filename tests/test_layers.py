"""The dependency rule from ARCHITECTURE.md, checked by import-linter's contracts in
pyproject.toml, and shown to fail when a module breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "domain", "scheduler")
LAYERS = "Layers: bot wires everything; handlers and scheduler sit on domain"
SDKS = "Only bot/ talks to chat SDKs"


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(cwd), "PATH": ""})


def test_the_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("where", "line", "contract"), [
    ("domain/leak.py", "import handlers.engine\n", LAYERS),
    ("domain/leak.py", "from bot import settings\n", LAYERS),
    ("handlers/leak.py", "import aiogram\n", SDKS),
    ("scheduler/leak.py", "from telegram import Bot\n", SDKS),
    ("handlers/leak.py", "import wechatpy.crypto\n", SDKS),
])
def test_a_broken_rule_is_caught(tmp_path, where, line, contract):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / where).write_text(line)
    result = lint(tmp_path)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert "Contracts: 1 kept, 1 broken." in result.stdout


def test_patterns_are_checked_whole():
    """`re.match` with a closing `$` lets a final newline through ("A-1\\n" was a second
    order); every pattern in the code is matched with fullmatch, or searched on purpose."""
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if ".match(" in line and "fullmatch(" not in line]
    assert offenders == []
