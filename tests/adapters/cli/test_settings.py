"""Environment settings: bounds are enforced at start, with the variable named."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError


@pytest.mark.parametrize("value", ["9", "3601", "-1", "abc"])
def test_the_wechat_timestamp_window_is_refused_outside_10_to_3600_seconds(value):
    with pytest.raises(SettingsError, match="MEMBERBOT_WECHAT_MAX_AGE"):
        Settings.from_env({"MEMBERBOT_WECHAT_MAX_AGE": value})


@pytest.mark.parametrize(("value", "seconds"), [("10", 10), ("3600", 3600), ("600", 600)])
def test_the_wechat_timestamp_window_within_bounds_is_taken(value, seconds):
    assert Settings.from_env({"MEMBERBOT_WECHAT_MAX_AGE": value}).wechat_max_age == seconds
