"""Parsing what members type into profile fields. Refusals are codes, not prose."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from domain.errors import InvalidInput

NAME_MAX = 64
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_BIRTHDAY = re.compile(
    r"\s*(?:(?P<y>\d{4})\s*[-/.年]\s*)?(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?\s*"
)


def parse_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise InvalidInput("name_empty")
    if len(name) > NAME_MAX:
        raise InvalidInput("name_too_long", max=NAME_MAX)
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("name_invalid")
    return name


def parse_phone(text: str) -> str:
    """Accept local or international numbers; keep '+' and digits only."""
    raw = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text.strip()))
    digits = raw[1:] if raw.startswith("+") else raw
    if not digits.isascii() or not digits.isdigit():
        raise InvalidInput("phone_not_digits")
    if not 6 <= len(digits) <= 15:
        raise InvalidInput("phone_length", min=6, max=15)
    return ("+" if raw.startswith("+") else "") + digits


def phone_spellings(phone: str, country_code: int) -> tuple[str, ...]:
    """Every way a number that `parse_phone` kept may sit on a member, its international
    form first: /profile keeps it as typed, local ("13800138000", "013800138000") or
    international ("+8613800138000", "008613800138000"), and a platform may share a
    contact without its plus ("8613800138000"). A local number is in `country_code`;
    one that starts with that code may also be the code without its plus, so both
    readings are given (a lookup that finds two members must say so, not pick one)."""
    code = str(country_code)
    if phone.startswith("+"):
        readings = [phone[1:]]
    elif phone.startswith("00"):
        readings = [phone[2:]]
    else:
        readings = [code + phone.removeprefix("0")]
        if phone.startswith(code) and len(phone) - len(code) >= 6:
            readings.append(phone)
    forms: list[str] = []
    for full in readings:
        forms += [f"+{full}", full, f"00{full}"]
        if full.startswith(code) and len(full) > len(code):
            forms += [full[len(code):], f"0{full[len(code):]}"]
    return tuple(dict.fromkeys(forms))


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None


def parse_birthday(text: str, today: date) -> Birthday:
    """MM-DD or YYYY-MM-DD (also with / . or 年月日). 29 Feb without a year is fine."""
    match = _BIRTHDAY.fullmatch(unicodedata.normalize("NFKC", text))
    if not match:
        raise InvalidInput("birthday_format")
    month, day = int(match["m"]), int(match["d"])
    year = int(match["y"]) if match["y"] else None
    try:
        date(year or 2000, month, day)  # 2000 is a leap year, so 29 Feb passes
    except ValueError:
        raise InvalidInput("birthday_no_such_date") from None
    if year is not None and not (today.year - 120 <= year and date(year, month, day) <= today):
        raise InvalidInput("birthday_out_of_range")
    return Birthday(month, day, year)
