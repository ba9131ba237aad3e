"""The purchases API finds a member by phone however the till writes it: the phone is
normalised as /profile stores it (E.164) and matched exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.members import members
from domain.members.profile import parse_phone
from domain.members.tables import Member
from tests.support.api_client import serving_one_member


@pytest.fixture
async def api(db, programme):
    async with serving_one_member(db, programme) as client:
        async with db.uow() as uow:  # member 1 typed their number locally in /profile
            (await uow.session.get(Member, 1)).phone = parse_phone("138 0013 8000", 86)
            await uow.commit()
        yield client


def order(order_id: str, phone: str) -> dict:
    return {"order_id": order_id, "member": {"phone": phone}, "amount": 1_000,
            "currency": "CNY"}


@pytest.mark.parametrize("phone", ["13800138000", "+86 138-0013-8000", "0086 138 0013 8000",
                                   "+86 (138) 0013 8000", "8613800138000"])
async def test_a_phone_finds_its_member_in_any_spelling(api, phone):
    status, body = await api.post("/api/v1/purchases", order("P-1", phone))
    assert status == 201 and body["member"] == "00000001"


async def test_a_number_no_member_gave_or_two_gave_is_refused(api, db):
    status, body = await api.post("/api/v1/purchases", order("P-2", "13900139000"))
    assert status == 404 and body["error"]["code"] == "unknown_member"
    async with db.uow() as uow:
        other = await members.register(uow, api.app.programme, "telegram", "2002",
                                       datetime.now(UTC))
        other.member.phone = parse_phone("+8613800138000", 86)
        await uow.commit()
    status, body = await api.post("/api/v1/purchases", order("P-3", "13800138000"))
    assert status == 409 and body["error"]["code"] == "ambiguous_member"


async def test_an_impossible_phone_finds_nobody_and_says_why(api):
    # Well formed (the document's pattern), so not a bad request: nobody can have it.
    status, body = await api.post("/api/v1/purchases", order("P-4", "123456"))
    assert status == 404 and body["error"] == {
        "code": "unknown_member",
        "message": "no member gave this phone: it is not a possible phone number (give it "
                   "with + and its country code, or without one for a number in +86)"}
