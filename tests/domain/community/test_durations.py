"""Durations as admins type them (`30m`, `2h`, `3d`, `1w`, `0`), and the spelling
shown back to them, which must read back as the same length."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import config
from domain.community import durations
from domain.community.durations import LONGEST, parse, spell


@pytest.mark.parametrize(("text", "length"), [
    ("0", timedelta(0)),
    ("30m", timedelta(minutes=30)),
    ("2h", timedelta(hours=2)),
    ("3d", timedelta(days=3)),
    ("1w", timedelta(weeks=1)),
    ("45s", timedelta(seconds=45)),
    ("1d12h", timedelta(days=1, hours=12)),
    ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    ("0d", timedelta(0)),
    ("3D", timedelta(days=3)),
    ("1D12H", timedelta(days=1, hours=12)),
    ("2W", timedelta(weeks=2)),
    ("  3d ", timedelta(days=3)),  # the spaces around a typed word are not the word
    ("3650d", LONGEST),
    ("521w3d", LONGEST),
    ("３ｄ", timedelta(days=3)),  # a Chinese keyboard's full-width digits and letters
    ("３０m", timedelta(minutes=30)),
    ("\u202e7d", timedelta(days=7)),  # an invisible direction mark is no part of it
])
def test_parse_reads_what_admins_type(text, length):
    assert parse(text) == length


@pytest.mark.parametrize("text", [
    "", " ", "5", "30", "00", "-1d", "+1d", "1.5h", "3 d", "1d 12h", "d", "3x", "3dd",
    "3d,", "1d-2h", "3days", "1h30", "x3d", "3d\x00", "3\x07d", "\x1b3d",
    "1d\n2h",
])
def test_parse_refuses_what_is_not_a_duration(text):
    assert parse(text) is None


@pytest.mark.parametrize("text", ["3651d", "522w", "3650d1s", "999999w", "87601h"])
def test_parse_refuses_more_than_ten_years(text):
    assert parse(text) is None


def test_parse_refuses_absurd_lengths_without_raising():
    # Enough parts to overflow timedelta itself, from one chat message's worth of text.
    assert parse("999999w" * 200) is None
    assert parse("1d" * 4000) is None
    assert parse("0s" * 2000) == timedelta(0)


def test_parse_matches_the_whole_text_not_a_part_of_it():
    assert parse("3d") == timedelta(days=3)
    for text in ("3d3", "a3d", "3d!", "0m0", "03", "3d/", "1w 1d"):
        assert parse(text) is None, text


def test_a_part_has_at_most_six_digits():
    assert parse("999999s") == timedelta(seconds=999999)
    assert parse("1000000s") is None


@pytest.mark.parametrize(("length", "text"), [
    (timedelta(0), "0"),
    (timedelta(seconds=1), "1s"),
    (timedelta(minutes=30), "30m"),
    (timedelta(minutes=90), "1h30m"),
    (timedelta(days=3), "3d"),
    (timedelta(days=7), "1w"),
    (timedelta(days=10, hours=12), "1w3d12h"),
    (timedelta(days=14), "2w"),
    (LONGEST, "521w3d"),
])
def test_spell_is_the_shortest_spelling(length, text):
    assert spell(length) == text
    assert parse(text) == length


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=int(LONGEST.total_seconds())))
def test_every_length_up_to_the_longest_spells_and_reads_back(seconds):
    length = timedelta(seconds=seconds)
    text = spell(length)
    assert parse(text) == length
    assert parse(text.upper()) == length
    assert spell(parse(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789smhdwSMHDW -+.\x00\t", max_size=12))
def test_parse_never_raises_and_a_result_lies_within_ten_years(text):
    length = parse(text)
    assert length is None or timedelta(0) <= length <= LONGEST


def test_the_programme_refuses_a_grace_that_is_not_a_duration():
    assert config.Community(grace="12h").grace == "12h"
    assert durations.parse(config.Community().grace) is not None
    for bad in ("5", "3 d", "", "11y", "3651d"):
        with pytest.raises(ValueError):
            config.Community(grace=bad)
    with pytest.raises(ValueError):
        config.Community(on_lapse="ban")
