"""The audit log as staff read it (/audit, registered in roles.py).

The log keeps what each action recorded, as recorded: amounts in minor units, lists,
before-and-after dicts, moments in UTC. Here they become words: money in the
programme's currency, lists joined, changes as "before → after", and every time in
the programme's zone, which the page names once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.staff.tables import AuditEntry
from handlers.engine import i18n
from handlers.engine.routing import Ctx
from handlers.engine.types import Local, Money, Text
from handlers.engine.words import clock, number, yes_no

MONEY = ("amount",)  # minor units of the programme's currency
SWITCHES = {"enabled": ("audit.on", "audit.off")}


def line(ctx: Ctx, entry: AuditEntry) -> Text:
    params = entry.params or {}
    if set(params) >= {"before", "after"} and all(
            isinstance(params[k], dict) for k in ("before", "after")):
        details: list[Any] = [_change(ctx, name, params["before"].get(name), value)
                              for name, value in params["after"].items()]
        details += [_pair(ctx, k, v) for k, v in sorted(params.items())
                    if k not in ("before", "after")]
    else:
        details = [_pair(ctx, k, v) for k, v in sorted(params.items())]
    return Text("audit.line", {
        "when": clock(entry.created_at, ctx.programme.zone), "actor": entry.actor,
        "action": entry.action, "target": entry.target,
        "details": Text("audit.details", {"items": _joined(details)}) if details else ""})


def _joined(parts: list[Any]) -> Any:
    """'a; b; c' as one value (a list would be rendered one per line)."""
    out: Any = parts[0]
    for part in parts[1:]:
        out = Text("audit.and", {"a": out, "b": part})
    return out


def _label(ctx: Ctx, name: str) -> Text | str:
    key = f"audit.param.{name}"
    return Text(key) if i18n.has(key, ctx.locale) else name


def _pair(ctx: Ctx, name: str, value: Any) -> Text:
    return Text("audit.pair", {"name": _label(ctx, name), "value": _value(ctx, name, value)})


def _change(ctx: Ctx, name: str, before: Any, after: Any) -> Text:
    return Text("audit.change", {"name": _label(ctx, name), "before": _value(ctx, name, before),
                                 "after": _value(ctx, name, after)})


def _value(ctx: Ctx, name: str, value: Any) -> Any:
    if value is None:
        return Text("audit.unlimited" if name == "remaining" else "audit.none")
    if isinstance(value, bool):
        on, off = SWITCHES.get(name, ("", ""))
        return Text(on if value else off) if on else yes_no(value)
    if isinstance(value, int):
        if name in MONEY:
            return Money(value, ctx.programme.currency)
        return number(value) if name == "member" else value
    if isinstance(value, list | tuple):
        return ", ".join(str(_plain(ctx, name, v)) for v in value) or Text("audit.none")
    if isinstance(value, dict):
        if set(value) == set(i18n.LOCALES):  # programme wording, e.g. a reward's title
            return Local(value)
        return Text("audit.nested", {"items": _joined(
            [_pair(ctx, k, v) for k, v in sorted(value.items())])}) if value \
            else Text("audit.none")
    if isinstance(value, str) and name.endswith("_at"):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return clock(moment, ctx.programme.zone) if moment.tzinfo is not None else value
    return value


def _plain(ctx: Ctx, name: str, value: Any) -> Any:
    """An item of a list: lists of words or numbers, joined as they are."""
    return value if isinstance(value, str | int) else i18n.translate(
        _value(ctx, name, value), ctx.locale)
