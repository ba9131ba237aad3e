"""Durations as admins type them: `30m`, `2h`, `3d`, `1w`, and `0` for none.

Group bots taught admins this spelling; a bare number means minutes nowhere, so it
is refused rather than guessed (only `0` stands alone)."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(?:(\d{1,6})([smhdw]))+|0", re.IGNORECASE)
_PART = re.compile(r"(\d{1,6})([smhdw])", re.IGNORECASE)
LONGEST = timedelta(days=3650)


def parse(text: str) -> timedelta | None:
    """The duration `text` says (`1d12h` adds up), or None when it is not one or is
    longer than ten years. Full-width digits (a Chinese keyboard's `３０m`) are digits,
    and invisible format characters are ignored."""
    spelt = plain(text)
    if not _DURATION.fullmatch(spelt):
        return None
    seconds = sum(int(n) * _UNITS[u.lower()] for n, u in _PART.findall(spelt))
    # Compared before a timedelta is made: enough parts overflow timedelta itself.
    return timedelta(seconds=seconds) if seconds <= LONGEST.total_seconds() else None


def plain(text: str) -> str:
    """`text` as a length is read: NFKC (full-width digits are digits), without
    invisible format characters (a direction mark), trimmed."""
    return "".join(c for c in unicodedata.normalize("NFKC", text)
                   if unicodedata.category(c) != "Cf").strip()


def parts(length: timedelta) -> list[tuple[int, str]]:
    """(count, unit) from the largest unit down: 9 days is [(1, "w"), (2, "d")]."""
    seconds = int(length.total_seconds())
    found = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            found.append((seconds // size, unit))
            seconds %= size
    return found


def spell(length: timedelta) -> str:
    """The shortest spelling `parse` reads back, for settings shown to admins."""
    seconds = int(length.total_seconds())
    if seconds == 0:
        return "0"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)
