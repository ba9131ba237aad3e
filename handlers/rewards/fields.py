"""A catalogue item's fields as staff read them on /reward and type them back.

Money is shown as money and typed as at the till (`12.50`, as /purchase takes it),
never in minor units; a percentage stays a percentage; a free item has no value. An
empty field reads as what it means ("no limit", "every tier", "open"), and a tier is
the lowest that may redeem: "Silver and above".
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from domain.config import LocalText, Programme, RewardItem, Tiers
from domain.rewards import catalogue
from domain.rewards.catalogue import EditRefused
from handlers.engine.types import Local, Money, Text
from handlers.engine.words import tier_called
from handlers.points.purchase import decimal_comma, read_amount

# What is typed to clear a field, in either language and as the card shows it.
NONE = {"none", "-", "no limit", "unlimited", "open", "all", "any", "every tier",
        "无", "不限", "所有等级", "全部"}
# A whole number as typed: 1500, 1,500 or 1，500 (any script's digits); its size is the
# model's to judge, so a long one is refused with the range, not as unreadable.
NUMBER = re.compile(r"\d{1,30}|\d{1,3}(?:[,，]\d{3}){1,9}")
DATE_SHAPED = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")  # the day may not exist
SEPARATOR = re.compile(r"\s*[|｜]\s*")
MAX_TYPED = 420  # two wordings of 200 characters and the separator, with room
EXAMPLE = 1250  # minor units: "12.50" in a prompt, shown as the money it means
AMOUNTS = ("amount_off", "gift", "goods", "experience")  # kinds whose value is money
WORDING = ("title", "description")  # in every language; typed in one, or all at once
LANGUAGES = ("en", "zh_Hans")  # the order they are typed in: "English | 中文"


def editable(item: RewardItem) -> tuple[str, ...]:
    """The fields an operator may change on this item: a free item has no value."""
    fields = ("cost", "value", "min_tier", "per_member", "dates", "title", "description",
              "coupon_days")
    return tuple(f for f in fields if not (f == "value" and item.kind == "free_item"))


def floor(ladder: Tiers, code: str | None) -> Text:
    """Who may redeem an item whose lowest tier is `code`: that tier and those above
    it ("Silver and above"); the top tier alone ("Gold only"); no tier, everyone."""
    if not code:
        return Text("rewards.floor.all")
    top = ladder.levels[-1].code == code
    return Text("rewards.floor.only" if top else "rewards.floor.above",
                {"tier": tier_called(ladder, code)})


def value(programme: Programme, item: RewardItem) -> Any:
    """The value as money, a percentage off, or None when there is none to show."""
    if item.kind == "percent_off":
        return Text("catalogue.percent", {"percent": item.value})
    if item.kind == "free_item" or (item.kind != "amount_off" and not item.value):
        return None
    return Money(item.value, programme.currency)


def shown(programme: Programme, item: RewardItem, field: str) -> Any:
    """A field's value as the operator reads it, in words where it is empty."""
    if field == "dates":
        return dates(item.starts, item.ends)
    if field in ("title", "description"):
        text: LocalText = getattr(item, field)
        return f"{text.en} | {text.zh_Hans}"
    if field == "min_tier":
        return floor(programme.tiers, item.min_tier)
    if field == "value":
        return value(programme, item) or Text("catalogue.value_unset")
    if field == "per_member" and item.per_member is None:
        return Text("catalogue.no_limit")
    if field in ("cost", "coupon_days"):
        unit = "points" if field == "cost" else "days"
        return Text(f"catalogue.{unit}", {"count": getattr(item, field)})
    return getattr(item, field)


def dates(starts: date | None, ends: date | None) -> Text:
    if starts and ends:
        return Text("catalogue.dates.both", {"starts": starts.isoformat(),
                                             "ends": ends.isoformat()})
    if starts:
        return Text("catalogue.dates.from", {"starts": starts.isoformat()})
    if ends:
        return Text("catalogue.dates.until", {"ends": ends.isoformat()})
    return Text("catalogue.dates.open")


def tiers_hint(ladder: Tiers) -> Any:
    """The tiers' names as one line ("Member, Silver, Gold"): what may be typed."""
    names: list[Any] = [Local(t.name.model_dump()) for t in ladder.levels]
    out = names[-1]
    for name in reversed(names[:-1]):
        out = Text("rules.list", {"first": name, "rest": out})
    return out


