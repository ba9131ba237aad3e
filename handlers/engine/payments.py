"""What conversations may ask of a platform's payments, without knowing the platform.

A platform that takes payments in stars gives the engine one of these
(Engine(payments=...)); the console and WeChat give none, and members there are told
where to pay instead. Each call names the paying account on that platform and the
payment's charge id, as the platform gave them.
"""

from __future__ import annotations

from typing import Protocol


class PaymentError(Exception):
    """The platform refused; `reason` is what it said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Payments(Protocol):
    platform: str

    async def refund(self, account: str, charge_id: str) -> None:
        """Give the payment `charge_id` back to `account`."""

    async def set_renewal(self, account: str, charge_id: str, renews: bool) -> None:
        """Stop (False) or allow again (True) the renewal of the subscription whose first
        payment was `charge_id`; the period paid for is kept either way."""
