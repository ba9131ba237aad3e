"""The command line as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from domain.storage import schema

ROOT = Path(__file__).resolve().parents[3]


LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


def memberbot(*args: str, cwd: Path, stdin: str = "", env: dict | None = None):
    """A real `memberbot` process, with no MEMBERBOT_* settings but `env`'s and a
    terminal locale (C.UTF-8: no language hint) that does not depend on the machine."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("MEMBERBOT_") and k not in LOCALE_VARIABLES}
    environ["PYTHONPATH"] = str(ROOT)
    environ["LANG"] = "C.UTF-8"
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=120, env=environ)


def test_help_names_every_command(tmp_path):
    result = memberbot("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "chat", "db", "config"):
        assert command in result.stdout
    chat = memberbot("chat", "--help", cwd=tmp_path)
    assert "--user" in chat.stdout and "--locale" in chat.stdout


def test_chat_reads_a_script_from_stdin_and_keeps_data_in_a_local_sqlite_file(tmp_path):
    script = "/start\n5\n/checkin\n/points\n"
    result = memberbot("chat", "--user", "alice", "--locale", "en", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "chatting as alice" in out
    assert "> /start" in out and "Member number: 00000001" in out
    assert "Your tier: Member" in out  # [5] Tier & rules on the card
    assert "Points balance: 5" in out
    assert (tmp_path / "memberbot.db").exists()
    again = memberbot("chat", "--user", "alice", "--locale", "en", cwd=tmp_path,
                      stdin="/checkin\n")
    assert "already checked in today" in again.stdout


def test_two_simulated_members_are_separate(tmp_path):
    memberbot("chat", "--user", "alice", cwd=tmp_path, stdin="/checkin\n")
    result = memberbot("chat", "--user", "bob", "--locale", "zh_Hans", cwd=tmp_path,
                       stdin="/start\n")
    assert "会员号：00000002" in result.stdout


def test_run_with_no_platform_configured_starts_the_console(tmp_path):
    result = memberbot("run", cwd=tmp_path, stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert "/checkin" in result.stdout


def test_db_commands_apply_and_revert_migrations(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    up = memberbot("db", "upgrade", cwd=tmp_path, env={"MEMBERBOT_DATABASE_URL": url})
    head = schema.head()
    assert up.returncode == 0 and f"revision: {head} (head: {head})" in up.stdout
    down = memberbot("db", "downgrade", "base", cwd=tmp_path, env={"MEMBERBOT_DATABASE_URL": url})
    assert "revision: none" in down.stdout
    current = memberbot("db", "current", cwd=tmp_path, env={"MEMBERBOT_DATABASE_URL": url})
    assert f"revision: none (head: {head})" in current.stdout


def test_logs_are_json_lines_on_stderr(tmp_path):
    result = memberbot("--log-level", "INFO", "chat", cwd=tmp_path, stdin="/start\n")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "expected some log lines at INFO"
    records = [json.loads(line) for line in lines]
    assert any(r["msg"] == "database ready" and r["backend"] == "sqlite" for r in records)
    assert "Member number" not in result.stderr


def test_config_check_accepts_the_example(tmp_path):
    result = memberbot("config", "check", cwd=tmp_path)
    assert result.returncode == 0 and "ok" in result.stdout and "member (0)" in result.stdout


def test_an_invalid_programme_fails_at_start_naming_the_field(tmp_path):
    example = (ROOT / "domain" / "programme.example.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(example.replace("threshold = 2000", "threshold = 100"), encoding="utf-8")
    env = {"MEMBERBOT_PROGRAMME": str(bad)}
    for args in (("config", "check"), ("chat",), ("run",)):
        result = memberbot(*args, cwd=tmp_path, env=env, stdin="/start\n")
        assert result.returncode == 2
        assert "tiers" in result.stderr
        assert "threshold of 'gold' must exceed 'silver'" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "memberbot.db").exists()


def test_an_operator_sets_a_tier_floor_and_the_member_sees_it(tmp_path):
    memberbot("chat", "--user", "alice", "--locale", "en", cwd=tmp_path, stdin="/start\n")
    result = memberbot("member", "floor", "00000001", "gold", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "floor Gold, tier Gold (floor)" in result.stdout
    shown = memberbot("member", "show", "1", cwd=tmp_path)
    assert "tier: Gold (floor: Gold" in shown.stdout and "console:alice" in shown.stdout
    assert "tier Member -> Gold (floor)" in shown.stdout
    chat = memberbot("chat", "--user", "alice", "--locale", "en", cwd=tmp_path, stdin="/tier\n")
    assert "Your tier: Gold" in chat.stdout
    bad = memberbot("member", "floor", "1", "platinum", cwd=tmp_path)
    assert bad.returncode == 2 and "member, silver, gold" in bad.stderr
    assert memberbot("member", "show", "99", cwd=tmp_path).returncode == 1
    assert memberbot("member", "show", "x1", cwd=tmp_path).returncode == 2


def test_operator_mistakes_get_one_line_not_a_traceback(tmp_path):
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    cases = [
        (("config", "check"), {"MEMBERBOT_PROGRAMME": str(tmp_path / "bin.toml")}, "UTF-8"),
        (("db", "downgrade", "nope"), {}, "migration:"),
        (("db", "upgrade"), {"MEMBERBOT_DATABASE_URL": "foo"}, "database 'foo'"),
        (("db", "upgrade"), {"MEMBERBOT_DATABASE_URL": "postgresql+asyncpg://x@127.0.0.1:1/x"},
         "database postgresql+asyncpg://x@127.0.0.1:1/x"),
        (("db", "current"), {"MEMBERBOT_LOG_LEVEL": "verbose"}, "MEMBERBOT_LOG_LEVEL"),
    ]
    for args, env, says in cases:
        result = memberbot(*args, cwd=tmp_path, env=env)
        assert result.returncode in (1, 2), (args, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert memberbot("--log-level", "debug", "config", "check", cwd=tmp_path).returncode == 0


def test_the_log_level_variable_applies_to_run_too(tmp_path):
    result = memberbot("run", cwd=tmp_path, stdin="/start\n", env={"MEMBERBOT_LOG_LEVEL": "INFO"})
    assert '"msg": "database ready"' in result.stderr
    quiet = memberbot("run", cwd=tmp_path, stdin="/start\n")
    assert "database ready" not in quiet.stderr


def test_member_show_never_changes_the_schema(tmp_path):
    memberbot("chat", cwd=tmp_path, stdin="/start\n")
    memberbot("db", "downgrade", "base", cwd=tmp_path)
    result = memberbot("member", "show", "1", cwd=tmp_path)
    assert result.returncode == 1 and "memberbot db upgrade" in result.stderr
    assert "revision: none" in memberbot("db", "current", cwd=tmp_path).stdout
