"""Renders a queued notice in its member's language. Notice parameters are stored as
JSON, so rich values travel tagged: {"$money": [minor, currency]}, {"$date": ISO},
{"$moment": ISO datetime} (shown in the programme's zone), {"$tier": code},
{"$text": key}, {"$reward": code}, {"$local": {"en": .., "zh_Hans": ..}} (wording
the programme or an operator gave in each language)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.config import Programme
from domain.insight import report
from handlers.engine import i18n
from handlers.engine.render import render
from handlers.engine.types import Button, Local, Money, Rendered, Reply, Text
from handlers.engine.words import local, tier_called
from handlers.insight import report as insight_report


def locale_for(member_locale: str | None, programme: Programme,
               hint: str | None = None) -> str:
    """The language a member reads: their choice, else the hint their platform last gave
    (`Member.language_hint`), else the programme's default (as members.language)."""
    return i18n.negotiate(member_locale, hint) or programme.default_locale


# A notice's buttons, if it has any: rows of {"label": key, "params": {...}, "action":
# the action its press sends}, as a reply's (a rating's 1-5). Where a platform has no
# buttons they show as numbered lines, as a reply's do.
BUTTONS = "buttons"


def render_notice(key: str, params: dict[str, Any], locale: str,
                  programme: Programme) -> Rendered:
    values = {name: _decode(value, programme) for name, value in params.items()
              if name != BUTTONS}
    rows = tuple(tuple(Button(Text(str(b["label"]), dict(b.get("params") or {})),
                              str(b["action"])) for b in row)
                 for row in params.get(BUTTONS) or ())
    return render(Reply(key, values, rows), locale)


def _decode(value: Any, programme: Programme) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, raw), = value.items()
    if tag == "$money":
        return Money(int(raw[0]), str(raw[1]))
    if tag == "$date":
        return date.fromisoformat(raw)
    if tag == "$moment":
        return datetime.fromisoformat(raw).astimezone(programme.zone).replace(second=0,
                                                                             microsecond=0)
    if tag == "$tier":
        return tier_called(programme.tiers, str(raw))
    if tag == "$text":
        return Text(str(raw))
    if tag == "$local" and isinstance(raw, dict):  # wording given in each language
        return Local({str(k): str(v) for k, v in raw.items()})
    if tag == "$reward":  # a catalogue reward, by its title
        item = programme.reward(raw)
        return local(item.title) if item is not None else str(raw)
    return value


async def render_drawn(key: str, params: dict[str, Any], locale: str,
                       programme: Programme) -> Rendered | None:
    """A notice whose message is drawn when it goes out, a chart with it (the weekly
    report); None for the others, which render_notice words. Drawing takes a while, so
    the notifier calls this outside any transaction."""
    if key == report.KEY:
        return await insight_report.render_report(params, locale, programme)
    return None


def drawn(key: str) -> bool:
    return key == report.KEY
