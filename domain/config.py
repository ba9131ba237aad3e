"""The programme file: one TOML document, validated once at start."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    PrivateAttr,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.community import durations
from domain.feedback.definitions import SurveyDef
from domain.wording import Document, LocalText, Strict, Words

if TYPE_CHECKING:  # the insight package reads the programme; it is not read here
    from domain.insight.cooccurrence import Models

__all__ = ["LocalText", "Strict"]  # where sections of the file have always found them

LOCALES = ("en", "zh_Hans")
DEFAULT_FILE = Path(__file__).with_name("programme.example.toml")

Points = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]
Code = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class ConfigError(Exception):
    """Raised with a message that names the offending field."""


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

    # Plain loops: an import asks these for every row.
    def by_code(self, code: str | None) -> Tier | None:
        for tier in self.levels:
            if tier.code == code:
                return tier
        return None

    def rank(self, code: str | None) -> int:
        """Position in the ladder; -1 for no tier."""
        for i, tier in enumerate(self.levels):
            if tier.code == code:
                return i
        return -1


class Expiry(Strict):
    policy: Literal["rolling", "end_of_next_year", "never"] = "rolling"
    months: Annotated[StrictInt, Field(ge=1, le=120)] = 12
    remind_days: Annotated[StrictInt, Field(ge=1, le=365)] = 30
    # At most one expiry reminder per member in this many days (rolling expiry would
    # otherwise remind a daily customer every day).
    remind_gap_days: Annotated[StrictInt, Field(ge=1, le=365)] = 7


class Lifecycle(Strict):
    """Stages of a member (domain/lifecycle/lifecycle.py). A purchase counts as activity."""

    new_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30
    lapse_multiple: Annotated[StrictInt, Field(ge=1, le=100)] = 3
    lapse_floor_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30
    churn_days: Annotated[StrictInt, Field(ge=2, le=3650)] = 180

    @model_validator(mode="after")
    def _floor_below_churn(self) -> Lifecycle:
        if self.lapse_floor_days >= self.churn_days:
            raise ValueError("lapse_floor_days must be less than churn_days")
        return self


class Birthday(Strict):
    """A gift on the member's birthday (or days_before it), at send_hour in their zone:
    points, a coupon for a catalogue reward, or both. Neither: no birthday job."""

    points: Points = 0
    reward: Code | None = None
    days_before: Annotated[StrictInt, Field(ge=0, le=60)] = 0
    send_hour: Annotated[StrictInt, Field(ge=0, le=23)] = 9
    catch_up_days: Annotated[StrictInt, Field(ge=0, le=60)] = 7
    benefit: Code | None = None  # only members whose tier lists this benefit

    @property
    def enabled(self) -> bool:
        return bool(self.points or self.reward)


class WinBack(Strict):
    """One coupon per lapse episode for members who stop coming (domain/lifecycle/winback.py)."""

    reward: Code | None = None  # a catalogue reward; unset: no win-back coupons
    consent_only: bool = True  # only members who agreed to marketing


class Community(Strict):
    """Defaults for gated chats (domain/community): a gate may set its own."""

    grace: StrictStr = "3d"  # from losing the tier to removal: `0`, `12h`, `3d`, `1w`
    on_lapse: Literal["remove", "warn"] = "remove"

    @field_validator("grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        if durations.parse(value) is None:
            raise ValueError(f"{value!r} is not a duration such as 0, 12h, 3d or 1w")
        return value


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


class CategoryBonus(Strict):
    """Extra points on the items of one category, as a percentage of their base points.
    `name` is what members read (/rules, the statement); without it, the code."""

    category: Code
    percent: Annotated[StrictInt, Field(ge=1, le=1000)]
    name: LocalText | None = None


class SkuBonus(Strict):
    """Flat extra points for each unit of one product bought. `name` is what members
    read (/rules, the statement); without it, the SKU as the till writes it."""

    sku: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    points: Points
    name: LocalText | None = None


class Promotion(Strict):
    """Double-points days and periods (积分加倍日): extra percent on purchase points.
    Every condition given must hold; the dates are local to the programme."""

    code: Code
    name: LocalText
    percent: Annotated[StrictInt, Field(ge=1, le=1000)] = 100
    weekdays: tuple[Annotated[StrictInt, Field(ge=1, le=7)], ...] = ()  # ISO: 1 is Monday
    dates: tuple[date, ...] = ()
    starts: date | None = None
    ends: date | None = None

    @model_validator(mode="after")
    def _some_day(self) -> Promotion:
        if not (self.weekdays or self.dates or self.starts or self.ends):
            raise ValueError("a promotion needs weekdays, dates, or starts/ends")
        if self.starts and self.ends and self.ends < self.starts:
            raise ValueError("ends comes before starts")
        return self

    def applies(self, day: date) -> bool:
        if self.weekdays and day.isoweekday() not in self.weekdays:
            return False
        if self.dates and day not in self.dates:
            return False
        return not ((self.starts and day < self.starts) or (self.ends and day > self.ends))


class Earning(Strict):
    profile_completion: Points = 0
    points_per_unit: Annotated[StrictInt, Field(ge=0, le=1000)] = 1
    unit_minor: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = 100
    first_purchase: Points = 0
    referrer: Points = 0
    referee: Points = 0
    referral_cap: Annotated[StrictInt, Field(ge=0, le=100_000)] = 50
    category_bonuses: tuple[CategoryBonus, ...] = ()
    sku_bonuses: tuple[SkuBonus, ...] = ()
    promotions: tuple[Promotion, ...] = ()


Command = Annotated[StrictStr, Field(pattern=r"^/[a-z_]{1,32}( [A-Za-z0-9_]{1,32})?$")]
Url = Annotated[StrictStr, Field(pattern=r"^https?://\S{1,900}$")]


class MenuEntry(Strict):
    """One button of a chat platform's fixed menu: a command, a web page, or a group of
    up to five entries. Labels are programme wording in every language."""

    label: LocalText
    command: Command | None = None
    url: Url | None = None
    items: Annotated[tuple[MenuEntry, ...], Field(max_length=5)] = ()

    @model_validator(mode="after")
    def _one_kind(self) -> MenuEntry:
        if sum(x is not None and x != () for x in (self.command, self.url, self.items)) != 1:
            raise ValueError("a menu entry has exactly one of command, url or items")
        if any(item.items for item in self.items):
            raise ValueError("menu groups hold commands and urls only, not further groups")
        return self


class RewardItem(Strict):
    """One entry of the rewards catalogue. `stock` is the starting stock; operators
    change it with /stock, and the database keeps the live figure."""

    code: Code
    kind: Literal["amount_off", "percent_off", "free_item", "gift", "goods", "experience"]
    title: LocalText
    description: LocalText
    cost: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]
    value: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = 0
    min_tier: StrictStr | None = None
    stock: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] | None = None
    per_member: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    starts: date | None = None
    ends: date | None = None
    coupon_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30

    @model_validator(mode="after")
    def _value_fits(self) -> RewardItem:
        if self.kind == "percent_off" and not 1 <= self.value <= 100:
            raise ValueError("value: a percent_off reward needs a value from 1 to 100")
        if self.kind == "amount_off" and self.value < 1:
            raise ValueError("value: an amount_off reward needs a value in minor units")
        if self.starts and self.ends and self.ends < self.starts:
            raise ValueError("ends comes before starts")
        return self


class QuietHours(Strict):
    """Hours of the member's own day when nothing is sent of the programme's own accord
    (survey invitations): from `start` to `end`, across midnight when start > end."""

    start: Annotated[StrictInt, Field(ge=0, le=23)] = 21
    end: Annotated[StrictInt, Field(ge=0, le=23)] = 9

    def holds(self, hour: int) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end


class Support(Strict):
    """The support inbox (domain/support): when an unanswered conversation reminds
    staff, and whether members see which staff member answered."""

    remind_after_minutes: Annotated[StrictInt, Field(ge=1, le=10_080)] = 30
    show_staff_names: bool = False


class Insight(Strict):
    """Figures for operators (domain/insight): what one point is worth in the programme's
    currency, for the liability of the points members hold (so "0.01": a hundred points
    are worth one yuan), and when the weekly report goes out, in the programme's zone."""

    point_value: Annotated[StrictStr, Field(pattern=r"^[0-9]{1,6}(\.[0-9]{1,4})?$")] = "0.01"
    report_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    report_hour: Annotated[StrictInt, Field(ge=0, le=23)] = 9

    @field_validator("point_value", mode="before")
    @classmethod
    def _point_value_as_written(cls, value: Any) -> Any:
        """`point_value = 0.01` as a TOML number reads as the text it was written as:
        TOML gives a float, whose shortest form is what was typed."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return format(Decimal(repr(value)), "f")
        return value

    @property
    def point_worth(self) -> Decimal:
        return Decimal(self.point_value)


RETENTION_MIN_DAYS = 180  # [privacy] retention_days, when set


class Privacy(Strict):
    """Members' data rights (domain/privacy): the privacy notice /privacy shows and its
    version, which every consent record names, so a record says which wording the
    member agreed to; change the version whenever the wording changes."""

    notice: Document = Document(
        en="We keep your profile, points, purchases and messages to run the programme. "
           "We send offers only if you agree, and you can stop them at any time.",
        zh_Hans="我们保存您的资料、积分、消费和消息记录，用于运营会员计划。"
                "仅在您同意后发送优惠信息，您可随时停止。")
    version: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")] = "1"
    # Days between a member's confirmed /deleteme and their erasure, for a change of mind.
    cooling_off_days: Annotated[StrictInt, Field(ge=0, le=90)] = 7
    # Retention (domain/privacy/retention.py): members inactive this many days are
    # erased as /deleteme erases them, warned `retention_warning_days` before. 0: off.
    retention_days: Annotated[StrictInt, Field(ge=0, le=3650)] = 0
    retention_warning_days: Annotated[StrictInt, Field(ge=7, le=90)] = 30

    @model_validator(mode="after")
    def _retention_long_enough(self) -> Privacy:
        if 0 < self.retention_days < RETENTION_MIN_DAYS:
            raise ValueError(f"retention_days must be 0 (off) or at least "
                             f"{RETENTION_MIN_DAYS}: members away for a season are not "
                             f"erased")
        return self


class Backup(Strict):
    """Scheduled copies of a SQLite database (domain/storage/backups.py): into `folder`
    (a relative one is taken from the database's own folder) every `every_hours` hours,
    the newest `keep` kept and older ones removed. No folder: off. On PostgreSQL the
    job takes none (pg_dump does that there)."""

    folder: Annotated[StrictStr, Field(max_length=1000)] = ""
    # Hours that divide a day: the copies fall at the same hours every day.
    every_hours: Literal[1, 2, 3, 4, 6, 8, 12, 24] = 24
    keep: Annotated[StrictInt, Field(ge=1, le=1000)] = 7

    @field_validator("folder")
    @classmethod
    def _a_path(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("must be a path without control characters")
        return value.strip()


Stars = Annotated[StrictInt, Field(ge=1, le=10_000)]
ChatRef = Annotated[StrictStr, Field(pattern=r"^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{4,32}$")]


class Plan(Strict):
    """A paid plan (付费会员): what it costs each period, in the stars the chat platform
    sells with, and what it gives while it is paid for: a tier the member never sits
    below, benefits, extra points on purchases (`multiplier_percent`, 150: half as many
    again), gated chats it opens whatever the tier, and a gift each period paid."""

    code: Code
    name: LocalText
    description: Words
    price: Stars
    period_days: Literal[30] = 30  # the platform renews every 30 days
    tier_floor: Code | None = None
    benefits: tuple[Code, ...] = ()
    multiplier_percent: Annotated[StrictInt, Field(ge=100, le=1000)] = 100
    chats: Annotated[tuple[ChatRef, ...], Field(max_length=20)] = ()
    gift_points: Points = 0
    gift_reward: Code | None = None


class Membership(Strict):
    """Paid membership (domain/membership): its plans; the days a lapsed payment is
    waited for before the benefits go (`grace_days`); where members of a platform that
    cannot take the payment may pay (`payment_url`); and its words: the terms /terms
    shows, and what /paysupport answers about payments, as a chat platform asks of
    every bot that sells."""

    plans: Annotated[tuple[Plan, ...], Field(max_length=10)] = ()
    grace_days: Annotated[StrictInt, Field(ge=0, le=30)] = 3
    payment_url: Url | None = None

    terms: Document = Document(
        en="Membership follows the programme's rules (/rules). A paid membership renews "
           "every 30 days until you cancel it; cancelling keeps it until the paid period "
           "ends. Points have no cash value and cannot be transferred.",
        zh_Hans="会员权益以会员规则（/rules）为准。付费会员每 30 天自动续费，直至您取消；"
                "取消后权益保留至已付周期结束。积分不可兑现，不可转让。")
    payment_support: Document = Document(
        en="Questions about a payment, a renewal or a refund? We answer every one.",
        zh_Hans="对付款、续费或退款有疑问？我们会逐一解答。")


class Programme(Strict):
    name: LocalText
    default_locale: Literal["en", "zh_Hans"] = "zh_Hans"
    timezone: StrictStr = "Asia/Shanghai"
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    phone_country_code: Annotated[StrictInt, Field(ge=1, le=999)] = 86
    tiers: Tiers
    expiry: Expiry = Expiry()
    lifecycle: Lifecycle = Lifecycle()
    birthday: Birthday = Birthday()
    winback: WinBack = WinBack()
    community: Community = Community()
    checkin: CheckinRules = CheckinRules()
    earning: Earning = Earning()
    benefits: dict[str, LocalText] = {}
    menu: Annotated[tuple[MenuEntry, ...], Field(max_length=3)] = ()
    rewards: tuple[RewardItem, ...] = ()
    surveys: Annotated[tuple[SurveyDef, ...], Field(max_length=50)] = ()
    quiet_hours: QuietHours = QuietHours()
    support: Support = Support()
    insight: Insight = Insight()
    privacy: Privacy = Privacy()
    membership: Membership = Membership()
    backup: Backup = Backup()
    # Not in the file: what domain.rewards.catalogue read of operators' edits.
    _catalogue: Any = PrivateAttr(default=None)
    # Not in the file: which accounts campaigns reach here (domain.campaigns.segments.Reach),
    # as the composition root decided from the process's settings.
    _reach: Any = PrivateAttr(default=None)
    # Not in the file: the model behind members' reward picks (domain.insight.cooccurrence
    # .Models), one per process, as the composition root made it; None: no picks.
    _recommender: Any = PrivateAttr(default=None)

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

    @model_validator(mode="after")
    def _rewards_valid(self) -> Programme:
        codes = [r.code for r in self.rewards]
        if len(set(codes)) != len(codes):
            raise ValueError("rewards: reward codes must be unique")
        for i, item in enumerate(self.rewards):
            if item.min_tier is not None and self.tiers.by_code(item.min_tier) is None:
                raise ValueError(f"rewards.{i}.min_tier: {item.min_tier!r} is not a tier")
        for where, code in (("birthday.reward", self.birthday.reward),
                            ("winback.reward", self.winback.reward)):
            if code is not None and self.reward_in_file(code) is None:
                raise ValueError(f"{where}: {code!r} is not in [[rewards]]")
        if self.birthday.benefit is not None and self.birthday.benefit not in self.benefits:
            raise ValueError(f"birthday.benefit: {self.birthday.benefit!r} is not in [benefits]")
        return self

    @model_validator(mode="after")
    def _surveys_valid(self) -> Programme:
        codes = [s.code for s in self.surveys]
        if len(set(codes)) != len(codes):
            raise ValueError("surveys: survey codes must be unique")
        for i, survey in enumerate(self.surveys):
            if survey.reward is not None and self.reward_in_file(survey.reward) is None:
                raise ValueError(f"surveys.{i}.reward: {survey.reward!r} is not in [[rewards]]")
        return self

    @model_validator(mode="after")
    def _plans_valid(self) -> Programme:
        codes = [p.code for p in self.membership.plans]
        if len(set(codes)) != len(codes):
            raise ValueError("membership.plans: plan codes must be unique")
        for i, plan in enumerate(self.membership.plans):
            where = f"membership.plans.{i}"
            if plan.tier_floor is not None and self.tiers.by_code(plan.tier_floor) is None:
                raise ValueError(f"{where}.tier_floor: {plan.tier_floor!r} is not a tier")
            for code in plan.benefits:
                if code not in self.benefits:
                    raise ValueError(f"{where}.benefits: {code!r} is not in [benefits]")
            if plan.gift_reward is not None and self.reward_in_file(plan.gift_reward) is None:
                raise ValueError(f"{where}.gift_reward: {plan.gift_reward!r} is not in "
                                 "[[rewards]]")
        return self

    def plan(self, code: str) -> Plan | None:
        return next((p for p in self.membership.plans if p.code == code), None)

    def reward(self, code: str) -> RewardItem | None:
        """The catalogue item as operators left it (domain.rewards.catalogue)."""
        return next((r for r in self.catalogue() if r.code == code), None)

    def reward_in_file(self, code: str) -> RewardItem | None:
        return next((r for r in self.rewards if r.code == code), None)

    def catalogue(self) -> tuple[RewardItem, ...]:
        """The effective catalogue: the file's items with operators' edits, and items
        operators added, as `domain.rewards.catalogue.refresh` last read them."""
        state = self._catalogue
        return state.items if state is not None and state.base is self.rewards \
            else self.rewards

    @property
    def catalogue_state(self) -> Any:
        return self._catalogue

    def keep_catalogue(self, state: Any) -> None:
        self._catalogue = state

    @property
    def reach(self) -> Any:
        return self._reach

    def keep_reach(self, reach: Any) -> None:
        self._reach = reach

    @property
    def recommender(self) -> Models | None:
        return self._recommender

    def keep_recommender(self, models: Models | None) -> None:
        self._recommender = models

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


P = TypeVar("P", bound=Programme)


def parse(text: str, source: str = "programme", model: type[P] = Programme) -> P:  # type: ignore[assignment]
    """`model` is this Programme or the composition's, which adds the sections of the
    platforms it serves; the file's format is the same."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def load(path: str | Path | None = None, model: type[P] = Programme) -> P:  # type: ignore[assignment]
    file = Path(path) if path else DEFAULT_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the programme file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: the programme file must be UTF-8 text ({exc.reason} "
                          f"at byte {exc.start})") from exc
    return parse(text, str(file), model)


# What each pattern a setting must match asks for, said for whoever edits the file.
_PATTERNS = {
    r"^[a-z][a-z0-9_]{0,31}$": "a code: a small letter, then up to 31 small letters, "
                               "digits or _",
    r"^/[a-z_]{1,32}( [A-Za-z0-9_]{1,32})?$": "a command such as \"/points\" or "
                                              "\"/gift CODE\"",
    r"^https?://\S{1,900}$": "a web address starting with http:// or https://",
    r"^[0-9]{1,6}(\.[0-9]{1,4})?$": "a decimal number in quotes, such as \"0.01\"",
    r"^[A-Za-z0-9._-]{1,32}$": "up to 32 letters, digits, dots, dashes or _",
    r"^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{4,32}$": "a chat id (digits, perhaps after a minus) "
                                              "or an @username",
    r"^[A-Z]{3}$": "a three-letter currency code in capitals, such as \"CNY\"",
}
# Our words for each kind of mistake the validator finds (its own text is not shown:
# it speaks of Python types and regular expressions).
_SAID = {
    "missing": "is required",
    "extra_forbidden": "is not a setting here (is it spelt right, and in the right table?)",
    "int_parsing": "must be a whole number", "int_type": "must be a whole number",
    "int_from_float": "must be a whole number", "string_type": "must be text in quotes",
    "bool_parsing": "must be true or false", "bool_type": "must be true or false",
    "greater_than_equal": "must be at least {ge}", "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}", "less_than": "must be less than {lt}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "needs at least {min_length} entries",
    "too_long": "takes at most {max_length} entries",
    "literal_error": "must be one of {expected}",
    "list_type": "must be a list, in [ ]", "dict_type": "must be a table",
    "model_type": "must be a table", "model_attributes_type": "must be a table",
}


def _said(err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])  # our validators' own sentences
    if kind == "string_pattern_mismatch":
        return "must be " + _PATTERNS.get(ctx.get("pattern", ""), "in the form this setting takes")
    if kind in _SAID:
        return _SAID[kind].format(**ctx)
    return "is not a value this setting takes"


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid programme configuration"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        got = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(
            err.get("input"), dict | list) else f" (it is {ascii(err.get('input'))[:60]})"
        lines.append(f"  {where}: {_said(err)}{got}")
    return "\n".join(lines)
