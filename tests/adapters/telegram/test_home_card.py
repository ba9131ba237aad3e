"""The home card on Telegram, through both libraries against the local Bot API server:
one message, edited in place as the member moves from screen to screen and home."""

from __future__ import annotations

import pytest

from tests.adapters.telegram.test_telegram_bot import LIBRARIES, started

ALICE = 1001


@pytest.fixture(params=LIBRARIES)
async def bot(request, api, db, programme):
    app, _, running = await started(api, db, programme, request.param)
    yield app
    await running.__aexit__(None, None, None)


def keyboard(call) -> list[tuple[str, str]]:
    rows = call.params["reply_markup"]["inline_keyboard"]
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_card_buttons_edit_the_card_in_place_and_home_brings_it_back(api, bot):
    api.message(ALICE, "/start")
    (card,) = await api.wait_for(1, method="sendMessage", chat_id=ALICE)
    card_id = int(card.result["message_id"])
    assert "Member number: 00000001" in card.text
    assert keyboard(card)[:3] == [("Check in", "home:checkin"), ("Points", "home:points"),
                                  ("Rewards", "home:rewards")]

    api.callback(ALICE, "home:checkin", card_id)
    (checked,) = await api.wait_for(1, method="editMessageText")
    assert checked.params["message_id"] == card_id
    assert "Checked in! Points +5, balance 5." in checked.text
    assert keyboard(checked) == [("‹ Home", "home")]

    api.callback(ALICE, "home", card_id)
    edits = await api.wait_for(2, method="editMessageText")
    assert edits[-1].params["message_id"] == card_id
    assert "Points: 5" in edits[-1].text and ("Check in", "home:checkin") in keyboard(edits[-1])

    api.callback(ALICE, "home:tier", card_id)
    edits = await api.wait_for(3, method="editMessageText")
    assert "Your tier: Member" in edits[-1].text
    assert keyboard(edits[-1]) == [("How it works", "home:rules:show"), ("‹ Home", "home")]
    api.callback(ALICE, "home:rules:show", card_id)
    edits = await api.wait_for(4, method="editMessageText")
    assert "How Tea House Club works" in edits[-1].text

    await api.wait_for(4, method="answerCallbackQuery")  # every spinner stopped
    assert len(api.sent("sendMessage")) == 1  # still the one message
    assert "How Tea House Club works" in api.messages[(ALICE, card_id)]["text"]
