"""Rendering replies for Telegram, and sending them through real aiogram and PTB over HTTP."""

from __future__ import annotations

import pytest

from bot.telegram.transport import (
    AskContact,
    FloodWait,
    Inline,
    Rejected,
    TransientFailure,
    Unreachable,
    plan,
    split_text,
    utf16_len,
)
from handlers.engine.types import Rendered

YES_NO = ((("Yes", "yes"), ("No", "no")),)


# ---------------------------------------------------------------- plan (no network)


def test_text_is_escaped_html_with_an_inline_keyboard():
    [part] = plan(Rendered('1 < 2 & "quoted" <b>', buttons=YES_NO))
    assert part.kind == "text"
    assert part.text == '1 &lt; 2 &amp; "quoted" &lt;b&gt;'
    assert part.keyboard == Inline(YES_NO)


def test_long_text_is_split_on_line_breaks_with_buttons_last():
    lines = [f"line {i} " + "x" * 90 for i in range(120)]  # about 12,000 characters
    parts = plan(Rendered("\n".join(lines), buttons=YES_NO))
    assert len(parts) == 3
    assert all(utf16_len(p.text) <= 4096 for p in parts)
    assert [p.keyboard for p in parts] == [None, None, Inline(YES_NO)]
    assert "\n".join(p.text for p in parts) == "\n".join(lines)  # cut only at line breaks


def test_splitting_counts_utf16_units_and_cuts_overlong_lines():
    assert split_text("😀" * 3000, 4096) == ["😀" * 2048, "😀" * 952]
    words = " ".join(["word"] * 2000)  # one 9,999-character line
    chunks = split_text(words, 4096)
    assert all(len(c) <= 4096 and not c.startswith(" ") for c in chunks)
    assert " ".join(chunks) == words
    assert split_text("  \n ", 4096) == []


def test_image_carries_a_short_text_as_caption():
    [photo] = plan(Rendered("Your card <3", buttons=YES_NO, image=b"PNG"))
    assert (photo.kind, photo.text, photo.keyboard) == ("photo", "Your card &lt;3",
                                                         Inline(YES_NO))
    assert photo.upload == ("photo.jpg", b"PNG")


def test_a_text_too_long_for_a_caption_follows_the_media():
    parts = plan(Rendered("y" * 1500, buttons=YES_NO, image=b"PNG", file=("a.csv", b"1")))
    assert [(p.kind, len(p.text), p.keyboard) for p in parts] == [
        ("photo", 0, None), ("document", 0, None), ("text", 1500, Inline(YES_NO))]


def test_contact_request_is_a_reply_keyboard_alone():
    [part] = plan(Rendered("Share your phone?", buttons=(
        (("Share", "contact:request"),), (("Later", "profile:skip"),))))
    assert part.keyboard == AskContact("Share")


@pytest.mark.parametrize("action", ["", "x" * 65, "积" * 22])
def test_actions_that_cannot_be_callback_data_are_a_programming_error(action):
    with pytest.raises(ValueError, match="callback data"):
        plan(Rendered("hi", buttons=((("Go", action),),)))


def test_edit_only_for_a_single_text_message():
    assert plan(Rendered("page 2", edit=True), edit_message_id="9")[0].kind == "edit"
    assert plan(Rendered("page 2", edit=True))[0].kind == "text"  # nothing to edit
    assert plan(Rendered("page 2"), edit_message_id="9")[0].kind == "text"
    assert plan(Rendered("pic", edit=True, image=b"x"), edit_message_id="9")[0].kind == "photo"


def test_an_empty_reply_is_a_programming_error():
    with pytest.raises(ValueError, match="needs text"):
        plan(Rendered(" "))


# ---------------------------------------------------------------- through the libraries


