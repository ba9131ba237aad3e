"""/profile's phone, in both languages: however it is typed or shared it is stored in
one form (E.164), shown grouped, and an impossible number gets our own sentence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.members.tables import Member
from handlers.engine.types import Inbound
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def stored_phone(db, member_id: int = 1) -> tuple[str | None, bool]:
    async with db.uow() as uow:
        row = await uow.session.get(Member, member_id)
        return row.phone, row.phone_verified


async def test_a_local_number_is_stored_with_the_country_code_en(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    asked = await alice.press("profile:edit:phone")
    assert "starts with + and its country code" in asked
    out = await alice.say("123")
    assert ("That is not a phone number we can use. Please check the digits; a number from "
            "another country starts with + and its country code.") in out
    assert "What is your phone number?" in out  # asked again
    assert "only digits" in await alice.say("138 0013 8000 ext 5")
    out = await alice.say("138 0013 8000")
    assert "Phone number saved." in out and "Phone: +86 138 0013 8000" in out
    assert await stored_phone(db) == ("+8613800138000", False)


async def test_a_local_number_is_stored_with_the_country_code_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    assert "国家代码" in await wang.press("profile:edit:phone")
    out = await wang.say("12")
    assert ("这不是可用的电话号码，请检查号码是否完整；"
            "其他国家或地区的号码请以 + 和国家代码开头。") in out
    out = await wang.say("１３８ ００１３ ８０００")  # full-width, from a Chinese keyboard
    assert "电话号码已保存。" in out and "电话：+86 138 0013 8000" in out
    assert await stored_phone(db) == ("+8613800138000", False)


async def test_the_country_is_the_programmes(db, programme, clock):
    uk = programme.model_copy(update={"phone_country_code": 44})
    alice = member(db, uk, clock)
    await alice.say("/profile")
    await alice.press("profile:edit:phone")
    assert "Phone: +44 7911 123456" in await alice.say("07911 123456")
    assert await stored_phone(db) == ("+447911123456", False)
    await alice.press("profile:edit:phone")
    await alice.say("+86 138 0013 8000")  # another country's, with its code
    assert await stored_phone(db) == ("+8613800138000", False)


async def test_a_shared_contact_is_stored_in_the_same_form_and_verified(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    engine = alice.chat.engine

    async def share(phone: str) -> str:
        answer = await engine.handle(Inbound(platform="console", user_id="alice",
                                             chat_id="alice", phone=phone, locale="en"))
        return "\n\n".join(r.text for r in answer.rendered())

    # Telegram leaves out the plus; the number is still international, not Chinese.
    out = await share("447700900123")
    assert "saved and verified" in out and "Phone: +44 7700 900123" in out
    assert await stored_phone(db) == ("+447700900123", True)
    out = await share("+999 1")
    assert "That is not a phone number we can use." in out
    assert await stored_phone(db) == ("+447700900123", True)


@pytest.mark.parametrize(("locale", "refused", "saved"), [
    ("en", "There is no such phone number: no line starts like that.",
     ["Phone number saved.", "Phone: +86 10 6552 9988"]),
    ("zh_Hans", "没有这个电话号码：没有以这几位开头的号码",
     ["电话号码已保存。", "电话：+86 10 6552 9988"])])
async def test_a_number_no_line_can_have_is_refused_and_a_landline_is_a_phone(
        db, programme, clock, locale, refused, saved):
    """No Chinese number starts with 12, though 11 digits are the right length; a Beijing
    landline is a fine contact, under a label that says phone, not mobile."""
    wang = member(db, programme, clock, user="wang", locale=locale)
    await wang.say("/profile")
    out = await wang.press("profile:edit:phone")
    assert "手机" not in out and "mobile" not in out.lower()
    out = await wang.say("12345678901")
    assert refused in out, out
    assert await stored_phone(db) == (None, False)
    out = await wang.say("010-6552-9988")
    for line in saved:
        assert line in out, out
    assert "手机" not in out and "mobile" not in out.lower()
    assert await stored_phone(db) == ("+861065529988", False)
