"""Payments in Telegram Stars for the conversations (handlers.engine.payments.Payments)
and for the gateway: an invoice reply made a link to pay (createInvoiceLink) shown as a
button, refunds (refundStarPayment) and renewal (editUserStarSubscription), each
failure in Telegram's own words."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.telegram.transport import TelegramFailure, Transport
from handlers.engine.payments import PaymentError
from handlers.engine.render import render
from handlers.engine.types import Payment, Rendered, Reply

log = logging.getLogger(__name__)
PLATFORM = "telegram"
NO_LINK = "membership.invoice_failed"


class TelegramPayments:
    platform = PLATFORM

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def refund(self, account: str, charge_id: str) -> None:
        try:
            await self.transport.refund_stars(account, charge_id)
        except TelegramFailure as exc:
            raise PaymentError(exc.description) from exc

    async def set_renewal(self, account: str, charge_id: str, renews: bool) -> None:
        try:
            await self.transport.star_renewal(account, charge_id, canceled=not renews)
        except TelegramFailure as exc:
            raise PaymentError(exc.description) from exc


async def with_invoice(transport: Transport, message: Rendered, locale: str) -> Rendered:
    """`message` with a button that opens the link to pay its invoice; when Telegram
    gives no link, a message that says so instead."""
    invoice = message.invoice
    if invoice is None:
        return message
    try:
        link = await transport.invoice_link(invoice)
    except TelegramFailure as exc:
        log.warning("no invoice link", extra={"detail": exc.description})
        return render(Reply(NO_LINK), locale)
    return replace(message, buttons=(*message.buttons, ((invoice.label, link),)), invoice=None)


def payment_of(message: Any) -> Payment | None:
    """The payment a successful_payment message reports (either library's), if any."""
    paid = getattr(message, "successful_payment", None)
    if paid is None:
        return None
    return Payment(charge_id=paid.telegram_payment_charge_id, payload=paid.invoice_payload,
                   amount=int(paid.total_amount), currency=paid.currency,
                   expires_at=_moment(paid.subscription_expiration_date),
                   recurring=bool(paid.is_recurring), first=bool(paid.is_first_recurring)
                   if paid.is_recurring else True)


def _moment(value: Any) -> datetime | None:
    """aiogram gives seconds since the epoch, python-telegram-bot a datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(value), UTC)
