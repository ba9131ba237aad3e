"""The audit log as staff read it (/audit, registered in roles.py).

The log keeps what each action recorded, as recorded: action keys ("tag.add"), actor
labels ("member:00000042", "settings", "api:till-3"), codes (a role, a reward kind, a
language), amounts in minor units, lists, before-and-after dicts, moments in UTC.
Here they become words: "member 00000042 tagged member 00000007: tags vip", codes by
their names, money in the programme's currency, lists joined, changes as
"before → after", and every time in the programme's zone, which the page names once.
Anything the log holds that we have no words for is shown as recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rewards import coupons
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.engine import i18n
from handlers.engine.routing import Ctx
from handlers.engine.types import Local, Money, Text
from handlers.engine.words import (
    clock,
    local,
    multiplier,
    number,
    tier_called,
    yes_no,
    zone_label,
)

MONEY = ("amount",)  # minor units of the programme's currency
UNSET = {"remaining": "audit.unlimited", "value": "catalogue.value_unset",
         "per_member": "catalogue.no_limit", "min_tier": "rewards.floor.all",
         "starts": "audit.no_start", "ends": "audit.no_end"}
AMOUNTS = ("amount_off", "gift", "goods", "experience")  # as handlers.rewards.fields
UNSET_LEFT_OUT = ("bonus", "days", "coupon")  # a campaign without them: nothing to list
SWITCHES = {"enabled": ("audit.on", "audit.off")}
ACTORS = {"settings": "audit.actor.settings", "api": "audit.actor.api",
          "cli": "audit.actor.cli", "privacy": "audit.actor.privacy",
          "retention": "audit.actor.retention"}
# Parameters whose value is a code with a catalog name: the key's prefix.
CODES = {"role": "role.name", "kind": "catalogue.kind", "status": "campaign.status",
         "locales": "campaign.language", "languages": "campaign.language",
         "stages": "campaign.stage"}
PLATFORMS = {"telegram": Local({"en": "Telegram", "zh_Hans": "Telegram"}),
             "wechat": Local({"en": "WeChat", "zh_Hans": "微信"}),
             "console": Local({"en": "console", "zh_Hans": "控制台"})}


def line(ctx: Ctx, entry: AuditEntry) -> Text:
    params = dict(entry.params or {})
    action = _action(ctx, entry, params)
    if entry.action == "campaign.create":
        if params.get("variants") == 1:
            del params["variants"]  # one message: no A/B test, so no variants or split
            params.pop("split", None)
        for name in UNSET_LEFT_OUT:  # no coupon, no bonus: nothing to say
            if params.get(name) is None:
                params.pop(name, None)
    kind = _reward_kind(ctx, entry, params)
    if kind is not None and not _has_value(kind, params.get("value")):
        params.pop("value", None)  # a free item, or a gift nobody priced
    if set(params) >= {"before", "after"} and all(
            isinstance(params[k], dict) for k in ("before", "after")):
        before = params["before"]
        details: list[Any] = [change for name, value in params["after"].items()
                              if before.get(name) != value  # what the edit changed
                              for change in _changes(ctx, name, before.get(name), value, kind)]
        details += [_pair(ctx, k, v, kind) for k, v in sorted(params.items())
                    if k not in ("before", "after")]
    elif entry.action.startswith("tag.") and set(params) == {"tags"}:
        details = [_value(ctx, "tags", params["tags"])]  # "tagged member 7: vip, tea lover"
    else:
        details = [_pair(ctx, k, v, kind) for k, v in sorted(params.items())]
    return Text("audit.line", {
        "when": clock(entry.created_at, ctx.programme.zone), "actor": actor(entry.actor),
        "action": action,
        "details": Text("audit.details", {"items": _joined(details)}) if details else ""})


def zone(ctx: Ctx) -> Text | str:
    """The page's zone, 'Asia/Shanghai, UTC+8', with each language's comma."""
    name, comma, offset = zone_label(ctx.programme.zone, ctx.now).partition(", ")
    return Text("audit.zone", {"name": name, "offset": offset}) if comma else name


def actor(label: str) -> Text | str:
    """Who did it, in words: "member 00000042", "the settings (MEMBERBOT_OWNER)"."""
    kind, _, rest = label.partition(":")
    if kind == "member" and rest:
        return Text("audit.actor.member", {"number": rest})
    if kind == "api" and rest:
        return Text("audit.actor.api_till", {"till": rest})
    return Text(ACTORS[label]) if label in ACTORS else label


def _target(ctx: Ctx, entry: AuditEntry) -> Text | str:
    kind, _, rest = entry.target.partition(":")
    if kind == "member" and rest:
        return Text("audit.actor.member", {"number": rest})
    if kind == "campaign" and rest:
        return Text("audit.target.campaign", {"number": rest})
    if entry.action.startswith("job.") and i18n.has(f"jobs.name.{entry.target}", ctx.locale):
        return Text(f"jobs.name.{entry.target}")
    if entry.action.startswith("coupon."):  # as members see it: NEMR-F93A-RC53-N45N
        return coupons.display(coupons.normalize(entry.target))
    return entry.target


def _action(ctx: Ctx, entry: AuditEntry, params: dict[str, Any]) -> Text:
    """What was done to what, as one phrase; a role granted or revoked is named in it
    (and so left out of the details)."""
    key = f"audit.action.{entry.action}"
    target = _target(ctx, entry)
    if not i18n.has(key, ctx.locale):
        return Text("audit.action.other", {"action": entry.action, "target": target})
    if entry.action.startswith("role."):
        role = params.pop("role", "")
        return Text(key, {"target": target, "role": _code(ctx, "role", role)})
    return Text(key, {"target": target})


def _reward_kind(ctx: Ctx, entry: AuditEntry, params: dict[str, Any]) -> str | None:
    """The kind of the reward an entry is about, which says what its `value` means."""
    if not entry.action.startswith("reward."):
        return None
    if isinstance(params.get("kind"), str):
        return str(params["kind"])
    item = ctx.programme.reward(entry.target)
    return item.kind if item is not None else None


def _has_value(kind: str, value: Any) -> bool:
    """Whether an item's value means anything (as on its card): a free item has none,
    and a gift's value is shown only when set."""
    return kind != "free_item" and (kind in ("amount_off", "percent_off") or bool(value))


