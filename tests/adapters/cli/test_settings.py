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


@pytest.mark.parametrize("token", ["garbage", "123456", "123456:", ":AAH", "abc:AAH",
                                   "123456:AAH 4k", "123456:AAH/4k", " 123456:AAH"])
def test_a_malformed_telegram_token_is_refused_naming_the_variable(token):
    with pytest.raises(SettingsError, match="^MEMBERBOT_TELEGRAM_TOKEN is not a bot token"):
        Settings.from_env({"MEMBERBOT_TELEGRAM_TOKEN": token})


@pytest.mark.parametrize("token", ["123456:TEST-token",
                                   "7012345678:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"])
def test_a_well_formed_telegram_token_is_taken(token):
    assert Settings.from_env({"MEMBERBOT_TELEGRAM_TOKEN": token}).telegram_token == token
