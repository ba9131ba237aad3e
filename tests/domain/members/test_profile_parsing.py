"""What members type into profile fields: what is accepted, how it is normalised,
and the refusal code for everything else. Phones: test_phones.py."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.members.profile import NAME_MAX, Birthday, parse_birthday, parse_name

TODAY = date(2026, 3, 10)


def refusal_code(parse, *args) -> str:
    with pytest.raises(InvalidInput) as refused:
        parse(*args)
    return refused.value.code


# --- birthday -------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "parsed"), [
    ("03-14", Birthday(3, 14)),
    ("3/14", Birthday(3, 14)),
    ("12.31", Birthday(12, 31)),
    ("1990-03-14", Birthday(3, 14, 1990)),
    ("1990/3/14", Birthday(3, 14, 1990)),
    ("1990年3月14日", Birthday(3, 14, 1990)),
    ("3月14日", Birthday(3, 14)),
    ("3月14", Birthday(3, 14)),
    (" 1990 年 3 月 14 日 ", Birthday(3, 14, 1990)),
    ("１９９０年３月１４日", Birthday(3, 14, 1990)),  # full-width digits
])
def test_birthday_formats_that_are_understood(typed, parsed):
    assert parse_birthday(typed, TODAY) == parsed


def test_29_february_without_a_year_is_accepted():
    assert parse_birthday("02-29", TODAY) == Birthday(2, 29, None)


def test_29_february_in_a_leap_year_is_accepted():
    assert parse_birthday("2000-02-29", TODAY) == Birthday(2, 29, 2000)


@pytest.mark.parametrize("typed", ["1990-02-29", "1900-02-29", "02-30", "02-31", "31-02",
                                   "04-31", "13-01", "00-10", "06-00"])
def test_dates_that_do_not_exist_are_refused_as_no_such_date(typed):
    assert refusal_code(parse_birthday, typed, TODAY) == "birthday_no_such_date"


@pytest.mark.parametrize("typed", ["2026-03-11", "2030-01-01", "1905-06-01"])
def test_birthdays_in_the_future_or_over_120_years_ago_are_out_of_range(typed):
    assert refusal_code(parse_birthday, typed, TODAY) == "birthday_out_of_range"


@pytest.mark.parametrize("typed", ["2026-03-10", "1906-01-01"])
def test_today_and_exactly_120_years_back_are_in_range(typed):
    assert parse_birthday(typed, TODAY).year == int(typed[:4])


@pytest.mark.parametrize("typed", ["", "tomorrow", "March 14", "14", "1990-03", "03-14-1990",
                                   "90-03-14", "1990-03-14 extra", "3月", "--"])
def test_anything_else_is_refused_as_birthday_format(typed):
    assert refusal_code(parse_birthday, typed, TODAY) == "birthday_format"


# --- name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("Alice", "Alice"),
    ("  Alice   Smith  ", "Alice Smith"),
    ("Alice\tSmith\n", "Alice Smith"),
    ("王小明", "王小明"),
])
def test_names_are_trimmed_and_inner_whitespace_collapsed(typed, stored):
    assert parse_name(typed) == stored


@pytest.mark.parametrize("typed", ["", "   ", "\n\t"])
def test_an_empty_name_is_refused(typed):
    assert refusal_code(parse_name, typed) == "name_empty"


def test_name_length_is_counted_in_characters_after_trimming():
    assert parse_name("王" * NAME_MAX) == "王" * NAME_MAX
    assert parse_name("  " + "a" * NAME_MAX + "  ") == "a" * NAME_MAX
    with pytest.raises(InvalidInput) as refused:
        parse_name("a" * (NAME_MAX + 1))
    assert refused.value.code == "name_too_long"
    assert refused.value.params == {"max": NAME_MAX}


@pytest.mark.parametrize("typed", ["Al\x00ice", "Al\x1bice", "Alice\x7f", "Al\u200bice",
                                   "Alice\u202e"])
def test_control_and_invisible_format_characters_are_refused(typed):
    assert refusal_code(parse_name, typed) == "name_invalid"
