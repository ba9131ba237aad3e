"""Earning rules as arithmetic: integers only, and refunds that never drift."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from domain import config
from domain.config import CategoryBonus, Earning, LocalText, Promotion, SkuBonus
from domain.points.earning import Item, plan, reversal

TUESDAY, WEDNESDAY = date(2026, 3, 10), date(2026, 3, 11)
RULES = Earning(
    points_per_unit=3, unit_minor=100, first_purchase=100,
    category_bonuses=(CategoryBonus(category="teaware", percent=50),),
    sku_bonuses=(SkuBonus(sku="LJ", points=30),),
    promotions=(Promotion(code="tue", name=LocalText(en="Tue", zh_Hans="周二"), percent=100,
                          weekdays=(2,)),
                Promotion(code="big", name=LocalText(en="Big", zh_Hans="大"), percent=200,
                          dates=(date(2026, 11, 11),))),
)
items = st.lists(st.builds(Item, sku=st.sampled_from(["LJ", "CUP", "X"]),
                           category=st.sampled_from(["tea", "teaware"]),
                           quantity=st.integers(1, 50), amount=st.integers(0, 10**7)),
                 max_size=6)


@given(amount=st.integers(1, 10**9), multiplier=st.integers(100, 1000), basket=items,
       first=st.booleans(), day=st.sampled_from([TUESDAY, WEDNESDAY, date(2026, 11, 11)]))
def test_every_rule_pays_a_positive_int_and_names_itself(amount, multiplier, basket, first, day):
    earns = plan(RULES, multiplier, amount, basket, day, first)
    assert all(type(e.points) is int and e.points > 0 for e in earns)
    assert len({e.rule for e in earns}) == len(earns)
    assert all(type(v) in (int, str) for e in earns for v in e.params.values())
    by_rule = {e.rule: e.points for e in earns}
    base_and_tier = by_rule.get("base", 0) + by_rule.get("tier", 0)
    assert base_and_tier == amount * 3 * multiplier // 10_000  # exact, one division
    assert ("first_purchase" in by_rule) == first


def test_the_best_promotion_applies_alone():
    earns = {e.rule: e.points for e in plan(RULES, 100, 10_000, (), date(2026, 11, 10), False)}
    assert earns == {"base": 300, "promotion:tue": 300}  # 2026-11-10 is a Tuesday
    earns = {e.rule: e.points for e in plan(RULES, 150, 10_000, (), date(2026, 11, 11), False)}
    assert earns == {"base": 300, "tier": 150, "promotion:big": 900}


def test_bonuses_follow_category_and_sku():
    basket = [Item("LJ", "tea", 2, 5000), Item("CUP", "teaware", 1, 3000)]
    earns = {e.rule: e.points for e in plan(RULES, 100, 8000, basket, WEDNESDAY, False)}
    assert earns == {"base": 240, "category:teaware": 45, "sku:LJ": 60}


@given(points=st.integers(1, 10**9), amount=st.integers(1, 10**9), data=st.data())
def test_partial_refunds_add_up_to_exactly_the_full_reversal(points, amount, data):
    cuts = sorted(data.draw(st.lists(st.integers(1, amount), max_size=8)))
    steps = [0, *cuts, amount]
    parts = [reversal(points, amount, a, b) for a, b in zip(steps, steps[1:], strict=False)]
    assert all(type(p) is int and p >= 0 for p in parts)
    assert sum(parts) == points == reversal(points, amount, 0, amount)


@given(points=st.integers(1, 10**9), amount=st.integers(1, 10**9), data=st.data())
def test_a_partial_refund_never_takes_more_than_its_share(points, amount, data):
    refunded = data.draw(st.integers(0, amount))
    taken = reversal(points, amount, 0, refunded)
    assert taken * amount <= points * refunded < (taken + 1) * amount


def test_the_example_programme_has_earning_rules_and_a_catalogue():
    programme = config.load()
    assert programme.earning.first_purchase > 0 and programme.earning.promotions
    assert {r.kind for r in programme.rewards} >= {"free_item", "amount_off", "percent_off"}


@given(minor=st.integers(1, 10**9))
def test_chat_amounts_parse_to_exact_minor_units(minor):
    from handlers.points.purchase import parse_amount
    assert parse_amount(f"{minor // 100}.{minor % 100:02d}", "CNY") == minor
    assert parse_amount(f"¥{minor // 100:,}.{minor % 100:02d}", "CNY") == minor  # as tills print
    # A decimal comma is refused, not guessed: "12,50" is not 1,250 and not 12.50.
    assert parse_amount(f"¥{minor // 100},{minor % 100:02d}", "CNY") is None


def test_chat_amounts_refuse_what_is_not_money():
    from handlers.points.purchase import parse_amount
    for text in ("12.345", "-5", "1e3", "abc", "0", "0.00", "99999999999", "12.5.0", ""):
        assert parse_amount(text, "CNY") is None
    assert parse_amount("12.5", "CNY") == 1250 and parse_amount("7", "JPY") == 7
