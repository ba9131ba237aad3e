"""Process settings, from the environment. The programme itself is in its TOML file.

Secrets (tokens, keys) live only here and in the environment, never in the programme
file, so the programme can be shared and reviewed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///memberbot.db"
TELEGRAM_API_URL = "https://api.telegram.org"
WECHAT_API_URL = "https://api.weixin.qq.com"
BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")  # the bot's id, ":", its secret


class SettingsError(ValueError):
    """A variable that is set but unusable; the message names it."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    programme_file: Path | None = None
    log_level: str | None = None  # None: INFO, or WARNING while chatting
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    telegram_token: str | None = None
    telegram_library: str = "aiogram"  # or "ptb"; chosen with `memberbot run --telegram-library`
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_rate: float = 30.0  # messages per second, all chats together
    telegram_paid_rate: int = 0  # 0: paid broadcast off
    telegram_paid_budget: int = 0  # the most paid messages ever sent
    wechat_app_id: str | None = None
    wechat_app_secret: str | None = None
    wechat_token: str | None = None
    wechat_aes_key: str | None = None
    wechat_api_url: str = WECHAT_API_URL
    wechat_max_age: int = 300  # seconds a signed callback stays acceptable
    api_key: str | None = None
    metrics_token: str | None = None  # None: GET /metrics is open (bot/metrics.py)
    owner: str | None = None  # "telegram:12345": the programme's owner, a platform identity
    redis_url: str | None = None
    # The web app's address as members' browsers reach it (https://club.example.com),
    # for links it serves: a member's data where a platform cannot send documents.
    public_url: str | None = None
    # Campaigns reach console members: None (unset) when the console is the only chat.
    console_reachable: bool | None = None

    @property
    def telegram(self) -> bool:
        return bool(self.telegram_token)

    @property
    def telegram_webhook(self) -> bool:
        return bool(self.telegram_webhook_url)

    @property
    def wechat(self) -> bool:
        return bool(self.wechat_app_id and self.wechat_app_secret and self.wechat_token)

    @property
    def console_only(self) -> bool:
        """No chat platform but the terminal: the console is where members are."""
        return not (self.telegram or self.wechat)

    @property
    def console_reached(self) -> bool:
        """Whether campaigns are sent to console members: as asked, else when the
        console is the only chat."""
        return self.console_only if self.console_reachable is None else self.console_reachable

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = {k: v for k, v in (os.environ if env is None else env).items() if v != ""}
        programme = env.get("MEMBERBOT_PROGRAMME")
        settings = cls(
            database_url=env.get("MEMBERBOT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            programme_file=Path(programme) if programme else None,
            log_level=(env.get("MEMBERBOT_LOG_LEVEL") or "").upper() or None,
            http_host=env.get("MEMBERBOT_HTTP_HOST", cls.http_host),
            http_port=_number(env, "MEMBERBOT_HTTP_PORT", int, cls.http_port, 0, 65535),
            telegram_token=env.get("MEMBERBOT_TELEGRAM_TOKEN"),
            telegram_api_url=env.get("MEMBERBOT_TELEGRAM_API_URL", TELEGRAM_API_URL).rstrip("/"),
            telegram_webhook_url=env.get("MEMBERBOT_TELEGRAM_WEBHOOK_URL"),
            telegram_webhook_secret=env.get("MEMBERBOT_TELEGRAM_WEBHOOK_SECRET"),
            telegram_rate=_number(env, "MEMBERBOT_TELEGRAM_RATE", float, 30.0, 0.1, 1000),
            telegram_paid_rate=_number(env, "MEMBERBOT_TELEGRAM_PAID_RATE", int, 0, 0, 1000),
            telegram_paid_budget=_number(env, "MEMBERBOT_TELEGRAM_PAID_BUDGET", int, 0, 0,
                                         10**9),
            wechat_app_id=env.get("MEMBERBOT_WECHAT_APP_ID"),
            wechat_app_secret=env.get("MEMBERBOT_WECHAT_APP_SECRET"),
            wechat_token=env.get("MEMBERBOT_WECHAT_TOKEN"),
            wechat_aes_key=env.get("MEMBERBOT_WECHAT_AES_KEY"),
            wechat_api_url=env.get("MEMBERBOT_WECHAT_API_URL", WECHAT_API_URL).rstrip("/"),
            wechat_max_age=_number(env, "MEMBERBOT_WECHAT_MAX_AGE", int, 300, 10, 3600),
            api_key=env.get("MEMBERBOT_API_KEY"),
            metrics_token=env.get("MEMBERBOT_METRICS_TOKEN"),
            owner=env.get("MEMBERBOT_OWNER"),
            redis_url=env.get("MEMBERBOT_REDIS_URL"),
            public_url=(env.get("MEMBERBOT_PUBLIC_URL") or "").rstrip("/") or None,
            console_reachable=_switch(env, "MEMBERBOT_CONSOLE_REACHABLE"),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.telegram_token is not None and not BOT_TOKEN.fullmatch(self.telegram_token):
            raise SettingsError("MEMBERBOT_TELEGRAM_TOKEN is not a bot token: @BotFather gives "
                                "one like 123456789:AAH4k..., the bot's number, a colon and "
                                "letters, digits, _ or -")
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise SettingsError("MEMBERBOT_TELEGRAM_WEBHOOK_URL needs "
                                "MEMBERBOT_TELEGRAM_WEBHOOK_SECRET: without it anyone could "
                                "post updates")
        secret = self.telegram_webhook_secret or ""
        if secret and not (1 <= len(secret) <= 256
                           and all(c.isascii() and (c.isalnum() or c in "_-") for c in secret)):
            raise SettingsError("MEMBERBOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters "
                                "of A-Z, a-z, 0-9, _ and -")
        if self.owner is not None and not all(self.owner.partition(":")[::2]):
            raise SettingsError("MEMBERBOT_OWNER must look like platform:id, e.g. "
                                "telegram:12345")
        if self.public_url is not None and not re.fullmatch(
                r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?", self.public_url):
            raise SettingsError("MEMBERBOT_PUBLIC_URL must be the web app's address as "
                                "browsers reach it, e.g. https://club.example.com")
        token = self.metrics_token
        if token is not None and not (len(token) <= 256 and token.isascii()
                                      and token.isprintable() and " " not in token):
            raise SettingsError("MEMBERBOT_METRICS_TOKEN must be at most 256 visible ASCII "
                                "characters, without spaces: Prometheus sends it in a header")
        if self.wechat_aes_key is not None and len(self.wechat_aes_key) != 43:
            raise SettingsError("MEMBERBOT_WECHAT_AES_KEY must be the 43-character "
                                "EncodingAESKey")


def shown_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _switch(env: dict[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None:
        return None
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _number(env: dict[str, str], name: str, kind: type, default: float, low: float,
             high: float):
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}")
    return value
