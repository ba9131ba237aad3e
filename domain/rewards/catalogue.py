"""The rewards catalogue as operators edited it.

The programme file gives the catalogue; operators change an item's cost, tier,
limits, dates and wording in chat, or add items of their own. Edits live in the
database (`reward_edits`), so every worker and every restart sees the same
catalogue. Each worker keeps the effective catalogue on its Programme and checks it
with one small query per transaction (`refresh`); a redemption refreshes inside its
own transaction, so it charges the cost that is current when it commits.

An edit is validated exactly as the programme file is (the same pydantic model, the
same tier check), so nothing an operator types can produce an item the file could
not hold. A refusal is a code with the field, the rule and its bounds (taken from
the model itself), never the validator's English: handlers word it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func, select

from domain.config import LOCALES, LocalText, Programme, RewardItem
from domain.errors import Refused
from domain.rewards.tables import RewardEdit
from domain.staff import audit
from domain.storage.database import UnitOfWork

log = logging.getLogger(__name__)
EDITABLE = ("cost", "value", "min_tier", "per_member", "starts", "ends", "title",
            "description", "coupon_days")
COUPON_KINDS = ("amount_off", "percent_off", "free_item", "gift", "goods", "experience")
NUMBERS = ("cost", "value", "per_member", "coupon_days")
WORDING = ("title", "description")
CODE_LENGTH = 32  # domain.config.Code: a lower-case letter, then up to 31 of [a-z0-9_]
PERCENT = (1, 100)  # a percent_off item's value (RewardItem._value_fits)
_T = RewardEdit.__table__
_REVISION = select(func.coalesce(func.sum(_T.c.revision), 0), func.count()).select_from(_T)
_ALL = select(_T.c.code, _T.c.fields, _T.c.created).order_by(_T.c.code)


class EditRefused(Refused):
    pass


@dataclass(frozen=True)
class _State:
    base: tuple[RewardItem, ...]  # the file's catalogue this was built on
    revision: tuple[int, int]
    items: tuple[RewardItem, ...]


async def refresh(uow: UnitOfWork, programme: Programme) -> tuple[RewardItem, ...]:
    """Bring `programme.catalogue()` up to date with the database; returns it."""
    total, count = (await uow.execute(_REVISION)).one()
    revision = (int(total), int(count))
    state = programme.catalogue_state
    if isinstance(state, _State) and state.base is programme.rewards \
            and state.revision == revision:
        return state.items
    rows = (await uow.execute(_ALL)).all() if count else []
    items = build(programme, [(code, fields, created) for code, fields, created in rows])
    programme.keep_catalogue(_State(programme.rewards, revision, items))
    return items


def build(programme: Programme,
          edits: list[tuple[str, dict[str, Any], bool]]) -> tuple[RewardItem, ...]:
    """The file's items with their edits, then the items operators created. An edit
    the file no longer allows (its tier was removed) is left out, with a log line."""
    by_code = {code: (fields, created) for code, fields, created in edits}
    items = []
    for base in programme.rewards:
        fields, _ = by_code.pop(base.code, ({}, False))
        items.append(_usable(programme, {**base.model_dump(mode="json"), **fields}) or base)
    for code, (fields, created) in by_code.items():
        if created:
            item = _usable(programme, {**fields, "code": code})
            if item is not None:
                items.append(item)
    return tuple(items)


def _usable(programme: Programme, data: dict[str, Any]) -> RewardItem | None:
    try:
        return validated(programme, data)
    except EditRefused as refused:
        log.warning("a catalogue edit no longer fits the programme; ignored",
                    extra={"reward": data.get("code"), "field": refused.params.get("field"),
                           "rule": refused.params.get("rule")})
        return None


def validated(programme: Programme, data: dict[str, Any]) -> RewardItem:
    """`data` as a catalogue item, checked as the programme file's items are;
    EditRefused("invalid", field=, rule=, ...) naming the first thing wrong."""
    try:
        item = RewardItem.model_validate(data)
    except ValidationError as exc:
        raise _refusal(data, exc.errors()[0]) from None
    if item.min_tier is not None and programme.tiers.by_code(item.min_tier) is None:
        raise EditRefused("invalid", field="min_tier", rule="tier", tier=item.min_tier[:32])
    return item


def bounds(model: type[Any], name: str) -> tuple[int | None, int | None]:
    """The least and greatest value (or length) the model allows for a field, read
    from its own constraints, so a refusal states the rule the model applies."""
    found: dict[str, int] = {}

    def visit(items: Any) -> None:
        for item in items:
            for attr in ("ge", "le", "min_length", "max_length"):
                value = getattr(item, attr, None)
                if isinstance(value, int) and not isinstance(value, bool):
                    found.setdefault(attr, value)
            visit(getattr(item, "metadata", None) or ())
            visit(get_args(item))

    info = model.model_fields[name]
    visit(info.metadata)
    visit(get_args(info.annotation))
    return (found.get("ge", found.get("min_length")), found.get("le", found.get("max_length")))


def value_bounds(kind: str) -> tuple[int | None, int | None]:
    """What `value` may be for an item of this kind."""
    low, high = bounds(RewardItem, "value")
    if kind == "percent_off":
        return PERCENT
    return (1, high) if kind == "amount_off" else (low, high)


def out_of_range(field: str, kind: str = "") -> EditRefused:
    """The refusal for a number field given something that is not a number in range."""
    low, high = value_bounds(kind) if field == "value" else bounds(RewardItem, field)
    return EditRefused("invalid", field=field, rule="range", low=low, high=high, kind=kind)


def unworded(item: RewardItem) -> list[tuple[str, str]]:
    """(field, locale) of the wording still reading as the item's code, as a new item
    starts: members must not see it so (a switched-on item shows it)."""
    return [(field, locale) for field in WORDING for locale in LOCALES
            if getattr(item, field).get(locale).strip() == item.code]


def _refusal(data: dict[str, Any], error: ErrorDetails) -> EditRefused:
    loc = error.get("loc") or ()
    field = str(loc[0]) if loc else ""
    kind = str(data.get("kind", ""))
    if not field:  # the model's own rules: the value for the kind, the date order
        low, high = value_bounds(kind)
        value = data.get("value", 0)
        if isinstance(value, int) and low is not None and high is not None \
                and not low <= value <= high:
            return out_of_range("value", kind)
        if _day(data.get("starts")) and _day(data.get("ends")):
            return EditRefused("invalid", field="ends", rule="order")
        return EditRefused("invalid", field="", rule="other")
    if field in NUMBERS:
        return out_of_range(field, kind)
    if field in WORDING:
        language = str(loc[1]) if len(loc) > 1 and loc[1] in LOCALES else ""
        low, high = bounds(LocalText, language or "en")
        return EditRefused("invalid", field=field, rule="length", language=language,
                           low=low, high=high)
    if field == "code":
        return EditRefused("invalid", field=field, rule="code", high=CODE_LENGTH)
    if field in ("starts", "ends"):
        return EditRefused("invalid", field=field, rule="date")
    if field == "min_tier":
        return EditRefused("invalid", field=field, rule="tier", tier="")
    return EditRefused("invalid", field=field, rule="other")


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def change(uow: UnitOfWork, programme: Programme, code: str, changes: dict[str, Any],
                 actor: str, now: datetime) -> RewardItem:
    """Apply an operator's changes to one item, audited with what it was before."""
    if not changes or any(name not in EDITABLE for name in changes):
        raise EditRefused("invalid", field=",".join(sorted(set(changes) - set(EDITABLE))),
                          rule="not_editable")
    current = _find(await refresh(uow, programme), code)
    before = current.model_dump(mode="json")
    item = validated(programme, {**before, **changes})
    after = item.model_dump(mode="json")
    base = programme.reward_in_file(code)
    # The file's items keep only what differs from the file; created ones keep it all.
    fields = after if base is None else {
        name: value for name, value in after.items()
        if name in EDITABLE and base.model_dump(mode="json")[name] != value}
    await _store(uow, code, fields, base is None, actor, now)
    await audit.record(uow, actor, "reward.edit", code, {
        "before": {name: before[name] for name in changes},
        "after": {name: after[name] for name in changes}}, now)
    return _find(await refresh(uow, programme), code)


