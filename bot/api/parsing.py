"""JSON bodies to domain commands. Anything off is a `BadRequest` with a code and our own
message, before the database is touched.

Types are strict, so "100" is never an amount; an integral number is an integer
whatever its spelling (1, 1.0, 1e3), as JSON Schema has it, and is read as a Decimal,
never a float. Identifiers are checked whole against the patterns the OpenAPI
document quotes (domain.identifiers), so the document and the server agree.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from domain import identifiers
from domain.points.earning import Item
from domain.points.purchases import MAX_AMOUNT, MAX_ITEMS, MAX_QUANTITY, Order

MAX_DEPTH = 8  # of a body; ours nest three deep


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number(text: str) -> Decimal:
    """Any JSON number, exactly: a Decimal has no digit limit (an int refuses 4,300
    digits with ValueError), and the body's size bounds what it costs."""
    return Decimal(text)


def _constant(name: str) -> Any:
    raise BadRequest("malformed_json", f"{name} is not a JSON number")


def _plain(value: Any, level: int = 1) -> None:
    """One walk for what json.loads lets through: nesting past MAX_DEPTH, and lone
    surrogates ("\ud800" is valid JSON but no text, and no database stores it)."""
    if level > MAX_DEPTH and isinstance(value, dict | list):
        raise BadRequest("malformed_json", f"the body nests deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise BadRequest("malformed_json", "the body holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, child in value.items():
            _plain(key, level)
            _plain(child, level + 1)
    elif isinstance(value, list):
        for child in value:
            _plain(child, level + 1)


def body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_int=_number, parse_float=_number,
                          parse_constant=_constant)
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError is a ValueError
        raise BadRequest("malformed_json", "the body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("malformed_json", f"the body nests deeper than {MAX_DEPTH}") from None
    if not isinstance(data, dict):
        raise BadRequest("malformed_json", "the body must be a JSON object")
    _plain(data)
    return data


def integer(data: dict[str, Any], name: str, low: int, high: int,
            required: bool = True) -> int | None:
    """An integral JSON number. One far outside [low, high] (1e999999) is not built as an
    int: it stands as the nearest value just outside, for the domain to refuse."""
    if name not in data and not required:
        return None
    value = data.get(name)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        if value > high:
            return high + 1
        return low - 1 if value < low else int(value)
    raise BadRequest("invalid_field", f"{name} must be an integer (minor units)")


def identifier(data: dict[str, Any], name: str, pattern: str,
               required: bool = True) -> str | None:
    if name not in data and not required:
        return None
    value = data.get(name)
    if not identifiers.valid(pattern, value):
        raise BadRequest("invalid_field", f"{name} must be a string matching "
                                          f"{identifiers.anchored(pattern)}")
    return value


_MEMBER_FORMS = {frozenset({"number"}): "number", frozenset({"phone"}): "phone",
                 frozenset({"platform", "external_id"}): "account"}
_MEMBER_FIELDS = {"number": identifiers.MEMBER_NUMBER, "phone": identifiers.PHONE,
                  "platform": identifiers.PLATFORM, "external_id": identifiers.EXTERNAL_ID}


def member_ref(data: dict[str, Any]) -> dict[str, str]:
    ref = data.get("member")
    if not isinstance(ref, dict) or frozenset(ref) not in _MEMBER_FORMS:
        raise BadRequest("invalid_field", "member needs exactly one of: number, phone, "
                                          "or platform with external_id")
    return {name: identifier(ref, name, _MEMBER_FIELDS[name]) for name in ref}


def _item(raw: Any) -> Item:
    if not isinstance(raw, dict):
        raise BadRequest("invalid_field", "each item must be an object")
    return Item(sku=identifier(raw, "sku", identifiers.ITEM_TEXT),
                category=identifier(raw, "category", identifiers.ITEM_TEXT),
                quantity=integer(raw, "quantity", 1, MAX_QUANTITY),
                amount=integer(raw, "amount", 0, MAX_AMOUNT))


def day(data: dict[str, Any], name: str) -> date:
    """A calendar day written YYYY-MM-DD that exists (no 2026-02-30)."""
    value = identifier(data, name, identifiers.DAY)
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise BadRequest("invalid_field", f"{name} must be a calendar day, YYYY-MM-DD") \
            from None


def required(data: dict[str, Any], *names: str) -> None:
    """Name every missing field at once, before judging any of them."""
    missing = [name for name in names if name not in data]
    if missing:
        raise BadRequest("missing_field", "missing: " + ", ".join(missing))


def order(data: dict[str, Any], source: str = "api") -> Order:
    items = data.get("items", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise BadRequest("invalid_field", f"items must be a list of at most {MAX_ITEMS}")
    return Order(order_id=identifier(data, "order_id", identifiers.ORDER_ID),
                 amount=integer(data, "amount", 1, MAX_AMOUNT),
                 currency=identifier(data, "currency", identifiers.CURRENCY),
                 items=tuple(_item(raw) for raw in items), source=source)
