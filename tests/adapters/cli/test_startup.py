"""Starting memberbot as a new owner would: the banner, the console's options and
language, and start-up mistakes each named for what they are, in one line."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys

import pytest
from aiohttp import ClientSession

from bot import cli
from bot import run as running
from bot.settings import Settings
from bot.web import ListenError
from tests.adapters.cli.live import ROOT, Memberbot
from tests.adapters.cli.test_cli import memberbot


def banner_of(stdout: str) -> dict[str, str]:
    """The banner's rows, by name."""
    lines = stdout.splitlines()
    assert lines[0] == "memberbot run", stdout
    rows = {}
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        name, _, value = line.strip().partition(":")
        rows[name] = value.strip()
    return rows


def test_a_malformed_telegram_token_is_one_line_for_run_and_for_config_check(tmp_path):
    env = {"MEMBERBOT_TELEGRAM_TOKEN": "garbage"}
    for args in (("run",), ("run", "--telegram-library", "ptb"), ("config", "check")):
        result = memberbot(*args, cwd=tmp_path, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stderr.startswith("MEMBERBOT_TELEGRAM_TOKEN is not a bot token: "
                                        "@BotFather gives one like 123456789:"), result.stderr
        assert result.stdout == "", (args, result.stdout)  # in particular, no "ok"
    assert not (tmp_path / "memberbot.db").exists()


def test_config_check_checks_and_summarises_the_settings_too(tmp_path):
    env = {"MEMBERBOT_TELEGRAM_TOKEN": "123456:AAH-well_formed", "MEMBERBOT_API_KEY": "k",
           "MEMBERBOT_DATABASE_URL": "postgresql+asyncpg://bob:s3cret@db.example/club"}
    result = memberbot("config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "settings: ok" in result.stdout
    assert ("platforms: telegram; purchases API: on; "
            "database: postgresql+asyncpg://bob:***@db.example/club") in result.stdout
    assert "s3cret" not in result.stdout
    assert "metrics: /metrics open; backups: off" in result.stdout


@pytest.mark.parametrize(("database", "said"), [
    ("sqlite+aiosqlite:///club.db", "backups: every 6 h into {tmp}/taken, the newest 28 "
                                    "kept; but it is a file, not a folder"),
    ("postgresql+asyncpg://bob@db.example/club",
     "backups: none here: on PostgreSQL use pg_dump"),
])
def test_config_check_says_what_backups_will_do(tmp_path, database, said):
    programme = tmp_path / "programme.toml"
    example = (ROOT / "domain" / "programme.example.toml").read_text(encoding="utf-8")
    on = example.replace('# folder = "backups"\nevery_hours = 24\nkeep = 7',
                         'folder = "taken"\nevery_hours = 6\nkeep = 28')
    assert on != example
    programme.write_text(on, encoding="utf-8")
    (tmp_path / "taken").write_text("a file")
    env = {"MEMBERBOT_PROGRAMME": str(programme), "MEMBERBOT_DATABASE_URL": database,
           "MEMBERBOT_METRICS_TOKEN": "t0ken"}
    result = memberbot("config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert said.format(tmp=tmp_path) in result.stdout
    assert "metrics: /metrics with a token" in result.stdout


def test_every_run_starts_with_a_banner_saying_what_it_serves(tmp_path):
    result = memberbot("run", "--user", "alice", "--locale", "en", cwd=tmp_path,
                       stdin="/start\n")
    assert result.returncode == 0, result.stderr
    assert banner_of(result.stdout) == {
        "platforms": "console",
        "web app": "none (nothing to serve on the web)",
        "purchases API": "off (set MEMBERBOT_API_KEY to turn it on)",
        "database": "sqlite+aiosqlite:///memberbot.db",
        "scheduler": "on, in this process",
        "console": "chatting as alice (language hint en)",
    }
    assert "chatting as alice" in result.stdout and "Member number: 00000001" in result.stdout


def test_the_banner_hides_the_database_password(tmp_path):
    url = "postgresql+asyncpg://bob:s3cret@127.0.0.1:1/club"
    result = memberbot("run", cwd=tmp_path, env={"MEMBERBOT_DATABASE_URL": url})
    assert banner_of(result.stdout)["database"] == "postgresql+asyncpg://bob:***@127.0.0.1:1/club"
    assert "s3cret" not in result.stdout + result.stderr
    assert result.returncode == 1 and result.stderr.startswith("database postgresql")


async def test_the_api_alone_says_where_it_listens_and_why_no_console_starts(tmp_path):
    env = {"MEMBERBOT_API_KEY": "k" * 32, "MEMBERBOT_HTTP_HOST": "127.0.0.1",
           "MEMBERBOT_HTTP_PORT": "0"}
    async with Memberbot("run", cwd=tmp_path, env=env) as bot:
        await bot.line("^  console:")
        rows = banner_of("\n".join(bot.stdout))
        assert rows["platforms"] == "none"
        assert rows["purchases API"] == "on, at /api/v1"
        assert rows["console"] == "not started (stdin is not a terminal)"
        host, _, port = rows["web app"].partition(":")
        assert host == "127.0.0.1" and int(port) > 0
        async with ClientSession() as client:  # the address shown is the one served
            for _ in range(300):
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                        assert response.status == 200
                        break
                except OSError:
                    await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"nothing answers on {port}:\n{bot.output()}")
        assert await bot.stop() == 0
    assert not any("Traceback" in line for line in bot.stderr)


class Terminal(io.StringIO):
    """A script typed at a terminal."""

    def isatty(self) -> bool:
        return True


async def test_with_only_the_api_the_console_runs_beside_it_at_a_terminal(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
                        api_key="k" * 32, http_host="127.0.0.1", http_port=0)
    out = io.StringIO()
    code = await asyncio.wait_for(running.run(
        settings, asyncio.Event(), user="alice", locale="en", stdin=Terminal("/start\n"),
        stdout=out), 120)
    assert code == 0  # the end of the console's input ends the run
    rows = banner_of(out.getvalue())
    assert rows["platforms"] == "console" and rows["purchases API"] == "on, at /api/v1"
    assert rows["console"] == "chatting as alice (language hint en)"
    assert "Member number: 00000001" in out.getvalue()


@pytest.mark.parametrize(("env", "hint"), [
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_GB"}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh_Hans"),
    ({"LANG": "zh_TW.Big5"}, "zh_Hans"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh_Hans"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
    ({"LANG": "C"}, None),
    ({"LANG": "C.UTF-8"}, None),
    ({"LC_ALL": "POSIX", "LANG": "en_US.UTF-8"}, None),
    ({"LANG": "fr_FR.UTF-8"}, None),
    ({"LANG": "de_DE@euro"}, None),
    ({}, None),
])
def test_the_console_language_hint_comes_from_the_terminal_locale(env, hint):
    assert cli.terminal_locale(env) == hint


def test_run_and_chat_take_the_language_from_the_terminal_unless_told(tmp_path):
    english = {"LANG": "en_US.UTF-8"}
    chinese = {"LANG": "zh_CN.UTF-8"}
    run = memberbot("run", "--user", "ann", cwd=tmp_path, env=english, stdin="/start\n")
    assert run.returncode == 0, run.stderr
    assert banner_of(run.stdout)["console"] == "chatting as ann (language hint en)"
    assert "Member number: 00000001" in run.stdout
    chat = memberbot("chat", "--user", "bo", cwd=tmp_path, env=chinese, stdin="/start\n")
    assert "会员号：00000002" in chat.stdout
    told = memberbot("run", "--user", "cy", "--locale", "en", cwd=tmp_path, env=chinese,
                     stdin="/start\n")
    assert "Member number: 00000003" in told.stdout


@pytest.mark.parametrize("command", ["chat", "run"])
@pytest.mark.parametrize(("name", "says"), [
    ("", "a member name cannot be empty"),
    ("   ", "a member name cannot be empty"),
    ("a\x07b", "a member name cannot hold control characters (found U+0007)"),
    ("a\u202eb", "a member name cannot hold control characters (found U+202E)"),
    ("x" * 65, "a member name can have at most 64 characters, not 65"),
])
def test_an_unusable_console_member_name_is_refused(command, name, says, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parser().parse_args([command, "--user", name])
    assert exit_.value.code == 2
    assert f"argument --user: {says}" in capsys.readouterr().err


def test_a_console_member_name_is_taken_without_its_surrounding_spaces():
    assert cli.parser().parse_args(["chat", "--user", "  Ann Lee "]).user == "Ann Lee"
    assert cli.parser().parse_args(["run", "--user", "王小明"]).user == "王小明"


def test_an_empty_member_name_creates_nobody(tmp_path):
    result = memberbot("chat", "--user", "", cwd=tmp_path, stdin="/start\n")
    assert result.returncode == 2 and "a member name cannot be empty" in result.stderr
    assert not (tmp_path / "memberbot.db").exists()


def test_a_busy_port_is_named_in_the_banner_then_in_one_line_not_blamed_on_the_database(
        tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = memberbot("run", cwd=tmp_path, env={
            "MEMBERBOT_API_KEY": "k", "MEMBERBOT_HTTP_HOST": "127.0.0.1",
            "MEMBERBOT_HTTP_PORT": str(port)})
    assert result.returncode == 1
    rows = banner_of(result.stdout)  # the banner still comes first
    assert rows["web app"] == f"none: cannot listen on 127.0.0.1:{port} (address already in use)"
    assert rows["purchases API"] == "not started (the run stops: the web app cannot listen)"
    # nothing starts after the banner: the scheduler does not claim to be on
    assert rows["scheduler"] == "not started (the run stops: the web app cannot listen)"
    assert result.stderr == (f"cannot listen on 127.0.0.1:{port}: address already in use; "
                             "set MEMBERBOT_HTTP_PORT\n")
    assert not (tmp_path / "memberbot.db").exists()  # refused before migrating anything


CONSOLE_ONLY: dict[str, str] = {}
WITH_THE_API = {"MEMBERBOT_API_KEY": "k", "MEMBERBOT_HTTP_HOST": "127.0.0.1",
                "MEMBERBOT_HTTP_PORT": "0"}


@pytest.mark.parametrize("env", [CONSOLE_ONLY, WITH_THE_API], ids=["console", "api"])
def test_a_missing_programme_file_is_said_alone_without_a_banner(tmp_path, env):
    missing = tmp_path / "missing.toml"
    result = memberbot("run", cwd=tmp_path, stdin="/start\n",
                       env={"MEMBERBOT_PROGRAMME": str(missing), **env})
    assert result.returncode == 2
    assert result.stdout == ""  # no banner, no "chatting as you"
    assert result.stderr == (f"{missing}: cannot read the programme file: "
                             "No such file or directory\n")
    assert not (tmp_path / "memberbot.db").exists()


@pytest.mark.parametrize("env", [CONSOLE_ONLY, WITH_THE_API], ids=["console", "api"])
def test_an_invalid_programme_file_names_its_field_without_a_banner(tmp_path, env):
    bad = tmp_path / "programme.toml"
    bad.write_text((ROOT / "domain" / "programme.example.toml").read_text(encoding="utf-8")
                   .replace('mode = "up_and_down"', 'mode = "sideways"', 1), encoding="utf-8")
    assert "sideways" in bad.read_text(encoding="utf-8")
    result = memberbot("run", cwd=tmp_path, stdin="/start\n",
                       env={"MEMBERBOT_PROGRAMME": str(bad), **env})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"{bad}: invalid programme configuration\n")
    assert "tiers.mode" in result.stderr
    assert not (tmp_path / "memberbot.db").exists()


def test_an_owner_that_is_not_platform_and_id_is_refused_before_the_banner(tmp_path):
    env = {"MEMBERBOT_OWNER": "12345"}
    for args in (("run",), ("config", "check")):
        result = memberbot(*args, cwd=tmp_path, env=env, stdin="/start\n")
        assert (result.returncode, result.stdout) == (2, ""), (args, result)
        assert result.stderr == ("MEMBERBOT_OWNER must look like platform:id, e.g. "
                                 "telegram:12345\n")
    assert not (tmp_path / "memberbot.db").exists()


def test_a_reader_that_goes_away_ends_the_chat_quietly(tmp_path):
    """`memberbot chat < script | head -1`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", "--locale", "en"],
                            cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write("/help\n" * 300)  # far more answer than a pipe holds
    proc.stdin.close()
    assert "chatting as you" in proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == cli.SIGPIPE_EXIT
    assert proc.stderr.read() == ""  # no "Broken pipe", no "Exception ignored"


def test_on_a_busy_port_the_banner_claims_nothing_starts():
    """With a terminal the console would be on; but the run stops after the banner."""
    busy = ListenError("127.0.0.1:8080", "address already in use", None)
    settings = Settings(database_url="sqlite+aiosqlite:///x.db")
    rows = banner_of(running.banner(settings, None, None, "alice", "en", busy))
    assert rows["scheduler"].startswith("not started") and "on," not in rows["scheduler"]
    assert rows["console"] == "not started (the run stops: the web app cannot listen)"
    rows = banner_of(running.banner(settings, None, None, "alice", "en"))
    assert rows["scheduler"] == "on, in this process"
    assert rows["console"] == "chatting as alice (language hint en)"
    served = Settings(database_url="sqlite+aiosqlite:///x.db", api_key="k",
                      telegram_token="123456:" + "A" * 35)
    rows = banner_of(running.banner(served, None, "a chat platform is configured", "alice",
                                    "en", busy))
    assert rows["purchases API"] == "not started (the run stops: the web app cannot listen)"
    assert rows["platforms"].endswith("; not started (the run stops: the web app cannot listen)")
    rows = banner_of(running.banner(served, "127.0.0.1:8080", "a chat platform is configured",
                                    "alice", "en"))
    assert rows["purchases API"] == "on, at /api/v1" and "not started" not in rows["platforms"]
