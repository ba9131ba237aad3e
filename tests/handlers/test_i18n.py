"""The catalogs: both languages say everything, with the same placeholders."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from handlers.engine import i18n
from handlers.engine.types import Local, Text

ROOT = Path(__file__).resolve().parents[2]
FIELD = re.compile(r"\{(\w+)\}")


def catalog(locale: str):
    return i18n.catalog(locale)


def messages(locale: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for m in catalog(locale):
        if not m.id:
            continue
        key = m.id[0] if isinstance(m.id, tuple) else m.id
        out[key] = m.string if isinstance(m.string, tuple) else (m.string,)
    return out


def literal_keys() -> set[str]:
    """Keys passed as string literals to reply(), button(), Text() and Reply()."""
    keys = set()
    for path in (ROOT / "handlers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in {"reply", "button", "Text", "Reply"} and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                keys.add(node.args[0].value)
    return keys


def test_both_languages_have_the_same_keys_and_no_blanks():
    en, zh = messages("en"), messages("zh_Hans")
    assert en.keys() == zh.keys()
    for table in (en, zh):
        assert all(all(s.strip() for s in strings) for strings in table.values())


def test_placeholders_match_across_languages_and_plural_forms():
    en, zh = messages("en"), messages("zh_Hans")
    for key, strings in en.items():
        wanted = {frozenset(FIELD.findall(s)) for s in strings + zh[key]}
        assert len(wanted) == 1, f"{key}: placeholders differ {wanted}"


def test_every_key_the_handlers_use_exists():
    en = messages("en")
    dynamic = {f"command.{c}" for c in ("start", "points", "tier", "checkin", "profile",
                                        "language", "link", "help", "cancel")}
    dynamic |= {f"profile.{p}_{f}" for p in ("ask", "saved")
                for f in ("name", "phone", "birthday", "consent")}
    dynamic |= {f"link.{c}" for c in ("link_unknown", "link_used", "link_expired",
                                      "link_same_member", "link_platform_taken",
                                      "link_has_history")}
    missing = (literal_keys() | dynamic) - en.keys()
    assert not missing


def test_every_profile_refusal_code_has_a_message():
    source = (ROOT / "domain" / "members" / "profile.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'InvalidInput\("(\w+)"', source))
    codes |= set(re.findall(r'InvalidInput\("(\w+)"', (ROOT / "handlers" / "members" / "profile.py")
                            .read_text(encoding="utf-8")))
    assert codes and all(i18n.has(f"profile.invalid.{c}") for c in codes)
    assert InvalidInput("phone_length").code == "phone_length"


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_message_formats_with_its_own_placeholders(locale):
    for strings in messages(locale).values():
        for template in strings:
            names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
            assert template.format(**{n: "x" for n in names})


def test_plurals_follow_each_language():
    one = Text("checkin.done", {"points": 5, "count": 1, "balance": 5})
    many = Text("checkin.done", {"points": 5, "count": 3, "balance": 5})
    assert "1 day." in i18n.translate(one, "en") and "3 days." in i18n.translate(many, "en")
    assert "连续签到 3 天" in i18n.translate(many, "zh_Hans")


def test_numbers_and_dates_are_formatted_per_locale():
    from datetime import date
    text = Text("points.expiring_line", {"points": 12345, "date": date(2027, 3, 10)})
    assert i18n.translate(text, "en") == "Mar 10, 2027: 12,345"
    assert i18n.translate(text, "zh_Hans") == "12,345 积分将于 2027年3月10日 过期"


def test_programme_wording_falls_back_to_english_only_when_missing():
    assert i18n.translate(Local({"en": "Gold", "zh_Hans": "黄金"}), "zh_Hans") == "黄金"
    assert i18n.translate(Local({"en": "Gold"}), "zh_Hans") == "Gold"


def test_a_placeholder_without_a_parameter_names_the_key():
    with pytest.raises(KeyError, match="checkin.bonus"):
        i18n.translate(Text("checkin.bonus", {"count": 2}), "en")


@pytest.mark.parametrize(("hint", "expected"), [
    ("zh-hans", "zh_Hans"), ("zh_CN", "zh_Hans"), ("zh-TW", "zh_Hans"), ("en-GB", "en"),
    ("EN", "en"), ("fr", None), ("", None), (None, None),
])
def test_locale_negotiation(hint, expected):
    assert i18n.negotiate(hint) == expected


@settings(max_examples=300, deadline=None)
@given(value=st.integers(min_value=-10**15, max_value=10**15),
       locale=st.sampled_from(i18n.LOCALES))
def test_integers_are_formatted_as_babel_formats_them(value, locale):
    assert i18n._format(value, locale) == format_decimal(value, locale=locale)
