"""`memberbot wechat menu`: push the programme's menu to the Official Account.

Imports of aiohttp and the API client wait until the command runs, so the rest of
the CLI starts without them. When WeChat refuses, the errcodes a new setup meets
most say which setting to look at; WeChat's own code and text follow for reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from bot import programme as programme_file
from bot.settings import Settings

# What to check for the errcodes a first push of the menu meets most.
HINTS = {
    40013: "WeChat does not know this app id: check MEMBERBOT_WECHAT_APP_ID "
           "(the AppID of the Official Account, starting with \"wx\").",
    40125: "the app secret does not match the app id: check MEMBERBOT_WECHAT_APP_SECRET "
           "(the AppSecret; resetting it in the WeChat admin console replaces the old one).",
    40001: "WeChat did not accept the credentials: check MEMBERBOT_WECHAT_APP_SECRET; if it "
           "is right, another program fetching tokens for this app may be replacing ours.",
    40164: "this server's IP address is not on the Official Account's IP whitelist: add it "
           "in the WeChat admin console (mp.weixin.qq.com, Basic Configuration, IP whitelist).",
    48001: "this Official Account may not set a custom menu through the API: check the "
           "account's type and verification in the WeChat admin console.",
    -2: "WeChat could not be reached: check the network, or MEMBERBOT_WECHAT_API_URL.",
}


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
        print(refusal(exc.errcode, exc.errmsg), file=sys.stderr)
        return 1
    print(f"menu pushed: {len(menu['button'])} top-level buttons")
    return 0


def refusal(errcode: int, errmsg: str) -> str:
    """Why the menu was not pushed, in our words where we know the code, with WeChat's
    errcode and errmsg kept for reference (and for WeChat's own documentation)."""
    hint = HINTS.get(errcode)
    said = f"WeChat errcode {errcode}: {errmsg}" if errmsg else f"WeChat errcode {errcode}"
    if hint is None:
        return f"WeChat refused the menu ({said})."
    return f"The menu was not pushed: {hint}\n({said})"
