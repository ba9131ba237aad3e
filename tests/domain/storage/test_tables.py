"""Each capability's tables stand on their own: importing one tables module is enough to
create its tables, because it imports the tables its foreign keys name (they name them
by string, which the metadata resolves only among the tables it holds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for path in [*(ROOT / "domain").rglob("tables.py"), ROOT / "bot/wechat/store/tables.py"]
    if path.parent.name != "storage")  # storage's holds the base, no table
SCRIPT = """
import importlib, sys
from sqlalchemy import create_engine
from domain.storage.tables import Base
importlib.import_module(sys.argv[1])
Base.metadata.create_all(create_engine("sqlite://"))
print(len(Base.metadata.tables))
"""


def test_every_tables_module_is_found():
    assert "domain.members.tables" in MODULES and "bot.wechat.store.tables" in MODULES
    assert len(MODULES) >= 11


@pytest.mark.parametrize("module", MODULES)
def test_a_tables_module_alone_creates_its_tables(module):
    done = subprocess.run([sys.executable, "-c", SCRIPT, module], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) >= 1
