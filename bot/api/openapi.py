"""The OpenAPI 3.1 description of the API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from bot.api.signing import SIGNATURE, TIMESTAMP

SIGNED = [{"timestamp": [], "signature": []}]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_ERRORS = {"400": _error("Malformed JSON or a field of the wrong type"),
           "401": _error("Missing or bad signature, or a timestamp off by over 5 minutes"),
           "404": _error("Unknown member, order or coupon"),
           "409": _error("Order id reused for another purchase, or already used/refunded"),
           "422": _error("Refused by the programme's rules (amount, currency, items)")}
_INT = {"type": "integer"}
_STR = {"type": "string"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "memberbot purchases API", "version": "1",
             "description": (
                 f"Every request carries `{TIMESTAMP}` (unix seconds) and `{SIGNATURE}`: the "
                 "hex HMAC-SHA256 of `timestamp + \".\" + raw body`, keyed with "
                 "MEMBERBOT_API_KEY. Amounts are integers in minor units (fen, cents). "
                 "The order id is the idempotency key: repeating a call returns the first "
                 "result with `duplicate: true`.")},
    "components": {
        "securitySchemes": {
            "timestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP},
            "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": _STR, "message": _STR}}}},
            "MemberRef": {"type": "object", "description": "exactly one of number, phone, "
                          "or platform with external_id",
                          "properties": {"number": _STR, "phone": _STR, "platform": _STR,
                                         "external_id": _STR}},
            "Item": {"type": "object", "required": ["sku", "category", "quantity", "amount"],
                     "properties": {"sku": _STR, "category": _STR,
                                    "quantity": {"type": "integer", "minimum": 1},
                                    "amount": {"type": "integer", "minimum": 0}}},
            "Purchase": {"type": "object",
                         "required": ["order_id", "member", "amount", "currency"],
                         "properties": {"order_id": {"type": "string", "maxLength": 64},
                                        "member": {"$ref": "#/components/schemas/MemberRef"},
                                        "amount": {"type": "integer", "minimum": 1},
                                        "currency": {"type": "string", "example": "CNY"},
                                        "items": {"type": "array", "items": {
                                            "$ref": "#/components/schemas/Item"}}}},
            "Recorded": {"type": "object", "properties": {
                "order_id": _STR, "member": _STR, "points": _INT, "balance": _INT,
                "tier": _STR, "tier_upgraded": {"type": "boolean"},
                "duplicate": {"type": "boolean"},
                "rules": {"type": "array", "items": {"type": "object", "properties": {
                    "rule": _STR, "reason": _STR, "points": _INT}}}}},
            "Refund": {"type": "object", "required": ["order_id"], "properties": {
                "order_id": _STR,
                "amount": {"type": "integer", "minimum": 1,
                           "description": "minor units; leave out to refund what is left"},
                "refund_id": {"type": "string", "description": "tells apart several "
                              "partial refunds of the same amount"}}},
            "Refunded": {"type": "object", "properties": {
                "order_id": _STR, "amount": _INT, "points_reversed": _INT,
                "points_unrecovered": _INT, "refunded_total": _INT, "balance": _INT,
                "duplicate": {"type": "boolean"}}},
            "Verified": {"type": "object", "properties": {
                "code": _STR, "reward": _STR, "kind": _STR, "value": _INT, "member": _STR,
                "used_at": {"type": "string", "format": "date-time"}}},
        },
    },
    "paths": {
        "/api/v1/purchases": {"post": {
            "summary": "Record a purchase and award its points", "security": SIGNED,
            "requestBody": {"required": True, **_json("Purchase")},
            "responses": {"201": {"description": "Recorded", **_json("Recorded")},
                          "200": {"description": "Recorded before", **_json("Recorded")},
                          **_ERRORS}}},
        "/api/v1/refunds": {"post": {
            "summary": "Refund an order in full or in part; its points go back in proportion",
            "security": SIGNED, "requestBody": {"required": True, **_json("Refund")},
            "responses": {"201": {"description": "Refunded", **_json("Refunded")},
                          "200": {"description": "Refunded before", **_json("Refunded")},
                          **_ERRORS}}},
        "/api/v1/coupons/{code}/redeem": {"post": {
            "summary": "Use a member's coupon at the till (once)", "security": SIGNED,
            "parameters": [{"name": "code", "in": "path", "required": True, "schema": _STR}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"till": _STR}}}}},
            "responses": {"200": {"description": "Used now", **_json("Verified")},
                          "410": _error("Expired"),
                          "429": _error("Too many wrong codes from this till; wait"),
                          **_ERRORS}}},
        "/api/v1/openapi.json": {"get": {"summary": "This document",
                                         "responses": {"200": {"description": "OpenAPI"}}}},
    },
}
