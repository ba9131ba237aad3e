"""Typed answers to buttons: numbers, yes/no words and greetings, as the engine reads them."""

from __future__ import annotations

import pytest

from handlers.engine import answers
from handlers.engine.render import render
from handlers.engine.types import NO, YES, Button, Text, button, reply


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), (" 3 ", 3), ("１２", 12), ("0", 0), ("²", None), ("٣", None), ("1a", None),
    ("", None), ("1234567", None),
])
def test_numbers(text, expected):
    assert answers.number(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", YES), ("YES!", YES), (" y ", YES), ("ok", YES), ("Confirm.", YES), ("是", YES),
    ("是的！", YES), ("好", YES), ("确认", YES), ("no", NO), ("N", NO), ("不", NO), ("否", NO),
    ("取消", NO), ("cancel", NO), ("maybe", None), ("yes please do it", None), ("", None),
])
def test_yes_and_no(text, expected):
    assert answers.yes_no(text) == expected


@pytest.mark.parametrize("text", ["hi", "Hello!!", "  hey ", "Hello there", "你好", "您好。",
                                  "嗨~", "MENU", "菜单", "早上好"])
def test_greetings(text):
    assert answers.greeting(text)


@pytest.mark.parametrize("text", ["hi, I want to redeem", "hello123", "high", "/help", "1"])
def test_not_greetings(text):
    assert not answers.greeting(text)


def test_confirmation_buttons_carry_their_kind_by_their_wording_key():
    assert button("purchase.yes", "a").kind == YES and button("purchase.no", "b").kind == NO
    assert button("word.yes", "a").kind == YES and button("campaign.confirm_no", "b").kind == NO
    assert button("catalogue.save", "a").kind == YES
    assert button("catalogue.discard", "b").kind == NO
    assert button("campaign.cancel_yes", "a").kind == YES
    for key in ("profile.skip", "points.older", "campaign.cancel", "campaign.when_now",
                "start.later"):
        assert button(key, "x").kind is None, key


def test_kinds_name_the_one_yes_the_one_no_and_the_one_skip():
    consent = reply("q", (button("word.yes", "y"), button("word.no", "n")),
                    (button("profile.skip", "s"),))
    assert answers.kinds(consent) == {YES: 0, NO: 1, answers.SKIP: 2}
    twice = reply("q", (button("word.yes", "y1"), button("word.yes", "y2"),
                        button("word.no", "n")))
    assert answers.kinds(twice) == {NO: 2}  # two Yes buttons: a typed yes presses neither
    plain = reply("q", (Button(Text("a"), "a"),))
    assert answers.kinds(plain) == {}


def test_pressed_maps_numbers_and_words_to_offered_actions():
    offered, kinds = ["ok", "no", "skip"], {YES: 0, NO: 1}
    assert answers.pressed("3", offered, kinds) == "skip"
    assert answers.pressed("9", offered, kinds) is None
    assert answers.pressed("是", offered, kinds) == "ok"
    assert answers.pressed("nope", offered, kinds) == "no"
    assert answers.pressed("yes", offered, {}) is None
    assert answers.pressed("1", [], {}) is None
    assert answers.pressed("yes", ["x"], {YES: 5}) is None  # a stale index presses nothing


def test_a_confirmation_is_a_set_with_a_yes_or_a_no_and_is_answered_by_one_sentence():
    consent = reply("q", (button("word.yes", "y"), button("word.no", "n")),
                    (button("profile.skip", "s"),))
    assert answers.confirming(answers.kinds(consent))
    assert not answers.confirming(answers.kinds(reply("q", (button("profile.skip", "s"),))))
    again = answers.again(consent.actions)
    assert (again.key, dict(again.params)) == ("buttons.confirm", {"last": 3})
    assert render(again, "en").text == "Please answer with 1–3, yes or no, or send /cancel."
    assert render(again, "zh_Hans").text == "请回复 1–3、“是”或“否”，或发送 /cancel 取消。"
