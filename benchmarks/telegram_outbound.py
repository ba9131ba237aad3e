"""Outbound throughput: the Sender against a Bot API server that enforces flood control.

    python -m benchmarks.telegram_outbound [--messages N] [--chats C] [--limit L]

A local fake Bot API server (tests/support/fake_telegram.py) answers 429 above `--limit`
messages per second (a token bucket holding one second's worth, like Telegram's). A real
aiogram Bot, an AiogramTransport and a Sender paced at that same limit send `--messages`
messages to `--chats` private chats, all at once (one task per message), interleaved so
that consecutive messages go to different chats: with 1,000 chats and 300 a second a
chat's next message is due after 3.3 s, well past the one-second per-chat spacing, so the
global rate is the bottleneck.

Every text carries a unique tag; the server side counts what it performed, so

* achieved rate = messages performed / elapsed, ratio = achieved / limit (target >= 0.95);
* 429s answered (target <= 0.1 % of messages);
* lost = messages never performed, duplicated = messages performed more than once (both 0).

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from benchmarks.common import format_table, load_average
from bot.telegram.sender import Sender
from bot.telegram.transport import AiogramTransport
from handlers.engine.types import Rendered
from tests.support.fake_telegram import FakeBotAPI

TARGET_RATIO = 0.95
TARGET_429_SHARE = 0.001
FIRST_CHAT = 10_000


async def measure(messages: int = 10_000, limit: int = 300, chats: int = 1_000) -> dict[str, Any]:
    """Send `messages` through a Sender at `limit`/s to a server limited to `limit`/s."""
    async with FakeBotAPI() as api:
        api.rate_limit = limit
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.root), limit=200)
        bot = Bot(api.token, session=session)
        try:
            sender = Sender(AiogramTransport(bot), rate=limit)
            jobs = [(str(FIRST_CHAT + i % chats), f"benchmark message #{i}")
                    for i in range(messages)]
            started = time.perf_counter()
            results = await asyncio.gather(*(sender.send(chat, Rendered(text))
                                             for chat, text in jobs))
            elapsed = time.perf_counter() - started
        finally:
            await bot.session.close()
        performed = Counter(call.params["text"] for call in api.sent("sendMessage"))
        wanted = {text for _, text in jobs}
        return {
            "messages": messages,
            "chats": chats,
            "limit": limit,
            "elapsed_s": elapsed,
            "rate": sum(performed.values()) / elapsed,
            "ratio": sum(performed.values()) / elapsed / limit,
            "too_many_requests": api.too_many_requests,
            "lost": len(wanted - performed.keys()),
            "duplicated": sum(n - 1 for n in performed.values() if n > 1),
            "not_sent": sum(r.status != "sent" for r in results),
            "flood_waits": sender.counters.flood_waits,
        }


def table(figures: dict[str, Any]) -> str:
    n = figures["messages"]
    rows = [
        ("messages / chats", f"{n:,} / {figures['chats']:,}", ""),
        ("elapsed", f"{figures['elapsed_s']:.2f} s", ""),
        ("achieved rate", f"{figures['rate']:.1f} msg/s", f"limit {figures['limit']}"),
        ("achieved / limit", f"{figures['ratio']:.3f}", _verdict(figures["ratio"] >= TARGET_RATIO,
                                                                f">= {TARGET_RATIO}")),
        ("429s answered", f"{figures['too_many_requests']}",
         _verdict(figures["too_many_requests"] <= TARGET_429_SHARE * n,
                  f"<= {TARGET_429_SHARE * n:.0f}")),
        ("lost", f"{figures['lost']}", _verdict(figures["lost"] == 0, "= 0")),
        ("duplicated", f"{figures['duplicated']}", _verdict(figures["duplicated"] == 0, "= 0")),
        ("not sent (Sender)", f"{figures['not_sent']}", ""),
    ]
    head = ("figure", "value", "target")
    return format_table(head, rows, left={0, 2})


def passed(figures: dict[str, Any]) -> bool:
    return (figures["ratio"] >= TARGET_RATIO and figures["lost"] == 0
            and figures["duplicated"] == 0
            and figures["too_many_requests"] <= TARGET_429_SHARE * figures["messages"])


def _verdict(ok: bool, target: str) -> str:
    return f"{target} {'PASS' if ok else 'FAIL'}"



def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.telegram_outbound",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=10_000, help="messages to send (10,000)")
    p.add_argument("--chats", type=int, default=1_000, help="distinct private chats (1,000)")
    p.add_argument("--limit", type=int, default=300,
                   help="server flood limit and Sender rate, messages/s (300)")
    args = p.parse_args(argv)
    if args.messages < 1 or args.chats < 1 or args.limit < 1:
        p.error("--messages, --chats and --limit must be positive")
    print(f"telegram outbound benchmark: {args.messages:,} messages to {args.chats:,} chats "
          f"at {args.limit}/s; load average {load_average()}", flush=True)
    figures = asyncio.run(measure(args.messages, args.limit, args.chats))
    print()
    print(table(figures))
    print(f"\nload average {load_average()}")
    return 0 if passed(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
