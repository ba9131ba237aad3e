"""The programme file as a specification: the example loads, every mistake is refused
with a message that names the field at fault, and expiry dates follow the policy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain import config
from domain.config import ConfigError, Expiry
from domain.points.expiry import expires_at

EXAMPLE = config.DEFAULT_FILE.read_text(encoding="utf-8")


def example_with(old: str, new: str) -> str:
    """The example file with exactly one occurrence of `old` replaced."""
    assert EXAMPLE.count(old) == 1, f"{old!r} must occur once in the example"
    return EXAMPLE.replace(old, new)


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        config.parse(text, "prog.toml")
    return str(refused.value)


# --- the example ----------------------------------------------------------------------------


def test_the_example_loads_with_what_its_comments_promise():
    programme = config.load()
    assert programme.name.get("en") == "Tea House Club"
    assert programme.timezone == "Asia/Shanghai"
    assert programme.default_locale == "zh_Hans"
    assert [(t.code, t.threshold) for t in programme.tiers.levels] == [
        ("member", 0), ("silver", 500), ("gold", 2000)]
    assert programme.tiers.mode == "up_and_down" and programme.tiers.basis == "points"
    assert programme.expiry.policy == "rolling" and programme.expiry.months == 12
    assert [(b.days, b.points) for b in programme.checkin.streak_bonuses] == [(3, 5), (7, 20)]
    assert programme.checkin.cycle_days == 7
    assert programme.earning.profile_completion == 50
    assert set(programme.benefits) == {"birthday_gift", "free_refill", "priority_seating",
                                      "priority_support"}


def test_load_and_parse_of_the_same_text_agree(tmp_path: Path):
    copy = tmp_path / "copy.toml"
    copy.write_text(EXAMPLE, encoding="utf-8")
    assert config.load(copy) == config.parse(EXAMPLE) == config.load()


# --- refusals name the field ----------------------------------------------------------------


def test_a_negative_threshold_is_refused_naming_the_level():
    message = refusal(example_with("threshold = 500", "threshold = -5"))
    assert "tiers.levels.1.threshold" in message


@pytest.mark.parametrize(("old", "new", "field"), [
    ("base_points = 5", "base_points = 5.0", "checkin.base_points"),
    ("threshold = 500", "threshold = 500.0", "tiers.levels.1.threshold"),
    ("profile_completion = 50", "profile_completion = 50.5", "earning.profile_completion"),
    ("base_points = 5", "base_points = true", "checkin.base_points"),
    ("base_points = 5", 'base_points = "5"', "checkin.base_points"),
])
def test_points_must_be_whole_numbers_not_floats_bools_or_strings(old, new, field):
    assert field in refusal(example_with(old, new))


def test_an_unknown_time_zone_is_refused_naming_timezone_and_the_value():
    message = refusal(example_with('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'))
    assert "timezone" in message and "Mars/Olympus" in message


def test_a_benefit_code_missing_from_the_benefits_table_is_refused_naming_it():
    message = refusal(example_with('benefits = ["birthday_gift", "free_refill"]',
                                   'benefits = ["birthday_gift", "spa_day"]'))
    assert "tiers.levels.1.benefits" in message and "spa_day" in message


def test_thresholds_that_do_not_increase_are_refused_naming_the_tier():
    message = refusal(example_with("threshold = 500", "threshold = 2000"))
    assert "tiers" in message and "levels" in message and "'gold'" in message


def test_a_first_threshold_other_than_zero_is_refused():
    assert "levels.0.threshold" in refusal(example_with("threshold = 0", "threshold = 10"))


def test_duplicate_tier_codes_are_refused():
    message = refusal(example_with('code = "gold"', 'code = "silver"'))
    assert "tier codes must be unique" in message


def test_a_streak_bonus_beyond_the_cycle_is_refused():
    assert "streak_bonuses" in refusal(example_with("cycle_days = 7", "cycle_days = 5"))


def test_an_unknown_top_level_key_is_refused_naming_the_key():
    message = refusal("colour = 'green'\n" + EXAMPLE)
    assert "colour: is not a setting here" in message


def test_an_unknown_key_inside_a_table_is_refused_with_its_path():
    assert "expiry.month" in refusal(example_with("months = 12", "months = 12\nmonth = 3"))


def test_invalid_toml_is_refused_as_such_naming_the_source():
    message = refusal(EXAMPLE + "\n[tiers\n")
    assert message.startswith("prog.toml:") and "not valid TOML" in message


def test_a_missing_file_is_refused_naming_the_path(tmp_path: Path):
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as refused:
        config.load(missing)
    assert str(missing) in str(refused.value)
    assert "cannot read" in str(refused.value)


def test_every_error_is_listed_not_only_the_first():
    text = example_with("base_points = 5", "base_points = -1")
    text = text.replace("remind_days = 30", "remind_days = 0")
    message = refusal(text)
    assert "checkin.base_points" in message and "expiry.remind_days" in message


# --- expiry dates ---------------------------------------------------------------------------


def rolling(months: int) -> Expiry:
    return Expiry(policy="rolling", months=months)


def test_rolling_expiry_keeps_the_local_day_and_time_months_later(programme):
    earned = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
    assert expires_at(rolling(12), programme, earned) == datetime(2027, 3, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("earned", "expected"), [
    # 31 Jan 10:00 Shanghai + 1 month clamps to the end of February.
    (datetime(2026, 1, 31, 2, 0, tzinfo=UTC), datetime(2026, 2, 28, 2, 0, tzinfo=UTC)),
    (datetime(2028, 1, 31, 2, 0, tzinfo=UTC), datetime(2028, 2, 29, 2, 0, tzinfo=UTC)),
    # 31 Mar + 1 month is 30 Apr.
    (datetime(2026, 3, 31, 2, 0, tzinfo=UTC), datetime(2026, 4, 30, 2, 0, tzinfo=UTC)),
    # 31 Jan 20:00 UTC is already 1 Feb in Shanghai, so it expires on 1 Mar there.
    (datetime(2026, 1, 31, 20, 0, tzinfo=UTC), datetime(2026, 2, 28, 20, 0, tzinfo=UTC)),
])
def test_rolling_one_month_clamps_to_the_end_of_a_shorter_month(programme, earned, expected):
    assert expires_at(rolling(1), programme, earned) == expected


def test_rolling_across_a_year_end(programme):
    earned = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert expires_at(rolling(3), programme, earned) == datetime(2027, 2, 28, 2, 0, tzinfo=UTC)


def test_end_of_next_year_is_midnight_in_the_programme_time_zone(programme):
    policy = Expiry(policy="end_of_next_year")
    # Earned during 2026 in Shanghai: expires 2028-01-01 00:00 Shanghai, 16:00 UTC the day before.
    for earned in (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
                   datetime(2026, 12, 31, 15, 59, tzinfo=UTC)):
        assert expires_at(policy, programme, earned) == datetime(2027, 12, 31, 16, 0, tzinfo=UTC)
    # 31 Dec 17:00 UTC is already 2027 in Shanghai, so it belongs to the next year.
    late = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert expires_at(policy, programme, late) == datetime(2028, 12, 31, 16, 0, tzinfo=UTC)


def test_end_of_next_year_follows_the_programme_zone_not_utc(programme):
    utc_programme = programme.model_copy(update={"timezone": "UTC"})
    policy = Expiry(policy="end_of_next_year")
    late = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert expires_at(policy, utc_programme, late) == datetime(2028, 1, 1, 0, 0, tzinfo=UTC)


def test_never_means_no_expiry(programme):
    assert expires_at(Expiry(policy="never"), programme, datetime(2026, 3, 10, tzinfo=UTC)) is None


def test_a_point_value_may_be_written_as_a_toml_number_or_as_text():
    from decimal import Decimal

    from domain.config import Insight
    assert Insight(point_value=0.01).point_worth == Decimal("0.01")
    assert Insight(point_value=2).point_worth == Decimal("2")
    assert Insight(point_value="0.05").point_worth == Decimal("0.05")
    for wrong in (-1, "1e-3", "0.00001", True):
        with pytest.raises(ValueError):
            Insight(point_value=wrong)


@pytest.mark.parametrize(("old", "new", "said"), [
    ("retention_days = 0", "retention_days = 30",
     "privacy: retention_days must be 0 (off) or at least 180"),
    ("retention_days = 0", "retention_days = -1",
     "privacy.retention_days: must be at least 0 (it is -1)"),
    ("retention_days = 0", 'retention_days = "abc"',
     "privacy.retention_days: must be a whole number (it is 'abc')"),
    ("retention_days = 0", "retention_days = 1.5",
     "privacy.retention_days: must be a whole number (it is 1.5)"),
    ("retention_days = 0", "retention_days = 100000",
     "privacy.retention_days: must be at most 3650 (it is 100000)"),
    ('currency = "CNY"', 'currency = "yuan"',
     "currency: must be a three-letter currency code in capitals"),
    ('mode = "up_and_down"', 'mode = "sideways"',
     "tiers.mode: must be one of 'only_up' or 'up_and_down' (it is 'sideways')"),
])
def test_mistakes_are_said_in_our_words_not_the_validators(old, new, said):
    message = refusal(example_with(old, new))
    assert said in message, message
    for theirs in ("Input should", "Value error", "String should", "pattern"):
        assert theirs not in message


def test_every_pattern_a_setting_must_match_is_said_in_words():
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config.Programme.model_json_schema())
    assert found and found <= config._PATTERNS.keys(), found - config._PATTERNS.keys()
