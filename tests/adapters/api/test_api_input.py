"""Hostile bodies through the real API: each gets our JSON error, the same on both
backends, and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domain import identifiers
from domain.points.tables import LedgerEntry, Purchase, Refund
from domain.rewards.tables import CouponFailure
from tests.support.api_client import serving_one_member


@pytest.fixture
async def api(db, programme):
    async with serving_one_member(db, programme) as client:
        yield client


def order(order_id="A-1", amount=12_345, member=None, **extra):
    return {"order_id": order_id, "member": member or {"number": "1"}, "amount": amount,
            "currency": "CNY", **extra}


async def counts(db) -> tuple[int, int, int, int]:
    async with db.uow() as uow:
        return tuple([await uow.session.scalar(select(func.count()).select_from(table))
                      for table in (LedgerEntry, Purchase, Refund, CouponFailure)])


async def test_an_order_id_with_a_trailing_newline_is_not_a_second_order(api, db):
    assert (await api.post("/api/v1/purchases", order("d-r3")))[0] == 201
    before = await counts(db)
    for sneaky in ("d-r3\n", "d-r3\r\n", "\nd-r3", "d-r3 "):
        status, body = await api.post("/api/v1/purchases", order(sneaky))
        assert (status, body["error"]["code"]) == (400, "invalid_field")
    status, body = await api.post("/api/v1/refunds", {"order_id": "d-r3", "amount": 1,
                                                      "refund_id": "r1\n"})
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert await counts(db) == before


@pytest.mark.parametrize("pattern", [identifiers.ORDER_ID, identifiers.MEMBER_NUMBER,
                                     identifiers.PLATFORM, identifiers.EXTERNAL_ID,
                                     identifiers.CURRENCY, identifiers.PHONE,
                                     identifiers.ITEM_TEXT, identifiers.COUPON_CODE])
def test_every_identifier_pattern_is_checked_whole(pattern):
    sample = {identifiers.ORDER_ID: "A-1", identifiers.MEMBER_NUMBER: "42",
              identifiers.PLATFORM: "telegram", identifiers.EXTERNAL_ID: "o6_bmjrPTlm6",
              identifiers.CURRENCY: "CNY", identifiers.PHONE: "+86 138-0013-8000",
              identifiers.ITEM_TEXT: "龙井 tea", identifiers.COUPON_CODE: "ABCD-EFGH"}[pattern]
    assert identifiers.valid(pattern, sample)
    for suffix in ("\n", "\x00", "\r\n"):
        assert not identifiers.valid(pattern, sample + suffix)
        assert not identifiers.valid(pattern, suffix + sample)


DEEP = b"[" * 100_000 + b"]" * 100_000
LONG_NUMBER = b"9" * 5_000


@pytest.mark.parametrize(("path", "raw"), [
    ("/api/v1/purchases", DEEP),
    ("/api/v1/purchases", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("/api/v1/purchases", b'{"order_id": "A-1", "member": {"number": "1"}, "currency": "CNY", '
                          b'"amount": NaN}'),
    ("/api/v1/purchases", b'{"order_id": "A-\\ud800", "member": {"number": "1"}, '
                          b'"currency": "CNY", "amount": 100}'),
    ("/api/v1/purchases", b'{"x": [[[[[[[[[[1]]]]]]]]]]}'),
    ("/api/v1/refunds", DEEP),
    ("/api/v1/coupons/ABCDEFGHJKLMNPQR/redeem", DEEP),
    ("/api/v1/purchases", b"\xff\xfe{}"),
])
async def test_malformed_bodies_get_a_400_json_error(api, db, path, raw):
    status, body = await api.post(path, None, raw=raw)
    assert (status, body["error"]["code"]) == (400, "malformed_json")
    assert "Traceback" not in body["error"]["message"]
    assert await counts(db) == (0, 0, 0, 0)


@pytest.mark.parametrize("member", [
    {"platform": "telegram", "external_id": "1001\x00"},
    {"platform": "tele\x00gram", "external_id": "1001"},
    {"number": "1\x00"},
    {"phone": "+8613800138000\x00"},
])
async def test_control_characters_in_a_member_are_refused_alike_on_both_backends(api, db,
                                                                                 member):
    status, body = await api.post("/api/v1/purchases", order(member=member))
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert await counts(db) == (0, 0, 0, 0)


async def test_control_characters_in_refunds_and_tills_are_refused(api, db):
    assert (await api.post("/api/v1/purchases", order("A-1")))[0] == 201
    before = await counts(db)
    status, body = await api.post("/api/v1/refunds", {"order_id": "A-1\x00"})
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    status, body = await api.post("/api/v1/coupons/ABCDEFGHJKLMNPQR/redeem",
                                  {"till": "till\x00-1"})
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    status, body = await api.post("/api/v1/coupons/AB%00CD/redeem", {})
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert await counts(db) == before  # not even a failed guess is written


async def test_a_ten_megabyte_body_gets_a_json_413(api, db):
    big = b'{"order_id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    status, body = await api.post("/api/v1/purchases", None, raw=big)
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert await counts(db) == (0, 0, 0, 0)


async def test_unknown_paths_and_methods_under_the_api_answer_json(api):
    async with api.session.get(api.base + "/api/v1/nothing-here") as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    async with api.session.get(api.base + "/api/v1/purchases") as resp:
        assert resp.status == 405 and resp.headers["Allow"] == "POST"
        assert (await resp.json())["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(("path", "missing"), [
    ("/api/v1/purchases", "order_id, member, amount, currency"),
    ("/api/v1/refunds", "order_id")])
async def test_an_empty_body_names_every_missing_field(api, db, path, missing):
    status, body = await api.post(path, {})
    assert (status, body["error"]) == (400, {"code": "missing_field",
                                             "message": f"missing: {missing}"})


async def test_an_amount_out_of_bounds_says_both_bounds(api):
    status, body = await api.post("/api/v1/purchases", order(amount=0))
    assert status == 422 and body["error"]["message"] == (
        "amount must be a whole number of minor units from 1 to 1000000000")
    status, body = await api.post("/api/v1/purchases", order(currency="USD"))
    assert (status, body["error"]["code"], body["error"]["message"]) == (
        422, "wrong_currency", "this programme counts in CNY; send amounts in CNY")


@pytest.mark.parametrize(("path", "payload"), [
    ("/api/v1/coupons/ABCDEFGHJKLMNPQR/redeem", {"till": ""}),
    ("/api/v1/purchases", order("")),
    ("/api/v1/purchases", {**order(), "member": {}}),
    ("/api/v1/purchases", order(member={"number": "1", "phone": None})),
    ("/api/v1/refunds", {"order_id": "A-1", "amount": None}),
    ("/api/v1/refunds", {"order_id": "A-1", "amount": 1.5}),
    ("/api/v1/purchases", order(amount="100")),
    ("/api/v1/purchases", order(amount=True)),
])
async def test_what_the_document_forbids_the_server_refuses(api, db, path, payload):
    status, body = await api.post(path, payload)
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    assert await counts(db) == (0, 0, 0, 0)


async def test_an_integral_amount_is_an_integer_however_it_is_spelled(api, db):
    """JSON Schema counts 1.0 and 1e3 as integers, and so does the server."""
    status, body = await api.post("/api/v1/purchases", None, raw=(
        b'{"order_id": "F-1", "member": {"number": "1"}, "currency": "CNY", '
        b'"amount": 10000.0}'))
    assert status == 201 and body["rules"][0]["points"] == 100
    status, body = await api.post("/api/v1/refunds", None,
                                  raw=b'{"order_id": "F-1", "amount": 5e3}')
    assert status == 201 and body["amount"] == 5_000


async def test_absurd_amounts_are_refused_as_out_of_bounds_without_building_them(api, db):
    """5,000 digits once raised int()'s ValueError, a 500."""
    assert (await api.post("/api/v1/purchases", order("R-1", 10_000)))[0] == 201
    before = await counts(db)
    status, body = await api.post("/api/v1/refunds", None,
                                  raw=b'{"order_id": "R-1", "amount": ' + LONG_NUMBER + b"}")
    assert (status, body["error"]["code"]) == (422, "invalid_amount")
    for amount in (b"1e999999999", b"-1e999999999", b"1000000001", LONG_NUMBER,
                   b"-" + LONG_NUMBER):
        status, body = await api.post("/api/v1/purchases", None, raw=(
            b'{"order_id": "F-2", "member": {"number": "1"}, "currency": "CNY", "amount": '
            + amount + b"}"))
        assert (status, body["error"]["code"]) == (422, "invalid_amount")
    assert await counts(db) == before


