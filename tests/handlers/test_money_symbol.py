"""The programme's own currency is written with one symbol in every language: ¥ for
CNY, as China writes it, not English's CN¥ beside titles that say "¥10 off"."""

from __future__ import annotations

import pytest

from handlers.engine import i18n
from handlers.engine.types import Money, Text


@pytest.mark.parametrize(("currency", "minor", "en", "zh"), [
    ("CNY", 123_450, "¥1,234.50", "¥1,234.50"),
    ("USD", 1_000, "$10.00", "$10.00"),  # Chinese would write US$
    ("GBP", 250, "£2.50", "£2.50"),
])
def test_a_currency_is_written_as_its_own_country_writes_it(currency, minor, en, zh):
    money = Money(minor, currency)
    assert i18n.translate(Text("audit.pair", {"name": "x", "value": money}), "en") == f"x {en}"
    assert i18n.translate(Text("audit.pair", {"name": "x", "value": money}),
                          "zh_Hans") == f"x {zh}"


def test_a_currency_of_no_one_country_keeps_each_languages_form():
    shown = i18n.translate(Text("audit.pair", {"name": "x", "value": Money(500, "XAU")}),
                           "en")
    assert shown.startswith("x ") and "5" in shown  # no symbol to borrow: babel's own