def _joined(parts: list[Any]) -> Any:
    """'a; b; c' as one value (a list would be rendered one per line)."""
    out: Any = parts[0]
    for part in parts[1:]:
        out = Text("audit.and", {"a": out, "b": part})
    return out


def _label(ctx: Ctx, name: str) -> Text | str:
    key = f"audit.param.{name}"
    return Text(key) if i18n.has(key, ctx.locale) else name


def _pair(ctx: Ctx, name: str, value: Any, kind: str | None = None) -> Text:
    return Text("audit.pair", {"name": _label(ctx, name),
                               "value": _value(ctx, name, value, kind)})


def _worded(value: Any) -> bool:
    """Programme wording per language ({"en": ..., "zh_Hans": ...}), or nothing yet."""
    return value is None or (isinstance(value, dict) and bool(value)
                             and set(value) <= set(i18n.LOCALES))


def _changes(ctx: Ctx, name: str, before: Any, after: Any, kind: str | None) -> list[Text]:
    """One change; for wording, one per language that changed, named, with that
    language's own before and after (a reader of the other language would otherwise
    see "title cake → cake")."""
    if not (_worded(before) and _worded(after)) or before is None and after is None:
        return [_change(ctx, name, before, after, kind)]
    old, new = before or {}, after or {}
    return [Text("audit.change", {
        "name": Text("audit.in_language", {"name": _label(ctx, name),
                                           "language": Text(f"wording.language.{code}")}),
        "before": old.get(code) or Text("catalogue.value_unset"),
        "after": new.get(code) or Text("catalogue.value_unset")})
        for code in i18n.LOCALES if (old.get(code) or None) != (new.get(code) or None)]


def _change(ctx: Ctx, name: str, before: Any, after: Any, kind: str | None) -> Text:
    return Text("audit.change", {"name": _label(ctx, name),
                                 "before": _value(ctx, name, before, kind),
                                 "after": _value(ctx, name, after, kind)})


def _value(ctx: Ctx, name: str, value: Any, kind: str | None = None) -> Any:
    if value is None:
        return Text(UNSET.get(name, "audit.none"))
    if isinstance(value, bool):
        on, off = SWITCHES.get(name, ("", ""))
        return Text(on if value else off) if on else yes_no(value)
    if name == "languages" and value == []:  # "Same text for all"
        return Text("audit.one_text")
    if isinstance(value, int):
        if name == "value" and kind is not None and not _has_value(kind, value):
            return Text("catalogue.value_unset")  # a gift nobody priced, as on its card
        if name == "days":
            return Text("campaign.days", {"count": value})
        if name == "cost":  # a reward's: "cost 100 points" (Chinese: 所需积分 100)
            return Text("audit.points", {"count": value})
        if name == "value" and kind == "percent_off":
            return f"{value}%"
        if name in MONEY or (name == "value" and kind in AMOUNTS):
            return Money(value, ctx.programme.currency)
        if name in ("split", "holdout"):
            return f"{value}%"
        if name == "bonus":
            return f"×{multiplier(100 + value)}"
        return number(value) if name == "member" else value
    if isinstance(value, list | tuple):
        return _listed([_plain(ctx, name, v) for v in value]) if value \
            else Text("audit.none")
    if isinstance(value, dict):
        if set(value) == set(i18n.LOCALES):  # programme wording, e.g. a reward's title
            return Local(value)
        if not value:  # a segment with no filter: the whole membership
            return Text("audit.everyone" if name == "segment" else "audit.none")
        return Text("audit.nested", {"items": _joined(
            [_pair(ctx, k, v, kind) for k, v in sorted(value.items())])})
    if isinstance(value, str) and name.endswith("_at"):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return clock(moment, ctx.programme.zone) if moment.tzinfo is not None else value
    if isinstance(value, str):
        return _code(ctx, name, value)
    return value


def _code(ctx: Ctx, name: str, value: str) -> Any:
    """A code by the name it has for staff: a role, a reward kind, a tier, a reward, a
    language, a platform; the code itself when it has none."""
    if name in ("tiers", "min_tier"):
        return tier_called(ctx.programme.tiers, value)
    if name in ("reward", "coupon"):
        item = ctx.programme.reward(value)
        return local(item.title) if item is not None else value
    if name == "platforms" and value in PLATFORMS:
        return PLATFORMS[value]
    prefix = CODES.get(name)
    if prefix is not None and (name != "role" or value in roles.ROLES) \
            and i18n.has(f"{prefix}.{value}", ctx.locale):
        return Text(f"{prefix}.{value}")
    return value


def _plain(ctx: Ctx, name: str, value: Any) -> Any:
    """An item of a list, as words: lists of codes, tags or numbers, joined."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _value(ctx, name, value)


def _listed(items: list[Any]) -> Any:
    """'a, b, c' in English, 'a、b、c' in Chinese: each language's list comma."""
    out: Any = items[0]
    for item in items[1:]:
        out = Text("audit.list.more", {"a": out, "b": item})
    return out
