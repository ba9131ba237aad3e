"""Telegram throughput, inbound and outbound, in one run.

    python -m benchmarks.telegram

Inbound: memberbot against a bare aiogram echo bot (benchmarks.telegram_inbound).
Outbound: 10,000 messages through the flood-safe sender against the local Bot API
server enforcing 300 msg/s (benchmarks.telegram_outbound). Exit status 1 when either
misses its target.
"""

from __future__ import annotations

import sys

from benchmarks import telegram_inbound, telegram_outbound


def main() -> int:
    print("== inbound ==")
    inbound = telegram_inbound.main([])
    print("\n== outbound ==")
    outbound = telegram_outbound.main([])
    return inbound or outbound


if __name__ == "__main__":
    sys.exit(main())
