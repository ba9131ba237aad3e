"""/terms and /paysupport read the programme file's words in the member's language,
and say where a payment question goes."""

from __future__ import annotations

import pytest

from tests.handlers.privacy.test_privacy import NOW
from tests.support.transcript import Clock, member


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.mark.parametrize(("locale", "terms", "help_"), [
    ("en", ("📜 Terms of membership — Tea House Club\n\nTea House Club membership follows "
            "the rules /rules shows."),
     ("💳 Help with payments\n\nQuestions about a payment, a renewal or a refund? Tell us "
      "the date of the payment")),
    ("zh_Hans", "📜 会员条款 — 茶馆会员俱乐部\n\n茶馆会员俱乐部的权益以 /rules 所示规则为准。",
     "💳 付款帮助\n\n对付款、续费或退款有疑问？请告诉我们付款日期")])
async def test_terms_and_payment_help_from_the_programme_file(db, programme, clock, locale,
                                                              terms, help_):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    said = await alice.say("/terms")
    assert said.startswith(terms)
    assert said.endswith("/privacy")
    said = await alice.say("/paysupport")
    assert said.startswith(help_) and "/support" in said and said.endswith("/terms")


async def test_both_are_listed_in_help(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    listed = await alice.say("/help")
    assert "/terms — the terms of membership" in listed
    assert "/paysupport — help with a payment, a renewal or a refund" in listed
    assert "/privacy — your privacy" in listed and "/mydata — a copy of everything" in listed
