"""The dependency rule from ARCHITECTURE.md, checked by import-linter's contracts in
pyproject.toml, and shown to fail when a module breaks it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "domain", "scheduler")
LAYERS = "Layers: bot wires everything; handlers and scheduler sit on domain"
SDKS = "Only bot/ talks to chat SDKs"
NO_SQL = "Conversations call domain services; they never speak SQL"
STORAGE = "Capabilities ask the unit of work; only storage knows SQLite's internals"
PROMETHEUS = "Only bot/ speaks Prometheus; the layers below report through domain.monitoring"
CONTRACTS = 5
PLATFORM_WORDS = re.compile(r"telegram|wechat|\bt\.me\b", re.IGNORECASE)
# Where the domain may still name a platform, and why.
PLATFORM_WORDS_ALLOWED = {
    # The schema's history: it also builds the tables of bot/'s platform state, and a
    # revision that has run on users' databases is not rewritten.
    "domain/storage/migrations/versions",
    # The users' programme file documents its [wechat] section, read by bot/; the
    # file's format did not change when the section's model moved there.
    "domain/programme.example.toml",
}


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    script = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(cwd), "PATH": ""})


def test_the_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("where", "line", "contract"), [
    ("domain/leak.py", "import handlers.engine.engine\n", LAYERS),
    ("domain/leak.py", "from bot import settings\n", LAYERS),
    ("handlers/leak.py", "import aiogram\n", SDKS),
    ("scheduler/leak.py", "from telegram import Bot\n", SDKS),
    ("handlers/leak.py", "import wechatpy.crypto\n", SDKS),
    ("handlers/leak.py", "from sqlalchemy.exc import IntegrityError\n", NO_SQL),
    ("domain/points/leak.py", "from domain.storage import sqlite_inline\n", STORAGE),
    ("domain/campaigns/leak.py", "import sqlite3\n", STORAGE),
    ("domain/points/leak.py", "from prometheus_client import Counter\n", PROMETHEUS),
    ("scheduler/leak.py", "import prometheus_client\n", PROMETHEUS),
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
    assert f"Contracts: {CONTRACTS - 1} kept, 1 broken." in result.stdout


def test_every_capability_is_kept_from_sqlite_internals():
    """A new capability package must join the storage contract, or nothing would stop
    it importing SQLite internals (feedback and support were once left out)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"]
                    if c["name"] == STORAGE)
    packages = {f"domain.{path.parent.name}" for path in (ROOT / "domain").glob("*/__init__.py")}
    assert packages - {"domain.storage"} == set(contract["source_modules"])


def test_patterns_are_checked_whole():
    """`re.match` with a closing `$` lets a final newline through ("A-1\\n" was a second
    order); every pattern in the code is matched with fullmatch, or searched on purpose."""
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for package in PACKAGES for path in (ROOT / package).rglob("*.py")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if ".match(" in line and "fullmatch(" not in line]
    assert offenders == []


def domain_platform_words(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "domain").rglob("*")):
        where = path.relative_to(root).as_posix()
        if (not path.is_file() or "__pycache__" in where
                or any(where.startswith(allowed) for allowed in PLATFORM_WORDS_ALLOWED)):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PLATFORM_WORDS.search(line):
                found.append(f"{where}:{n}: {line.strip()}")
    return found


def test_the_domain_names_no_platform():
    """Platform state (windows, tokens, scenes, uploads, cards, deep links) lives beside
    its adapter in bot/; the domain speaks of platforms only as opaque names."""
    assert domain_platform_words(ROOT) == []


@pytest.mark.parametrize("line", ['LINK = "https://t.me/x"', "# a Telegram update",
                                  'PLATFORMS = ("wechat",)'])
def test_a_platform_word_in_the_domain_is_caught(tmp_path, line):
    (tmp_path / "domain" / "points").mkdir(parents=True)
    (tmp_path / "domain" / "points" / "leak.py").write_text(line + "\n")
    assert len(domain_platform_words(tmp_path)) == 1
