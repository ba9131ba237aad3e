"""JSON bodies to domain commands. Anything off is a `BadRequest` with a code, before
the database is touched; strict types, so 12.5 or "100" is never an amount."""

from __future__ import annotations

import json
from typing import Any

from domain.earning import Item
from domain.purchases import Order


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("malformed_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("malformed_json", "the body must be a JSON object")
    return data


def integer(data: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if type(value) is not int:
        raise BadRequest("invalid_field", f"{name} must be an integer (minor units)")
    return value


def text(data: dict[str, Any], name: str, required: bool = True, limit: int = 64) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadRequest("invalid_field", f"{name} must be a string of 1 to {limit} characters")
    return value


def member_ref(data: dict[str, Any]) -> dict[str, str]:
    ref = data.get("member")
    if not isinstance(ref, dict):
        raise BadRequest("invalid_field", "member must be an object")
    given = {k: v for k, v in ref.items() if v is not None}
    allowed = ({"number"}, {"phone"}, {"platform", "external_id"})
    if set(given) not in allowed or not all(isinstance(v, str) and 0 < len(v) <= 128
                                            for v in given.values()):
        raise BadRequest("invalid_field", "member needs exactly one of: number, phone, "
                                          "or platform with external_id (strings)")
    return given


def order(data: dict[str, Any], source: str = "api") -> Order:
    items = data.get("items", [])
    if not isinstance(items, list):
        raise BadRequest("invalid_field", "items must be a list")
    parsed = []
    for raw in items:
        if not isinstance(raw, dict):
            raise BadRequest("invalid_field", "each item must be an object")
        parsed.append(Item(sku=text(raw, "sku"), category=text(raw, "category"),
                           quantity=integer(raw, "quantity"), amount=integer(raw, "amount")))
    return Order(order_id=text(data, "order_id"), amount=integer(data, "amount"),
                 currency=text(data, "currency", limit=3), items=tuple(parsed), source=source)
