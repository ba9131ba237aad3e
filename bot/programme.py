"""The programme as this process reads it: the domain's sections, plus those of the
platforms the adapters serve. The file's format is one; only where each section is
understood differs."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from bot.wechat import groups
from bot.wechat.programme import WeChat
from domain import config


class Programme(config.Programme):
    wechat: WeChat = WeChat()

    @model_validator(mode="after")
    def _group_tiers(self) -> Programme:
        for group in self.wechat.groups:
            if self.tiers.by_code(group.tier) is None:
                raise ValueError(f"wechat group {group.code}: {group.tier!r} is not a tier; "
                                 f"tiers: {', '.join(t.code for t in self.tiers.levels)}")
        return self


def load(path: str | Path | None = None) -> Programme:
    programme = config.load(path, Programme)
    groups.read(programme, folder(path))  # a missing or unusable picture is named now
    return programme


def folder(path: str | Path | None) -> Path:
    """Where the programme file's relative paths start: beside the file."""
    return (Path(path) if path else config.DEFAULT_FILE).resolve().parent


def parse(text: str, source: str = "programme") -> Programme:
    return config.parse(text, source, Programme)
