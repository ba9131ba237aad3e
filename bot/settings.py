"""Process settings, from the environment. The programme itself is in its TOML file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///memberbot.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    programme_file: Path | None = None
    log_level: str | None = None  # None: INFO, or WARNING while chatting

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        programme = env.get("MEMBERBOT_PROGRAMME")
        return cls(
            database_url=env.get("MEMBERBOT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            programme_file=Path(programme) if programme else None,
            log_level=(env.get("MEMBERBOT_LOG_LEVEL") or "").upper() or None,
        )
