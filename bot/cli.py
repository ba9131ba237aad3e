"""`memberbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import replace

from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from bot import backup_cli, console, importing, logs, scheduling, web
from bot import member_cli as operator
from bot import programme as programme_file
from bot import run as running
from bot.app import lifespan
from bot.settings import Settings, SettingsError, shown_url
from bot.wechat import cli as wechat_cli
from domain import config
from domain.storage import backups, schema, sqlite_backup, sqlite_in_use
from domain.storage.database import Database
from domain.storage.sqlite_in_use import InUse
from handlers.engine import i18n

log = logging.getLogger("memberbot")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_USER = 64  # characters of a console member's name
SIGPIPE_EXIT = 141  # 128 + SIGPIPE, what a shell shows for a reader that went away


def member_name(value: str) -> str:
    """`--user`: the console member's name, which becomes their identity."""
    name = value.strip()
    if not name:
        raise argparse.ArgumentTypeError("a member name cannot be empty")
    odd = next((c for c in name if unicodedata.category(c)[0] == "C"
                or unicodedata.category(c) in ("Zl", "Zp")), None)
    if odd is not None:
        raise argparse.ArgumentTypeError(f"a member name cannot hold control characters "
                                         f"(found U+{ord(odd):04X})")
    if len(name) > MAX_USER:
        raise argparse.ArgumentTypeError(f"a member name can have at most {MAX_USER} "
                                         f"characters, not {len(name)}")
    return name


