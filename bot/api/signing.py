"""Request signing, as common webhook conventions do it: the hex HMAC-SHA256 of
`timestamp + "." + raw body`, keyed with the API key, and a timestamp within five
minutes so a captured request cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP = "X-Memberbot-Timestamp"
SIGNATURE = "X-Memberbot-Signature"
TOLERANCE_S = 300


def sign(key: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def headers(key: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP: str(timestamp), SIGNATURE: sign(key, timestamp, body),
            "Content-Type": "application/json"}


def verify(key: str, timestamp: str | None, signature: str | None, body: bytes,
           now: float) -> str | None:
    """None when the request is authentic; else the error code to answer with."""
    if not timestamp or not signature:
        return "unsigned"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "bad_timestamp"
    if abs(now - int(timestamp)) > TOLERANCE_S:
        return "stale_timestamp"
    if not hmac.compare_digest(sign(key, int(timestamp), body), signature.strip().lower()):
        return "bad_signature"
    return None
