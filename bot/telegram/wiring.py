"""What the aiogram and python-telegram-bot services share: the updates asked for, the
flood-safe sender, pushing and editing for notices and campaigns, and staff menus. Kept
apart so that each library's service imports it rather than the other service."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from bot.app import App
from bot.telegram import commands
from bot.telegram.gateway import PLATFORM, Gateway
from bot.telegram.sender import Sender
from domain.staff import roles

ALLOWED = ["message", "edited_message", "channel_post", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 25
PUSH_OUTCOMES = {"sent": "sent", "unreachable": "unreachable", "rejected": "rejected"}


async def staff_menus(app: App) -> dict[str, list[str]]:
    async with app.db.uow() as uow:
        return commands.staff_menus(await roles.staff_accounts(uow, PLATFORM))


def sender(settings, transport, gateway: Gateway) -> Sender:
    return Sender(transport, rate=settings.telegram_rate, paid_rate=settings.telegram_paid_rate,
                  paid_budget=settings.telegram_paid_budget,
                  on_unreachable=gateway.unreachable)


def pusher(sender: Sender):
    async def push(chat_id: str, message) -> str:
        result = await sender.send(chat_id, message)
        return PUSH_OUTCOMES.get(result.status, "retry")
    return push


def editor(sender: Sender):
    """Campaign progress: edit the message when there is one, else (or when it can no
    longer be edited) send a new one; the id of the message that shows it, or None."""
    async def show(chat_id: str, message, message_id: str | None) -> str | None:
        result = await sender.send(chat_id, replace(message, edit=message_id is not None),
                                   edit_message_id=message_id, interactive=True)
        if result.status == "rejected" and message_id is not None:
            if "not modified" in result.detail:
                return message_id
            result = await sender.send(chat_id, replace(message, edit=False), interactive=True)
        return result.message_id if result.status == "sent" else None
    return show


def webhook_path(settings) -> str:
    return urlsplit(settings.telegram_webhook_url).path or "/"
