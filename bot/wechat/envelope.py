"""Opening and sealing WeChat callbacks: signatures, timestamps and safe-mode crypto.

Signatures are compared in constant time (wechatpy compares with `!=`), so we compute
them with wechatpy's signer and compare with hmac.compare_digest; the AES work is
wechatpy's PrpCrypto. Safe and compatible modes arrive with encrypt_type=aes and get
encrypted replies; plaintext mode is accepted only when no AES key is configured.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from bot.wechat.xml import Unsafe, parse

MAX_AGE = 300


class Refused(Exception):
    """A callback we will not act on; `status` is the HTTP answer (400 or 403)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@dataclass(frozen=True)
class Envelope:
    token: str
    app_id: str
    aes_key: str | None = None
    max_age: int = MAX_AGE

    def __post_init__(self) -> None:
        if self.aes_key is not None:
            try:
                key = base64.b64decode(self.aes_key + "=", validate=True)
            except binascii.Error:
                key = b""
            if len(key) != 32:
                raise ValueError("the EncodingAESKey must be 43 base64 characters (32 bytes)")

    def verify(self, query: Mapping[str, str], now: float | None = None) -> None:
        """The URL signature (token, timestamp, nonce) and a timestamp within max_age."""
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise Refused(400, "timestamp missing or not a number")
        if abs((now if now is not None else time.time()) - int(timestamp)) > self.max_age:
            raise Refused(403, "timestamp outside the allowed window")
        expected = sign(self.token, timestamp, nonce)
        if not _same(expected, query.get("signature", "")):
            raise Refused(403, "bad signature")

    def open(self, query: Mapping[str, str], body: bytes,
             now: float | None = None) -> dict[str, str]:
        """A verified POST body as a flat dict of the message fields."""
        self.verify(query, now)
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if self.aes_key is not None and not encrypted:
            raise Refused(400, "safe mode is configured but the message is not encrypted")
        fields = _parse(body)
        if not encrypted:
            return fields
        if self.aes_key is None:
            raise Refused(400, "encrypted message but no EncodingAESKey is configured")
        cipher = fields.get("Encrypt", "")
        expected = sign(self.token, query["timestamp"], query.get("nonce", ""), cipher)
        if not cipher or not _same(expected, query.get("msg_signature", "")):
            raise Refused(403, "bad msg_signature")
        try:
            plain = PrpCrypto(self._key()).decrypt(cipher, self.app_id)
        except InvalidAppIdException:
            raise Refused(403, "message for another app id") from None
        except Exception:  # noqa: BLE001 - padding, base64, UTF-8: all mean "garbage"
            raise Refused(400, "cannot decrypt") from None
        return _parse(plain if isinstance(plain, bytes) else plain.encode())

    def seal(self, xml: str, encrypted: bool, now: float | None = None) -> str:
        """A reply body: as it is in plaintext mode, else encrypted and signed."""
        if not encrypted or self.aes_key is None:
            return xml
        timestamp = str(int(now if now is not None else time.time()))
        nonce = secrets.token_hex(8)
        cipher = PrpCrypto(self._key()).encrypt(xml, self.app_id)
        cipher = cipher.decode() if isinstance(cipher, bytes) else cipher
        signature = sign(self.token, timestamp, nonce, cipher)
        return (f"<xml><Encrypt><![CDATA[{cipher}]]></Encrypt>"
                f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")

    def _key(self) -> bytes:
        assert self.aes_key is not None
        return base64.b64decode(self.aes_key + "=")


def _same(expected: str, given: str) -> bool:
    """Constant-time equality; compare_digest refuses non-ASCII str, so compare bytes."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _parse(body: bytes) -> dict[str, str]:
    try:
        return parse(body)
    except Unsafe as exc:
        raise Refused(400, str(exc)) from None
