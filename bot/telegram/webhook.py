"""The Telegram webhook's front door, shared by the aiogram and PTB services.

Only a holder of the secret gets past the first check, but a leaked secret or a broken
proxy must still meet a refusal, never a 500: so the body is read under a size limit,
its nesting is measured before any recursive parser sees it (json, pydantic and PTB all
recurse, and 100,000 brackets exhaust the stack), integers are held to the 64 bits
Telegram's ids use (Python refuses to convert more than 4,300 digits at all), and the
fields memberbot reads must have Telegram's types. That last check is ours because
python-telegram-bot's `de_json` checks none: a message without a chat would be recorded,
fail in every handler, and be recovered forever. A refused body changes nothing.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from bot.web import MAX_BODY, error  # a real update, keyboard included, is a few KB

log = logging.getLogger(__name__)
U = TypeVar("U")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_DEPTH = 32  # arrays and objects; real updates nest about ten deep
INT_RANGE = range(-(2**63), 2**63)  # Telegram's ids and dates fit a signed 64-bit integer

# The fields the gateway reads, with the JSON types Telegram gives them; "?" marks an
# optional one. Other fields and unknown update types are left to the libraries.
USER = {"id": int, "is_bot": bool, "first_name": str, "last_name?": str, "username?": str,
        "language_code?": str}
CHAT = {"id": int, "type": str}
MESSAGE = {"message_id": int, "date": int, "chat": CHAT, "from?": USER, "text?": str,
           "caption?": str, "message_thread_id?": int, "is_topic_message?": bool,
           "contact?": {"phone_number": str, "first_name": str, "user_id?": int}}
MEMBER = {"status": str, "user": USER}
UPDATE_FIELDS = {
    "message": MESSAGE, "edited_message": MESSAGE, "channel_post": MESSAGE,
    "callback_query": {"id": str, "from": USER, "chat_instance": str, "data?": str,
                       "message?": MESSAGE},
    "my_chat_member": {"chat": CHAT, "from": USER, "date": int, "old_chat_member": MEMBER,
                       "new_chat_member": MEMBER},
}

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_SQUARE = str.maketrans("{}", "[]")


class Refused(Exception):
    """A body the webhook will not take: the HTTP status and a JSON error to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def checked_webhook(secret: str, parse: Callable[[dict[str, Any]], U],
                    take: Callable[[U], Awaitable[object]]):
    """The secret header is compared in constant time; without it nothing is read.
    `parse` is the library's own reading of a checked body; whatever it raises is a
    refusal. After `take` has recorded the update, Telegram may forget it (our 200):
    a crash is recovered. A failure in `take` (the database) is a 500 on purpose, so
    that Telegram delivers the update again."""
    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return error(401, "unauthorized", "the secret token header is missing or wrong")
        try:
            data = await update_json(request)
            try:
                update = parse(data)
            except Exception as exc:  # noqa: BLE001 - the library's refusal, in its own words
                raise Refused(400, "malformed_update",
                              "the body is not a Telegram Update") from exc
        except Refused as refused:
            log.info("telegram webhook body refused", extra={
                "code": refused.code, "detail": repr(refused.__cause__ or refused)[:200]})
            return error(refused.status, refused.code, refused.message)
        await take(update)
        return web.json_response({"ok": True})
    return handle


async def update_json(request: web.Request) -> dict[str, Any]:
    """The body as an Update's JSON object, or Refused."""
    return update_object(await _read(request))


def update_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "malformed_json", "the body is not UTF-8") from None
    if not nesting_within(text, MAX_DEPTH):
        raise Refused(400, "malformed_json", f"the body nests deeper than {MAX_DEPTH}")
    try:
        data = json.loads(text, parse_int=_sized_int, parse_constant=_no_constant)
    except ValueError:  # JSONDecodeError, and our integer and constant refusals
        raise Refused(400, "malformed_json", "the body is not JSON with 64-bit integers") \
            from None
    if type(data) is not dict or type(data.get("update_id")) is not int:
        raise Refused(400, "malformed_update", "the body is not a Telegram Update")
    for field, shape in UPDATE_FIELDS.items():
        if field in data and not _fits(data[field], shape):
            raise Refused(400, "malformed_update", f"{field} is not a Telegram {field}")
    return data


def nesting_within(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest at most `limit` deep, measured without
    recursion: strings go, brackets stay, and each pass drops the innermost pairs."""
    # Which bracket closes which is json's business; here "{" counts as "[".
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).translate(_SQUARE)
    too_deep = "[" * (limit + 1)  # the common attack, caught at once
    for _ in range(limit):
        if not brackets:
            return True
        if too_deep in brackets:
            return False
        brackets = brackets.replace("[]", "")  # one scan: only the innermost pairs go
    return not brackets


async def _read(request: web.Request) -> bytes:
    """The body, refused early when larger than MAX_BODY, whatever the web app allows."""
    too_large = Refused(413, "body_too_large", f"an update is at most {MAX_BODY} bytes")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _sized_int(digits: str) -> int:
    if len(digits) > 20 or (value := int(digits)) not in INT_RANGE:
        raise ValueError("integer out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _fits(value: Any, shape: Any) -> bool:
    if not isinstance(shape, dict):
        return type(value) is shape  # exact: JSON true is not an integer here
    if type(value) is not dict:
        return False
    for name, inner in shape.items():
        key = name.removesuffix("?")
        if key in value:
            if not _fits(value[key], inner):
                return False
        elif key == name:
            return False
    return True
