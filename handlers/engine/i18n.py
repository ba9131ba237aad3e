"""Translations from the gettext catalogs in locales/, compiled in memory at start.

Catalog ids are stable keys (``points.balance``) rather than English sentences, so
English is a catalog like any other and wording can change without code changes.
Each locale folder may hold several catalogs (one per feature area, so features can
be worked on apart); they are merged, and a key defined twice is an error.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_territory_currencies,
)

from handlers.engine.types import Local, Money, Text

LOCALES = ("en", "zh_Hans")
DOMAIN = "memberbot"
current_locale: ContextVar[str] = ContextVar("memberbot_locale", default="en")


def catalog_texts(locale: str) -> dict[str, str]:
    """Every catalog of a locale by file name, the main one first."""
    folder = resources.files("locales") / locale / "LC_MESSAGES"
    names = sorted((p.name for p in folder.iterdir() if p.name.endswith(".po")),
                   key=lambda n: (n != f"{DOMAIN}.po", n))
    return {name: (folder / name).read_text(encoding="utf-8") for name in names}


def catalog(locale: str) -> Catalog:
    """The merged catalog of a locale."""
    merged: Catalog | None = None
    for name, text in catalog_texts(locale).items():
        part = read_po(io.StringIO(text), locale=locale, domain=DOMAIN)
        if merged is None:
            merged = part
            continue
        for message in part:
            if not message.id:
                continue
            if merged.get(message.id) is not None:
                raise ValueError(f"{locale}/{name}: {message.id!r} is defined twice")
            merged[message.id] = message
    if merged is None:
        raise FileNotFoundError(f"no catalog for {locale}")
    return merged


@cache
def translations(locale: str) -> gettext.GNUTranslations:
    buffer = io.BytesIO()
    write_mo(buffer, catalog(locale))
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(*candidates: str | None) -> str | None:
    """First candidate we speak, from tags like 'zh-hans', 'zh_CN', 'en-GB'."""
    for tag in candidates:
        if not tag:
            continue
        norm = tag.replace("-", "_").lower()
        if norm.startswith("zh"):
            return "zh_Hans"
        if norm.startswith("en"):
            return "en"
    return None


def translate(text: Text | Local | str, locale: str) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, Local):
        return text.values.get(locale) or text.values.get("en") or ""
    if all(type(v) is str for v in text.params.values()):  # help lines, button labels
        return _plain(text.key, tuple(text.params.items()), locale)
    return _translate(text, locale)


@lru_cache(maxsize=4096)
def _plain(key: str, params: tuple[tuple[str, str], ...], locale: str) -> str:
    return _translate(Text(key, dict(params)), locale)


def _translate(text: Text, locale: str) -> str:
    params = {name: _format(value, locale) for name, value in text.params.items()}
    catalog = translations(locale)
    count = text.params.get("count")
    template = (catalog.ngettext(text.key, text.key, count) if isinstance(count, int)
                else catalog.gettext(text.key))
    return template.format_map(_Strict(params, text.key))


def _format(value: Any, locale: str) -> str:
    if isinstance(value, Text | Local):
        return translate(value, locale)
    if isinstance(value, Money):
        # Decimal from integers: exact, no float anywhere on the way to the screen.
        major = Decimal(value.minor).scaleb(-get_currency_precision(value.currency))
        shown = format_currency(major, value.currency, locale=_babel(locale))
        theirs, home = get_currency_symbol(value.currency, _babel(locale)), _home_symbol(
            value.currency)
        return shown.replace(theirs, home, 1) if home and theirs != home else shown
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        # Babel's own formatting of a plain integer costs more than the rest of a reply;
        # both our locales group by thousands with their own separator.
        return f"{value:,}".replace(",", _group(locale))
    if isinstance(value, datetime):
        return format_datetime(value, "medium", locale=_babel(locale))
    if isinstance(value, date):
        return format_date(value, "medium", locale=_babel(locale))
    if isinstance(value, list | tuple):
        return "\n".join(_format(item, locale) for item in value)
    return str(value)


@cache
def _babel(locale: str) -> Locale:
    return Locale.parse(locale)


@cache
def _home_symbol(currency: str) -> str | None:
    """The symbol as the currency's own country writes it: ¥ for CNY in every language,
    where English alone would write CN¥ beside ¥10-off titles. ISO 4217 codes start with
    the country's code; a currency shared by many countries (EUR) keeps each language's."""
    country = currency[:2].upper()
    try:
        if currency.upper() not in get_territory_currencies(country):
            return None
        return get_currency_symbol(currency, Locale.parse(f"und_{country}"))
    except (UnknownLocaleError, ValueError):
        return None


@cache
def _group(locale: str) -> str:
    grouped = format_decimal(1000, locale=_babel(locale))
    if len(grouped) == 5 and grouped[0] == "1" and grouped[2:] == "000":
        return grouped[1]
    raise ValueError(f"{locale} does not group thousands in threes: {grouped!r}")


class _Strict(dict):
    """A missing placeholder is a bug in a catalog; say which key, not KeyError('x')."""

    def __init__(self, values: Mapping[str, str], key: str) -> None:
        super().__init__(values)
        self._key = key

    def __missing__(self, name: str) -> str:
        raise KeyError(f"translation {self._key!r} uses {{{name}}} but no such parameter")


def has(key: str, locale: str = "en") -> bool:
    """Whether the catalog defines `key` (gettext echoes unknown ids back)."""
    return translations(locale).gettext(key) != key
