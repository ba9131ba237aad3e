"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json.

It is the contract a till is written against, so it says exactly what the server
takes: the same identifier patterns (domain.identifiers), the same bounds, which
fields are required, and every status each call can answer with. The suite runs
schemathesis against the served copy to keep the two in step.
"""

from __future__ import annotations

from typing import Any

from bot.api.signing import SIGNATURE, TIMESTAMP
from bot.web import MAX_BODY
from domain import identifiers as ids
from domain.insight import takings
from domain.points.purchases import MAX_AMOUNT, MAX_ITEMS, MAX_QUANTITY

SIGNED = [{"timestamp": [], "signature": []}]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _pattern(pattern: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "pattern": ids.anchored(pattern), **more}


def _object(required: list[str], properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **more}


_ERRORS = {
    "400": _error("The body is not a JSON object or nests deeper than 8, or a required field "
                  "is missing, has the wrong type or does not match its pattern"),
    "401": _error("Missing or bad signature, or a timestamp off by over 5 minutes"),
    "413": _error(f"The body is larger than {MAX_BODY} bytes"),
}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_AMOUNT = {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT,
           "description": "minor units (fen, cents)"}
_ORDER_ID = _pattern(ids.ORDER_ID, description="the till's order id: the idempotency key")
_MEMBER_FORMS = [
    _object(["number"], {"number": _pattern(ids.MEMBER_NUMBER)}, additionalProperties=False),
    _object(["phone"], {"phone": _pattern(ids.PHONE)}, additionalProperties=False),
    _object(["platform", "external_id"], {"platform": _pattern(ids.PLATFORM),
                                          "external_id": _pattern(ids.EXTERNAL_ID)},
            additionalProperties=False),
]
_REFUND_LINK = {"refundOrder": {
    "operationId": "refundOrder", "requestBody": {"order_id": "$response.body#/order_id"},
    "description": "Refund what is left of the order just recorded"}}

def document(currency: str) -> dict[str, Any]:
    """The document for a programme: its currency is the only one a purchase, or a
    day's takings, may name."""
    schemas = {**SCHEMAS, **{name: {**SCHEMAS[name], "properties": {
        **SCHEMAS[name]["properties"],
        "currency": {"const": currency, "description": "the programme's currency"}}}
        for name in ("Purchase", "Takings")}}
    return {**DOCUMENT, "components": {**DOCUMENT["components"], "schemas": schemas}}


