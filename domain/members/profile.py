"""Parsing what members type into profile fields. Refusals are codes, not prose."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from domain.errors import InvalidInput

NAME_MAX = 64
# ASCII digits (after NFKC: full-width ones too) spaced as people write them, and a
# leading plus; no letters (phonenumbers would read 1-800-FLOWERS, or "ext. 12").
_PHONE_TYPED = re.compile(r"[\s(]*\+?[\s().\-\u2010-\u2015]*[0-9][0-9\s().\-\u2010-\u2015]*")
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


def parse_phone(text: str, country_code: int, *, international: bool = False,
                must_exist: bool = False) -> str:
    """A phone in the one form every phone is stored and looked up in, E.164
    ("+8613800138000"), however it was written: spaced, dashed, full-width, "+" or "00"
    and a country code, or none and then in the programme's `country_code`.
    `international` is for a contact a platform shares: it carries its country code,
    with or without the plus. A number phonenumbers does not think possible (too short,
    too long, no such country) is refused, and so is one that can only be dialled
    locally (missing its area code), whose E.164 form would name another line.
    `must_exist` is for a number a member types in: one of the right length that no
    line can have (no Chinese number starts with 12) is refused too. Finding a member
    by phone keeps the looser rule, so numbers stored before still match."""
    typed = unicodedata.normalize("NFKC", text).strip()
    if not _PHONE_TYPED.fullmatch(typed):
        raise InvalidInput("phone_not_digits")
    if international and "+" not in typed:
        typed = "+" + typed
    try:
        number = phonenumbers.parse(typed, phone_region(country_code))
    except NumberParseException:
        raise InvalidInput("phone_impossible") from None
    if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        raise InvalidInput("phone_impossible")
    if must_exist and not phonenumbers.is_valid_number(number):
        raise InvalidInput("phone_no_such_number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_region(country_code: int) -> str | None:
    """The region phonenumbers reads local numbers in (86 -> "CN"); None for a code no
    country has, when only numbers with their country code can be read."""
    region = phonenumbers.region_code_for_country_code(country_code)
    return None if region == phonenumbers.UNKNOWN_REGION else region


def shown_phone(phone: str) -> str:
    """A stored phone grouped for reading ("+86 138 0013 8000"); one stored before
    phones were normalised, that cannot be read, as it is."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone, None),
                                          PhoneNumberFormat.INTERNATIONAL)
    except NumberParseException:
        return phone


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