def terminal_locale(env: Mapping[str, str] | None = None) -> str | None:
    """The console's language hint from the terminal's locale, the way programs pick
    their messages' language: LC_ALL, else LC_MESSAGES, else LANG. `C`/`POSIX` and
    languages we do not speak give none (the programme's default then applies)."""
    env = os.environ if env is None else env
    value = next((env[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(name)),
                 "")
    language = value.split(".")[0].split("@")[0]
    if language in ("", "C", "POSIX"):
        return None
    return i18n.negotiate(language)


def _console_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--user", default="you", type=member_name,
                         help="name of the simulated member (default: you)")
    command.add_argument("--locale", choices=["en", "zh_Hans"], default=None,
                         help="language hint, as a platform would give it (default: from "
                              "the terminal's LC_ALL, LC_MESSAGES or LANG)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memberbot",
        description="A membership (loyalty) bot for Telegram, WeChat and the terminal.",
        epilog="Settings come from MEMBERBOT_* environment variables; see README.md.",
    )
    p.add_argument("--log-level", default=None, type=str.upper, choices=LEVELS,
                   help="log detail on stderr (default: MEMBERBOT_LOG_LEVEL, else INFO; "
                        "WARNING while chatting)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start every configured platform; the console chat when "
                                     "none is",
                         description="Apply migrations, then start every configured platform. "
                                     "With no chat platform configured, start the console "
                                     "chat (beside the purchases API only when stdin is a "
                                     "terminal). A banner first says what runs and where.")
    run.add_argument("--telegram-library", choices=["aiogram", "ptb"], default="aiogram",
                     help="the Telegram library to run on (default: aiogram)")
    _console_options(run)

    sched = sub.add_parser("scheduler", help="run the scheduled jobs only",
                           description="Apply migrations, then run the scheduled jobs "
                                       "(birthdays, win-back, expiry, tier reviews, campaign "
                                       "starts) and nothing else. On PostgreSQL one process "
                                       "runs them and the others stand by to take over.")
    sched.add_argument("--poll", type=float, default=scheduling.POLL_SECONDS,
                       metavar="SECONDS",
                       help="how often to take /jobs requests and, standing by, to try to "
                            f"take over (default {scheduling.POLL_SECONDS:g})")

    chat = sub.add_parser("chat", help="chat with the bot in this terminal",
                          description="An interactive terminal chat running the same handlers "
                                      "as Telegram and WeChat. Reads a script when stdin is "
                                      "not a terminal.")
    _console_options(chat)

    db = sub.add_parser("db", help="database schema",
                        description="Manage the database schema (Alembic migrations).")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply all migrations")
    down = db_sub.add_parser("downgrade", help="revert to a revision ('base' drops every table)")
    down.add_argument("revision", help="a revision id such as 0001, -1 for one step, or base")
    db_sub.add_parser("current", help="show the applied revision")

    mem = sub.add_parser("member", help="look up a member or set their tier floor",
                         description="Operator tools for one member, by member number.")
    mem_sub = mem.add_subparsers(dest="member_command", required=True, metavar="ACTION")
    show = mem_sub.add_parser("show", help="profile, points, tier and accounts")
    show.add_argument("number", help="member number, e.g. 00000042")
    floor = mem_sub.add_parser("floor", help="guarantee a minimum tier ('none' removes it)")
    floor.add_argument("number", help="member number, e.g. 00000042")
    floor.add_argument("tier", help="a tier code from the programme file, or 'none'")

    cfg = sub.add_parser("config", help="programme file",
                         description="Check the programme file (MEMBERBOT_PROGRAMME).")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    cfg_sub.add_parser("check", help="validate the programme file and print a summary")
    wechat_cli.add_parser(sub)

    imp = sub.add_parser("import", help="import purchases from a CSV file",
                         description="Batch back-office imports. Already imported orders "
                                     "are skipped; bad rows are reported and the rest go on.")
    imp_sub = imp.add_subparsers(dest="import_command", required=True, metavar="WHAT")
    imp_sub.add_parser("purchases", help="till orders from a CSV file (columns: see its --help)",
                       description=importing.HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       ).add_argument("file", help="the CSV file")
    sub.add_parser("backup", help="copy a SQLite database, while the bot runs",
                   description="Copy the SQLite database to FILE (replaced if it exists; a "
                               "folder gets a dated file) while the bot goes on serving.",
                   ).add_argument("file", metavar="FILE", help="where the copy goes")
    sub.add_parser("restore", help="put a backup in the database's place",
                   description="Replace the SQLite database with FILE, a copy memberbot "
                               "backup took: only with no memberbot process running on it, "
                               "after checking the copy's integrity and revision (an older "
                               "copy is upgraded). The replaced database is kept beside it.",
                   ).add_argument("file", metavar="FILE", help="the copy to restore")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _reader_gone()


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if settings.log_level is not None and settings.log_level not in LEVELS:
        print(f"MEMBERBOT_LOG_LEVEL must be one of {', '.join(LEVELS)}", file=sys.stderr)
        return 2
    quiet = "WARNING" if args.command in ("chat", "run", "import") else "INFO"
    logs.configure(args.log_level or settings.log_level or quiet)
    try:
        return asyncio.run(_dispatch(args, settings))
    except (config.ConfigError, SettingsError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"migration: {exc}", file=sys.stderr)
        return 2
    except (web.ListenError, InUse) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.filename:  # a file's problem, not the database's
            print(f"{exc.filename}: {exc.strerror or _first_line(exc)}", file=sys.stderr)
        else:
            print(f"database {shown_url(settings.database_url)}: {_first_line(exc)}",
                  file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"database {shown_url(settings.database_url)}: {_first_line(exc)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reader_gone() -> int:
    """Whoever read our output (`memberbot chat | head`) has stopped: end quietly, and
    point stdout at /dev/null so flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return SIGPIPE_EXIT


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "config":
        return _config_check(settings)
    if args.command == "db":
        return await _db(args, settings)
    if args.command == "member":
        return await operator.run(args, settings)
    if args.command == "import":
        return await importing.command(args.file, settings)
    if args.command in ("backup", "restore"):
        return await getattr(backup_cli, args.command)(args.file, settings)
    if args.command == "wechat":
        return await wechat_cli.run(args, settings)
    if args.command == "run":
        return await running.run(replace(settings, telegram_library=args.telegram_library),
                                 user=args.user, locale=args.locale or terminal_locale())
    if args.command == "scheduler":
        if not 0.1 <= args.poll <= 3600:
            print("--poll must be between 0.1 and 3600 seconds", file=sys.stderr)
            return 2
        return await scheduling.standalone(settings, poll=args.poll)
    return await _chat(settings, user=args.user, locale=args.locale or terminal_locale())


async def _chat(settings: Settings, user: str, locale: str | None) -> int:
    async with lifespan(settings) as app, console.session(app, user=user, locale=locale) as chat:
        await console.run(chat, default_locale=app.programme.default_locale)
    return 0


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    user = sqlite_in_use.user_of(settings.database_url)  # no restore meanwhile
    db = Database.from_url(settings.database_url)
    try:
        if args.db_command == "upgrade":  # 0013 reads stored phones in the programme's country
            programme = programme_file.load(settings.programme_file)
            await schema.upgrade(db.engine, phone_country_code=programme.phone_country_code)
        elif args.db_command == "downgrade":
            await schema.downgrade(db.engine, args.revision)
        print(f"revision: {await schema.current(db.engine) or 'none'} (head: {schema.head()})")
    finally:
        await db.dispose()
        user.close()
    return 0


def _config_check(settings: Settings) -> int:
    """The programme file, and the settings (already checked as they were read)."""
    programme = programme_file.load(settings.programme_file)
    tiers = ", ".join(f"{t.code} ({t.threshold})" for t in programme.tiers.levels)
    print(f"{settings.programme_file or config.DEFAULT_FILE}: ok")
    print(f"  tiers ({programme.tiers.mode}, by {programme.tiers.basis}): {tiers}")
    print(f"  expiry: {programme.expiry.policy}; default locale: {programme.default_locale}; "
          f"time zone: {programme.timezone}")
    platforms = ", ".join(running.chat_platforms(settings)) or "none (the console)"
    print("settings: ok")
    print(f"  platforms: {platforms}; purchases API: {'on' if settings.api_key else 'off'}; "
          f"database: {shown_url(settings.database_url)}")
    print(f"  metrics: /metrics {'with a token' if settings.metrics_token else 'open'}; "
          f"backups: {_backups_said(programme, settings)}")
    return 0


def _backups_said(programme: config.Programme, settings: Settings) -> str:
    """What `[backup]` will do, so a mistake shows before the first copy is due."""
    wanted = programme.backup
    if not wanted.folder:
        return "off"
    try:
        database = sqlite_backup.sqlite_file(settings.database_url)
    except sqlite_backup.Refused:  # a database in memory
        return "none (the database is in memory)"
    if database is None:
        return "none here: on PostgreSQL use pg_dump (README, Backups and restore)"
    folder = backups.folder_for(database, wanted.folder).absolute()
    problem = ("; but it is a file, not a folder" if folder.exists() and not folder.is_dir()
               else "")
    return f"every {wanted.every_hours} h into {folder}, the newest {wanted.keep} kept{problem}"


if __name__ == "__main__":
    raise SystemExit(main())
