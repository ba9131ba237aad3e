"""The programme file: one TOML document, validated once at start."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

LOCALES = ("en", "zh_Hans")
DEFAULT_FILE = Path(__file__).with_name("programme.example.toml")

Points = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class ConfigError(Exception):
    """Raised with a message that names the offending field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(Strict):
    """Programme-owned wording (tier and benefit names), given in every language."""

    en: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    zh_Hans: Annotated[StrictStr, Field(min_length=1, max_length=200)]

    def get(self, locale: str) -> str:
        return getattr(self, locale, self.en)


class Tier(Strict):
    code: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    name: LocalText
    threshold: Points
    multiplier_percent: Annotated[StrictInt, Field(ge=100, le=1000)] = 100
    benefits: tuple[str, ...] = ()


class Tiers(Strict):
    mode: Literal["only_up", "up_and_down"] = "up_and_down"
    basis: Literal["points", "spend"] = "points"
    window_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 365
    validity_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 365
    grace_days: Annotated[StrictInt, Field(ge=0, le=3650)] = 30
    levels: Annotated[tuple[Tier, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if self.levels[0].threshold != 0:
            raise ValueError("levels.0.threshold must be 0 so every member has a tier")
        codes = [t.code for t in self.levels]
        if len(set(codes)) != len(codes):
            raise ValueError("levels: tier codes must be unique")
        for lower, upper in zip(self.levels, self.levels[1:], strict=False):
            if upper.threshold <= lower.threshold:
                raise ValueError(f"levels: threshold of {upper.code!r} must exceed {lower.code!r}")
        return self

    def by_code(self, code: str | None) -> Tier | None:
        return next((t for t in self.levels if t.code == code), None)

    def rank(self, code: str | None) -> int:
        """Position in the ladder; -1 for no tier."""
        return next((i for i, t in enumerate(self.levels) if t.code == code), -1)


class Expiry(Strict):
    policy: Literal["rolling", "end_of_next_year", "never"] = "rolling"
    months: Annotated[StrictInt, Field(ge=1, le=120)] = 12
    remind_days: Annotated[StrictInt, Field(ge=1, le=365)] = 30


class StreakBonus(Strict):
    days: Annotated[StrictInt, Field(ge=2, le=366)]
    points: Points


class CheckinRules(Strict):
    base_points: Points = 5
    streak_bonuses: tuple[StreakBonus, ...] = ()
    cycle_days: Annotated[StrictInt, Field(ge=0, le=366)] = 0

    @model_validator(mode="after")
    def _cycle_covers_bonuses(self) -> CheckinRules:
        if self.cycle_days and any(b.days > self.cycle_days for b in self.streak_bonuses):
            raise ValueError("streak_bonuses: a bonus day lies beyond cycle_days")
        return self


class Earning(Strict):
    profile_completion: Points = 0


class Programme(Strict):
    name: LocalText
    default_locale: Literal["en", "zh_Hans"] = "zh_Hans"
    timezone: StrictStr = "Asia/Shanghai"
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    tiers: Tiers
    expiry: Expiry = Expiry()
    checkin: CheckinRules = CheckinRules()
    earning: Earning = Earning()
    benefits: dict[str, LocalText] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _benefits_defined(self) -> Programme:
        for i, tier in enumerate(self.tiers.levels):
            for code in tier.benefits:
                if code not in self.benefits:
                    raise ValueError(f"tiers.levels.{i}.benefits: {code!r} is not in [benefits]")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse(text: str, source: str = "programme") -> Programme:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return Programme.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def load(path: str | Path | None = None) -> Programme:
    file = Path(path) if path else DEFAULT_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the programme file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: the programme file must be UTF-8 text ({exc.reason} "
                          f"at byte {exc.start})") from exc
    return parse(text, str(file))


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid programme configuration"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)