def tier_code(ladder: Tiers, typed: str) -> str:
    """A tier typed by its code or its name in either language; else as typed (the
    catalogue refuses it, naming it)."""
    wanted = " ".join(typed.split()).casefold()
    for tier in ladder.levels:
        if wanted in (tier.code, tier.name.en.casefold(), tier.name.zh_Hans.casefold()):
            return tier.code
    return wanted


def language_of(locale: str) -> str:
    """The wording language an operator writing in `locale` types alone."""
    return next((lang for lang in LANGUAGES if locale.startswith(lang.split("_")[0])), "en")


def parse(programme: Programme, field: str, text: str, kind: str = "",
          language: str = "en") -> dict[str, Any] | None:
    """What the operator typed as the file's fields, or None when it does not read.
    A number or amount given something else is refused with its range (EditRefused).
    Wording without "|" is in the operator's `language` alone: only that one is given."""
    raw = text.strip()
    if not raw:
        return None
    cleared = " ".join(raw.split()).casefold() in NONE
    if field == "value":
        return {field: amount(programme, raw, kind)}
    if field in ("cost", "coupon_days", "per_member"):
        if field == "per_member" and cleared:
            return {field: None}
        return {field: number(raw, field, kind)}
    if len(raw) > MAX_TYPED:
        if field in ("title", "description"):
            high = catalogue.bounds(LocalText, "en")[1]
            raise EditRefused("invalid", field=field, rule="length", language="", high=high)
        return None
    if field == "min_tier":
        return {field: None if cleared else tier_code(programme.tiers, raw)}
    if field == "dates":
        return _dates(raw, cleared)
    halves = SEPARATOR.split(raw)
    if len(halves) == 1:
        return {field: {language: raw}}
    if len(halves) != len(LANGUAGES) or not all(halves):
        return None
    return {field: dict(zip(LANGUAGES, halves, strict=True))}


def _dates(raw: str, cleared: bool) -> dict[str, Any] | None:
    if cleared:
        return {"starts": None, "ends": None}
    ends = raw.split()
    if len(ends) == 1 and ends[0] != "-":  # one word: which end was meant is not said
        # Its example is the date typed, when it is one; else the refusal picks a real
        # one ("foo -" would teach nothing).
        typed = _date(ends[0])
        raise EditRefused("invalid", field="dates", rule="one_date",
                          **({"date": typed} if typed else {}))
    if len(ends) != 2:
        return None
    if any(e != "-" and _date(e) is None for e in ends):
        missing = next((e for e in ends if _no_such_day(e)), None)
        if missing is not None:  # 2026-02-30: written as a date, but no such day
            raise EditRefused("invalid", field="dates", rule="no_such_date", date=missing)
        return None
    starts, until = (None if e == "-" else _date(e) for e in ends)
    return {"starts": starts, "ends": until}


def _date(typed: str) -> str | None:
    """A day as YYYY-MM-DD (typed so, as 20261201, or as 2026-12-1), or None when
    `typed` is none."""
    try:
        return date.fromisoformat(typed).isoformat()
    except ValueError:
        pass
    shaped = DATE_SHAPED.fullmatch(typed)
    try:
        return date(*map(int, shaped.groups())).isoformat() if shaped else None
    except ValueError:
        return None


def _no_such_day(typed: str) -> bool:
    """Written as a date, but no calendar has that day: 2026-02-30, 2026-13-01."""
    return DATE_SHAPED.fullmatch(typed) is not None and _date(typed) is None


def number(raw: str, field: str, kind: str = "") -> int:
    """A whole number as typed; EditRefused with the field's range when it is not one."""
    if not NUMBER.fullmatch(raw):
        raise catalogue.out_of_range(field, kind)
    return int(raw.replace(",", "").replace("，", ""))


def amount(programme: Programme, raw: str, kind: str) -> int:
    """A value as typed: a percentage for percent off, else money as at the till
    ("12.50", read as /purchase reads it) in minor units; "none" is no value. Whether
    it is in range is the catalogue's to judge (it refuses 0 where a value is needed);
    what is no amount at all is refused with the range too."""
    if kind == "percent_off":
        return number(raw.removesuffix("%").strip(), "value", kind)
    if " ".join(raw.split()).casefold() in NONE:
        return 0
    minor = read_amount(raw, programme.currency)
    if minor is None and decimal_comma(raw, programme.currency):
        raise EditRefused("invalid", field="value", rule="decimal_comma")
    if minor is None:
        raise catalogue.out_of_range("value", kind)
    return minor
