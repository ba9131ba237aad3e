"""`memberbot wechat menu`: push the programme's menu to the Official Account.

Imports of aiohttp and the API client wait until the command runs, so the rest of
the CLI starts without them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from bot import programme as programme_file
from bot.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    wechat = sub.add_parser("wechat", help="WeChat Official Account tools",
                            description="Tools for the WeChat Official Account.")
    actions = wechat.add_subparsers(dest="wechat_command", required=True, metavar="ACTION")
    menu = actions.add_parser("menu", help="push the programme's [[menu]] as the custom menu")
    menu.add_argument("--dry-run", action="store_true",
                      help="print the menu WeChat would get, without pushing it")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    import aiohttp

    from bot.app import lifespan
    from bot.wechat.api import Api, ApiError, fetcher
    from bot.wechat.menu import CREATE, MenuError, build
    from bot.wechat.service import token_store

    programme = programme_file.load(settings.programme_file)
    try:
        menu = build(programme)
    except MenuError as exc:
        print(f"menu: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        return 0
    if not settings.wechat:
        print("WeChat is not configured: set MEMBERBOT_WECHAT_APP_ID, "
              "MEMBERBOT_WECHAT_APP_SECRET and MEMBERBOT_WECHAT_TOKEN", file=sys.stderr)
        return 2
    try:
        async with lifespan(settings) as app, aiohttp.ClientSession() as session:
            fetch = fetcher(session, settings.wechat_api_url, settings.wechat_app_id or "",
                            settings.wechat_app_secret or "", lambda: datetime.now(UTC))
            async with token_store(settings, app.db, fetch) as tokens:
                await Api(session, settings.wechat_api_url, tokens).call(CREATE, menu)
    except ApiError as exc:
        print(f"WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    print(f"menu pushed: {len(menu['button'])} top-level buttons")
    return 0
