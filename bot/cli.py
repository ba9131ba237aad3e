"""`memberbot` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace

from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot import console, importing, logs, scheduling
from bot import member_cli as operator
from bot import programme as programme_file
from bot import run as running
from bot.app import lifespan
from bot.settings import Settings, SettingsError
from bot.wechat import cli as wechat_cli
from domain import config
from domain.storage import schema
from domain.storage.database import Database

log = logging.getLogger("memberbot")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
                                     "With no platform configured, start the console chat.")
    run.add_argument("--telegram-library", choices=["aiogram", "ptb"], default="aiogram",
                     help="the Telegram library to run on (default: aiogram)")

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
    chat.add_argument("--user", default="you", help="name of the simulated member (default: you)")
    chat.add_argument("--locale", choices=["en", "zh_Hans"], default=None,
                      help="language hint, as a platform would give it")

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
    imp_sub.add_parser("purchases", help="order_id, amount, currency and member columns; "
                                         "see bot/importing.py").add_argument("file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if settings.log_level is not None and settings.log_level not in LEVELS:
        print(f"MEMBERBOT_LOG_LEVEL must be one of {', '.join(LEVELS)}", file=sys.stderr)
        return 2
    quiet = "WARNING" if args.command in ("chat", "run") else "INFO"
    logs.configure(args.log_level or settings.log_level or quiet)
    try:
        return asyncio.run(_dispatch(args, settings))
    except config.ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"migration: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"database {_safe_url(settings.database_url)}: {_first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


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
    if args.command == "wechat":
        return await wechat_cli.run(args, settings)
    if args.command == "run":
        return await running.run(replace(settings, telegram_library=args.telegram_library))
    if args.command == "scheduler":
        if not 0.1 <= args.poll <= 3600:
            print("--poll must be between 0.1 and 3600 seconds", file=sys.stderr)
            return 2
        return await scheduling.standalone(settings, poll=args.poll)
    return await _chat(settings, user=args.user, locale=args.locale)


async def _chat(settings: Settings, user: str, locale: str | None) -> int:
    async with lifespan(settings) as app, console.session(app, user=user, locale=locale) as chat:
        await console.run(chat, default_locale=app.programme.default_locale)
    return 0


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    db = Database.from_url(settings.database_url)
    try:
        if args.db_command == "upgrade":
            await schema.upgrade(db.engine)
        elif args.db_command == "downgrade":
            await schema.downgrade(db.engine, args.revision)
        print(f"revision: {await schema.current(db.engine) or 'none'} (head: {schema.head()})")
    finally:
        await db.dispose()
    return 0


def _config_check(settings: Settings) -> int:
    programme = programme_file.load(settings.programme_file)
    tiers = ", ".join(f"{t.code} ({t.threshold})" for t in programme.tiers.levels)
    print(f"{settings.programme_file or config.DEFAULT_FILE}: ok")
    print(f"  tiers ({programme.tiers.mode}, by {programme.tiers.basis}): {tiers}")
    print(f"  expiry: {programme.expiry.policy}; default locale: {programme.default_locale}; "
          f"time zone: {programme.timezone}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