async def test_text_and_buttons_reach_telegram(api, transport):
    message_id = await transport.deliver("42", Rendered("a <b> & c", buttons=YES_NO))
    [call] = api.sent("sendMessage")
    assert message_id == "1"
    assert call.params["text"] == "a &lt;b&gt; &amp; c" and call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"] == {"inline_keyboard": [[
        {"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]}
    assert "allow_paid_broadcast" not in call.params
    assert api.messages[(42, 1)]["text"] == "a <b> & c"


async def test_long_text_arrives_as_several_messages(api, transport):
    text = "\n".join("é" * 1000 for _ in range(9))
    assert await transport.deliver("42", Rendered(text, buttons=YES_NO)) == "3"
    calls = api.sent("sendMessage")
    assert len(calls) == 3 and ["reply_markup" in c.params for c in calls] == [False] * 2 + [True]


async def test_photo_and_document_uploads(api, transport):
    await transport.deliver("42", Rendered("card", image=b"\x89PNG", buttons=YES_NO))
    await transport.deliver("42", Rendered("z" * 2000, file=("points.csv", b"a,b")))
    photo, document, text = api.sent()
    assert (photo.method, photo.files, photo.params["caption"]) == (
        "sendPhoto", {"photo": ("photo.jpg", b"\x89PNG")}, "card")
    assert "reply_markup" in photo.params
    assert (document.method, document.files) == ("sendDocument",
                                                  {"document": ("points.csv", b"a,b")})
    assert "caption" not in document.params and text.params["text"] == "z" * 2000


async def test_contact_request_keyboard(api, transport):
    await transport.deliver("42", Rendered("Phone?", buttons=(
        (("Share my phone", "contact:request"), ("Skip", "skip")),)))
    markup = api.sent()[0].params["reply_markup"]
    assert markup["keyboard"] == [[{"text": "Share my phone", "request_contact": True}]]
    assert markup["one_time_keyboard"] is True


async def test_edit_in_place_not_modified_and_gone(api, transport):
    first = await transport.deliver("42", Rendered("page 1", buttons=YES_NO))
    page2 = Rendered("page 2", buttons=YES_NO, edit=True)
    assert await transport.deliver("42", page2, edit_message_id=first) == first
    assert await transport.deliver("42", page2, edit_message_id=first) == first  # unchanged
    assert api.messages[(42, int(first))]["text"] == "page 2"
    assert await transport.deliver("42", page2, edit_message_id="777") == "2"  # gone: new one
    assert [(c.method, c.status) for c in api.calls if c.method != "getMe"] == [
        ("sendMessage", 200), ("editMessageText", 200), ("editMessageText", 400),
        ("editMessageText", 400), ("sendMessage", 200)]


async def test_paid_broadcast_flag(api, transport):
    await transport.deliver("42", Rendered("promo"), paid=True)
    assert api.sent()[0].params["allow_paid_broadcast"] is True


async def test_answer_callback(api, transport):
    query = api.callback(42, "yes", 1)["callback_query"]
    await transport.answer_callback(query["id"], "Saved")
    call = api.sent("answerCallbackQuery")[0]
    assert call.params["callback_query_id"] == query["id"] and call.params["text"] == "Saved"
    with pytest.raises(Rejected, match="(?i)query is too old"):
        await transport.answer_callback(query["id"])


async def test_library_errors_become_ours(api, transport):
    hi = Rendered("hi")
    api.blocked.add(7)
    with pytest.raises(Unreachable, match="blocked by the user"):
        await transport.deliver("7", hi)
    api.fail_next("sendMessage", 403, "Forbidden: user is deactivated")
    with pytest.raises(Unreachable, match="deactivated"):
        await transport.deliver("8", hi)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(FloodWait) as flood:
        await transport.deliver("8", hi)
    assert flood.value.retry_after == 3.0
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(Rejected, match="(?i)chat not found"):
        await transport.deliver("8", hi)
    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(TransientFailure, match="Bad Gateway"):
        await transport.deliver("8", hi)
    api.disconnect_next("sendMessage")
    with pytest.raises(TransientFailure, match="(?i)disconnected"):
        await transport.deliver("8", hi)
    assert api.performed == 0


async def test_a_topic_reply_names_its_topic_in_every_part(api, transport):
    await transport.deliver("-1001", Rendered("card", image=b"PNG", file=("a.csv", b"1")),
                            thread_id=48)
    await transport.deliver("-1001", Rendered("page 2", edit=True), edit_message_id="777",
                            thread_id=48)  # the message is gone: a new one, in the topic
    await transport.deliver("-1001", Rendered("in General"))
    calls = api.sent()
    assert [(c.method, c.params.get("message_thread_id")) for c in calls] == [
        ("sendPhoto", 48), ("sendDocument", 48), ("sendMessage", 48), ("sendMessage", None)]
    assert api.messages[(-1001, 3)]["message_thread_id"] == 48