async def create(uow: UnitOfWork, programme: Programme, code: str, kind: str, cost: int,
                 value: int, actor: str, now: datetime) -> RewardItem:
    """A new item of the operator's own; its wording starts as its code until edited."""
    items = await refresh(uow, programme)
    if any(item.code == code for item in items) or \
            await uow.session.get(RewardEdit, code) is not None:
        raise EditRefused("exists", reward=code)
    wording = {"en": code, "zh_Hans": code}
    item = validated(programme, {"code": code, "kind": kind, "cost": cost, "value": value,
                                 "title": wording, "description": wording})
    await _store(uow, code, item.model_dump(mode="json"), True, actor, now)
    await audit.record(uow, actor, "reward.create", code,
                       {"kind": kind, "cost": cost, "value": value}, now)
    await refresh(uow, programme)
    return item


def _find(items: tuple[RewardItem, ...], code: str) -> RewardItem:
    item = next((i for i in items if i.code == code), None)
    if item is None:
        raise EditRefused("unknown", reward=code)
    return item


async def _store(uow: UnitOfWork, code: str, fields: dict[str, Any], created: bool,
                 actor: str, now: datetime) -> None:
    # The row lock orders two operators editing one item; each sees the other's edit.
    row = await uow.session.get(RewardEdit, code, with_for_update=True)
    if row is None:
        uow.session.add(RewardEdit(code=code, fields=fields, created=created, revision=1,
                                   updated_at=now, updated_by=actor[:64]))
    else:
        row.fields, row.revision = fields, row.revision + 1
        row.updated_at, row.updated_by = now, actor[:64]
    await uow.flush()
