"""Identifiers that arrive from tills and platforms and end up inside keys and rows.

Each is checked whole (`fullmatch`): with `match` and a closing `$`, "A-1\\n" passed
as a second order "A-1". The patterns spell out their characters (no \\w, \\d or \\s),
so the OpenAPI document quotes them as they are and every JSON Schema engine reads
them as we do. None admits a control character, which PostgreSQL refuses where SQLite
stores it; lone surrogates, which JSON can spell but UTF-8 cannot, are refused at the edge
with the whole body.
"""

from __future__ import annotations

import re
from typing import Any

ORDER_ID = r"[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,63}"  # also a refund id and a till
MEMBER_NUMBER = r"[0-9]{1,18}"
PLATFORM = r"[a-z][a-z0-9_]{0,15}"
EXTERNAL_ID = r"[!-~]{1,128}"  # printable ASCII, as every platform's user ids are
CURRENCY = r"[A-Z]{3}"
PHONE = r"[+]?(?:[ ().-]{0,2}[0-9]){6,15}"  # 6 to 15 digits, spaced as written
# SKUs and categories, Chinese ones too; never `|` or `;`, the import's separators.
ITEM_TEXT = r"[^\x00-\x1f\x7f-\x9f|;]{1,64}"
COUPON_CODE = r"[A-Za-z0-9 _-]{1,40}"  # as typed: normalized before lookup
DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"  # a calendar day, 2026-03-08; its validity checked apart
CHARGE_ID = r"[!-~]{1,128}"  # a payment's charge id, as the platform gives it

def valid(pattern: str, value: Any) -> bool:
    """True when `value` is a string that `pattern` matches from end to end."""
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None  # re caches


def anchored(pattern: str) -> str:
    """The pattern as JSON Schema writes it, where `$` is the end of the string."""
    return f"^{pattern}$"