async def test_an_unread_field_may_hold_any_json_number(api, db):
    """The document lets a till add fields of its own; a long number there is no error."""
    status, _ = await api.post("/api/v1/purchases", None, raw=(
        b'{"order_id": "N-1", "member": {"number": "1"}, "currency": "CNY", "amount": 100, '
        b'"note": ' + LONG_NUMBER + b"}"))
    assert status == 201


async def test_the_document_quotes_the_servers_own_patterns_and_bounds(api):
    async with api.session.get(api.base + "/api/v1/openapi.json") as resp:
        doc = await resp.json()
    schemas = doc["components"]["schemas"]
    purchase = schemas["Purchase"]["properties"]
    assert purchase["order_id"]["pattern"] == f"^{identifiers.ORDER_ID}$"
    assert purchase["amount"]["maximum"] == 1_000_000_000
    assert purchase["currency"] == {"const": "CNY",
                                    "description": "the programme's currency"}
    refund = schemas["Refund"]["properties"]
    assert refund["refund_id"]["pattern"] == f"^{identifiers.ORDER_ID}$"
    assert refund["amount"]["maximum"] == 1_000_000_000
    assert schemas["Redeem"]["properties"]["till"]["pattern"] == f"^{identifiers.ORDER_ID}$"
    for path in doc["paths"].values():
        for operation in path.values():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error"
    links = doc["paths"]["/api/v1/purchases"]["post"]["responses"]["201"]["links"]
    assert links["refundOrder"]["operationId"] == "refundOrder"
