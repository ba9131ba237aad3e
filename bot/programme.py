"""The programme as this process reads it: the domain's sections, plus those of the
platforms the adapters serve. The file's format is one; only where each section is
understood differs."""

from __future__ import annotations

from pathlib import Path

from bot.wechat.programme import WeChat
from domain import config


class Programme(config.Programme):
    wechat: WeChat = WeChat()


def load(path: str | Path | None = None) -> Programme:
    return config.load(path, Programme)


def parse(text: str, source: str = "programme") -> Programme:
    return config.parse(text, source, Programme)