SCHEMAS: dict[str, Any] = {
    "Error": _object(["error"], {"error": _object(["code", "message"], {
        "code": {"type": "string", "description": "stable, for programs"},
        "message": {"type": "string", "description": "for people"}})}),
    "MemberRef": {"description": "exactly one of: a member number, a phone, or a platform "
                                 "account", "oneOf": _MEMBER_FORMS},
    "Item": _object(["sku", "category", "quantity", "amount"], {
        "sku": _pattern(ids.ITEM_TEXT), "category": _pattern(ids.ITEM_TEXT),
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
        "amount": {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT,
                   "description": "minor units; at most the order's amount"}}),
    "Purchase": _object(["order_id", "member", "amount", "currency"], {
        "order_id": _ORDER_ID, "member": {"$ref": "#/components/schemas/MemberRef"},
        "amount": _AMOUNT,
        "currency": _pattern(ids.CURRENCY),
        "items": {"type": "array", "maxItems": MAX_ITEMS,
                  "items": {"$ref": "#/components/schemas/Item"}}}),
    "Recorded": _object(
        ["order_id", "member", "points", "rules", "balance", "tier", "tier_upgraded",
         "duplicate"], {
            "order_id": _STR, "member": _STR, "points": _INT, "balance": _INT,
            "tier": {"type": ["string", "null"]}, "tier_upgraded": _BOOL, "duplicate": _BOOL,
            "rules": {"type": "array", "items": _object(["rule", "reason", "points"], {
                "rule": _STR, "reason": _STR, "points": _INT})}}),
    "Refund": _object(["order_id"], {
        "order_id": _ORDER_ID,
        "amount": {**_AMOUNT, "description": "minor units; leave out to refund what is left"},
        "refund_id": _pattern(ids.ORDER_ID, description=(
            "the till's id of this refund, within its order: tells apart several partial "
            "refunds of the same amount. Without it, the amount asked for is the key."))}),
    "Refunded": _object(
        ["order_id", "amount", "points_reversed", "points_unrecovered", "refunded_total",
         "balance", "duplicate"], {
            "order_id": _STR, "amount": _INT, "points_reversed": _INT,
            "points_unrecovered": _INT, "refunded_total": _INT, "balance": _INT,
            "duplicate": _BOOL}),
    "Takings": _object(["day", "amount", "orders", "currency"], {
        "day": _pattern(ids.DAY, format="date", description=(
            "the store day, in the programme's time zone, YYYY-MM-DD; not in the future")),
        "amount": {"type": "integer", "minimum": 0, "maximum": takings.MAX_AMOUNT,
                   "description": "minor units taken that day from every customer, members "
                                  "or not"},
        "orders": {"type": "integer", "minimum": 0, "maximum": takings.MAX_ORDERS},
        "currency": _pattern(ids.CURRENCY, description="the programme's currency")}),
    "TakingsReported": _object(["day", "amount", "orders", "corrected"], {
        "day": _STR, "amount": _INT, "orders": _INT, "corrected": _BOOL}),
    "Redeem": _object([], {"till": _pattern(ids.ORDER_ID, description=(
        "which till; failed codes are counted per till"))}),
    "Verified": _object(["code", "reward", "kind", "value", "member", "used_at"], {
        "code": _STR, "reward": _STR, "kind": _STR, "value": _INT, "member": _STR,
        "used_at": {"type": "string", "format": "date-time"}}),
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "memberbot purchases API", "version": "1",
             "description": (
                 f"Every request carries `{TIMESTAMP}` (unix seconds) and `{SIGNATURE}`: the "
                 "hex HMAC-SHA256 of `timestamp + \".\" + raw body`, keyed with "
                 "MEMBERBOT_API_KEY. Amounts are integers in minor units (fen, cents). "
                 "The order id is the idempotency key: repeating a call returns the first "
                 "result with `duplicate: true`; a refund is keyed by its order and its "
                 "refund id (or, without one, the amount asked for).")},
    "components": {
        "securitySchemes": {
            "timestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP},
            "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE}},
        "schemas": SCHEMAS,
    },
    "paths": {
        "/api/v1/purchases": {"post": {
            "operationId": "recordPurchase",
            "summary": "Record a purchase and award its points", "security": SIGNED,
            "requestBody": {"required": True, **_json("Purchase")},
            "responses": {
                "201": {"description": "Recorded", **_json("Recorded"), "links": _REFUND_LINK},
                "200": {"description": "Recorded before", **_json("Recorded"),
                        "links": _REFUND_LINK},
                **_ERRORS,
                "404": _error("No such member"),
                "409": _error("The order id was used for another purchase, or the phone "
                              "names several members"),
                "422": _error("Refused by the programme's rules: an amount out of bounds, a "
                              "currency other than the programme's, an item worth more "
                              "than the order")}}},
        "/api/v1/refunds": {"post": {
            "operationId": "refundOrder",
            "summary": "Refund an order in full or in part; its points go back in proportion",
            "security": SIGNED, "requestBody": {"required": True, **_json("Refund")},
            "responses": {
                "201": {"description": "Refunded", **_json("Refunded")},
                "200": {"description": "Refunded before", **_json("Refunded")},
                **_ERRORS,
                "404": _error("No such order"),
                "409": _error("More than is left of the order to refund (all of it, when it "
                              "is refunded in full), or this refund id was used with another "
                              "amount"),
                "422": _error("An amount out of bounds")}}},
        "/api/v1/coupons/{code}/redeem": {"post": {
            "operationId": "redeemCoupon",
            "summary": "Use a member's coupon at the till (once)", "security": SIGNED,
            "parameters": [{"name": "code", "in": "path", "required": True,
                            "schema": _pattern(ids.COUPON_CODE, description=(
                                "as printed; case, spaces and dashes do not matter"))}],
            "requestBody": {"required": False, **_json("Redeem")},
            "responses": {"200": {"description": "Used now", **_json("Verified")},
                          **_ERRORS,
                          "404": _error("No such coupon"),
                          "409": _error("Used already"),
                          "410": _error("Expired"),
                          "429": _error("Too many wrong codes from this till; wait")}}},
        "/api/v1/store-sales": {"post": {
            "operationId": "reportStoreSales",
            "summary": "Report a day's takings from every customer, so /stats can say what "
                       "share of revenue came from members; a day reported again is "
                       "corrected", "security": SIGNED,
            "requestBody": {"required": True, **_json("Takings")},
            "responses": {
                "201": {"description": "Reported", **_json("TakingsReported")},
                "200": {"description": "Corrected: the day had been reported",
                        **_json("TakingsReported")},
                **_ERRORS,
                "422": _error("Refused: a day in the future, a currency other than the "
                              "programme's, an amount or a number of orders out of "
                              "bounds")}}},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapiDocument", "summary": "This document",
            "responses": {"200": {"description": "OpenAPI",
                                  "content": {"application/json": {"schema": {
                                      "type": "object"}}}}}}},
    },
}
