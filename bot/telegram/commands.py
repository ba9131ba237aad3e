"""The "/" menu: member commands for private chats in English and Chinese, and, for
operators' own chats, the operator commands as well."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
)

from handlers import menu
from handlers.routing import Router

LANGUAGES = {"en": "en", "zh_Hans": "zh"}  # our locale -> Telegram's language_code


def listing(router: Router, locale: str, extra: Iterable[str] = ()) -> list[BotCommand]:
    names = [name for name, _ in menu.commands(router, locale)] + list(extra)
    return [BotCommand(command=name, description=menu.describe(name, locale)[:256])
            for name in names]


async def publish(bot: Bot, router: Router, default_locale: str,
                  operators: dict[str, list[str]] | None = None) -> None:
    """`operators` maps an operator's chat id to the extra commands their role allows."""
    for locale, language in LANGUAGES.items():
        await bot.set_my_commands(listing(router, locale), BotCommandScopeAllPrivateChats(),
                                  language_code=language)
    await bot.set_my_commands(listing(router, default_locale), BotCommandScopeDefault())
    for chat_id, extra in (operators or {}).items():
        for locale, language in LANGUAGES.items():
            await bot.set_my_commands(listing(router, locale, extra),
                                      BotCommandScopeChat(chat_id=int(chat_id)),
                                      language_code=language)
