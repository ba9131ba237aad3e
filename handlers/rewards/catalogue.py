"""/reward: operators edit the rewards catalogue in chat (see catalogue.mmd).

`/reward` lists the items, `/reward CODE` opens one, and each field is changed by
typing its new value, shown before and after, and saved only when confirmed.
`/reward new CODE KIND COST [VALUE]` adds an item; it starts switched off (its
wording is its code), and /stock turns it on only once it is worded in both languages.
A value refused is answered in our own words, naming the field and its range.
The role is checked at every step, buttons included.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from domain.config import LocalText, RewardItem
from domain.rewards import catalogue, rewards
from domain.rewards.catalogue import COUPON_KINDS, EditRefused
from domain.rewards.tables import RewardStock
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import local, tier_name
from handlers.staff.roles import denied

VALUE = "catalogue.value"
CONFIRM = "catalogue.confirm"
FLOW = Flow.beside(__file__, "catalogue.mmd", VALUE, CONFIRM)
router = Router(flows=[FLOW])
PERMISSION = "rewards"
FIELDS = ("cost", "value", "min_tier", "per_member", "dates", "title", "description",
          "coupon_days")
NONE = {"none", "-", "无", "不限"}
# A whole number as typed: 1500, 1,500 or 1，500 (any script's digits); its size is the
# model's to judge, so a long one is refused with the range, not as unreadable.
NUMBER = re.compile(r"\d{1,30}|\d{1,3}(?:[,，]\d{3}){1,9}")
SEPARATOR = re.compile(r"\s*[|｜]\s*")
MAX_TYPED = 420  # two wordings of 200 characters and the separator, with room
# How a refusal (domain.rewards.catalogue._refusal) is worded, by field and rule.
RANGE_WORDS = {"cost": "cost", "per_member": "per_member", "coupon_days": "coupon_days",
               "value": "value"}
VALUE_WORDS = {"percent_off": "value_percent", "amount_off": "value_amount"}


@router.command("reward", role="operator")
async def command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    if not parts:
        return await _list(ctx)
    if parts[0].lower() == "new":
        return await _create(ctx, parts[1:])
    item = ctx.programme.reward(parts[0].lower())
    if item is None or len(parts) != 1:
        return Outcome([reply("catalogue.unknown", code=parts[0][:32]), _usage(ctx)])
    return Outcome([await card(ctx, item)])


@router.action("rwd")
async def pressed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = (ctx.action or "").split(":")
    item = ctx.programme.reward(parts[2]) if len(parts) >= 3 else None
    if parts[1:2] == ["list"]:
        return await _list(ctx)
    if item is None:
        return Outcome([reply("error.button_expired")])
    if parts[1] == "open" and len(parts) == 3:
        return Outcome([await card(ctx, item)])
    if parts[1] == "edit" and len(parts) == 4 and parts[3] in FIELDS:
        return Outcome([reply(f"catalogue.ask.{parts[3]}", code=item.code,
                              now=shown(ctx, item, parts[3]), **_hints(ctx))],
                       state=VALUE, data={"code": item.code, "field": parts[3]})
    return Outcome([reply("error.button_expired")])


@router.state(VALUE)
async def typed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    code, field = str(ctx.data.get("code", "")), str(ctx.data.get("field", ""))
    item = ctx.programme.reward(code)
    if item is None or field not in FIELDS:
        return Outcome([reply("error.button_expired")])
    try:
        changes = parse(field, ctx.text, item.kind)
        if changes is None:
            return Outcome([reply(f"catalogue.ask.{field}", code=code,
                                  now=shown(ctx, item, field), **_hints(ctx)),
                            reply("catalogue.unreadable")], state=VALUE, data=ctx.data)
        after = catalogue.validated(ctx.programme, {**item.model_dump(mode="json"), **changes})
    except EditRefused as refused:
        return Outcome([refusal_reply(ctx, refused, "catalogue.refused_edit")],
                       state=VALUE, data=ctx.data)
    return Outcome([reply("catalogue.confirm",
                          (button("catalogue.save", "rwd:save"),
                           button("catalogue.discard", "rwd:discard")),
                          title=local(item.title), field=Text(f"catalogue.field.{field}"),
                          before=shown(ctx, item, field), after=shown(ctx, after, field))],
                   state=CONFIRM, data={"code": code, "field": field,
                                                    "changes": changes})


@router.state(CONFIRM)
async def confirmed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.action == "rwd:discard":
        return Outcome([reply("catalogue.discarded")])
    if ctx.action != "rwd:save":
        return Outcome([reply("catalogue.use_buttons")], state=CONFIRM,
                       data=ctx.data)
    try:
        item = await catalogue.change(ctx.uow, ctx.programme, str(ctx.data.get("code")),
                                      dict(ctx.data.get("changes") or {}),
                                      audit.member_actor(ctx.member.id), ctx.now)
    except EditRefused as refused:
        if refused.code == "unknown":
            return Outcome([reply("error.button_expired")])
        return Outcome([refusal_reply(ctx, refused, "catalogue.refused_save")])
    return Outcome([reply("catalogue.saved", title=local(item.title)), await card(ctx, item)])


@router.action("rwd:save")
async def stale_save(ctx: Ctx) -> Outcome:
    """A confirmation outside its flow (the flow was left, or the button is forged)."""
    return Outcome([reply("error.button_expired")])


@router.action("rwd:discard")
async def stale_discard(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])


async def card(ctx: Ctx, item: RewardItem) -> Reply:
    rows = [tuple(button(f"catalogue.field.{f}", f"rwd:edit:{item.code}:{f}")
                  for f in FIELDS[i:i + 2]) for i in range(0, len(FIELDS), 2)]
    rows.append((button("catalogue.back", "rwd:list"),))
    live = (await rewards.stock_of(ctx.uow, ctx.programme)).get(item.code)
    return reply("catalogue.card", *rows, code=item.code, title=local(item.title),
                 description=local(item.description), kind=Text(f"catalogue.kind.{item.kind}"),
                 stock=_stock(item, live), state=_state(item, live),
                 **{f: shown(ctx, item, f) for f in FIELDS if f not in ("title", "description")})


def refusal_reply(ctx: Ctx, refused: EditRefused, then: str) -> Reply:
    """Our own sentence for what the catalogue refused: the field, and the range or
    rule it must keep (never the validator's text), then what became of the change."""
    return reply(then, why=reason(ctx, refused))


def reason(ctx: Ctx, refused: EditRefused) -> Text:
    params = refused.params
    field, rule = str(params.get("field", "")), str(params.get("rule", ""))
    bounds = {"low": params.get("low"), "high": params.get("high")}
    if rule == "range" and field in RANGE_WORDS:
        key = VALUE_WORDS.get(str(params.get("kind")), "value") if field == "value" \
            else RANGE_WORDS[field]
        return Text(f"catalogue.refused.{key}", bounds)
    if rule == "length" and field in ("title", "description"):
        language = str(params.get("language") or "")
        return Text(f"catalogue.refused.{field}", {
            "high": bounds["high"], "language": Text(f"wording.language.{language}")
            if language else Text("wording.language.any")})
    if rule == "order":
        return Text("catalogue.refused.order")
    if rule == "date":
        return Text("catalogue.refused.date")
    if rule == "tier":
        return Text("catalogue.refused.tier", {"tier": str(params.get("tier", "")),
                                               **_hints(ctx)})
    if rule == "code":
        return Text("catalogue.refused.code", {"high": bounds["high"]})
    named = {"starts": "dates", "ends": "dates"}.get(field, field)
    if named in (*FIELDS, "code", "kind"):
        return Text("catalogue.refused.other", {"field": Text(f"catalogue.field.{named}")})
    return Text("catalogue.refused.unknown")


def _stock(item: RewardItem, live: RewardStock | None) -> Any:
    remaining = live.remaining if live is not None else item.stock
    return Text("stock.unlimited") if remaining is None else remaining


def _state(item: RewardItem, live: RewardStock | None) -> Text:
    """On or off, as /stock sets it; and whether it still needs its wording."""
    on = live.enabled if live is not None else True
    if catalogue.unworded(item):
        return Text("catalogue.state.on_unworded" if on else "catalogue.state.off_unworded")
    return Text("catalogue.state.on" if on else "catalogue.state.off")


def shown(ctx: Ctx, item: RewardItem, field: str) -> Any:
    """A field's value as the operator reads (and would type) it."""
    none = Text("catalogue.none")
    if field == "dates":
        if item.starts is None and item.ends is None:
            return none
        return f"{item.starts or '-'} {item.ends or '-'}"
    if field in ("title", "description"):
        text = getattr(item, field)
        return f"{text.en} | {text.zh_Hans}"
    if field == "min_tier":
        tier = ctx.programme.tiers.by_code(item.min_tier) if item.min_tier else None
        return tier_name(tier) if tier is not None else none
    value = getattr(item, field)
    return none if value is None else value


def parse(field: str, text: str, kind: str = "") -> dict[str, Any] | None:
    """What the operator typed as the file's fields, or None when it does not read.
    A number field given something else is refused with its range (EditRefused)."""
    raw = text.strip()
    if not raw:
        return None
    if field in ("cost", "value", "coupon_days", "per_member"):
        if field == "per_member" and raw.lower() in NONE:
            return {field: None}
        return {field: number(raw, field, kind)}
    if len(raw) > MAX_TYPED:
        if field in ("title", "description"):
            high = catalogue.bounds(LocalText, "en")[1]
            raise EditRefused("invalid", field=field, rule="length", language="", high=high)
        return None
    if field == "min_tier":
        return {field: None if raw.lower() in NONE else raw.lower()}
    if field == "dates":
        if raw.lower() in NONE:
            return {"starts": None, "ends": None}
        ends = raw.split()
        if len(ends) != 2:
            return None
        try:
            starts, until = (None if e == "-" else date.fromisoformat(e).isoformat()
                             for e in ends)
        except ValueError:
            return None
        return {"starts": starts, "ends": until}
    halves = SEPARATOR.split(raw)
    if len(halves) != 2 or not all(halves):
        return None
    return {field: {"en": halves[0], "zh_Hans": halves[1]}}


def number(raw: str, field: str, kind: str = "") -> int:
    """A whole number as typed; EditRefused with the field's range when it is not one."""
    if not NUMBER.fullmatch(raw):
        raise catalogue.out_of_range(field, kind)
    return int(raw.replace(",", "").replace("，", ""))


async def _create(ctx: Ctx, parts: list[str]) -> Outcome:
    if len(parts) not in (3, 4) or parts[1].lower() not in COUPON_KINDS:
        return Outcome([_usage(ctx)])
    code, kind = parts[0].lower()[:64], parts[1].lower()
    try:
        cost = number(parts[2], "cost", kind)
        value = number(parts[3], "value", kind) if len(parts) == 4 else 0
        item = await catalogue.create(ctx.uow, ctx.programme, code, kind, cost, value,
                                      audit.member_actor(ctx.member.id), ctx.now)
    except EditRefused as refused:
        if refused.code == "exists":
            return Outcome([reply("catalogue.exists", code=code[:32])])
        return Outcome([refusal_reply(ctx, refused, "catalogue.refused_new")])
    # Off until it is worded and switched on: members never see an item named by its code.
    await rewards.set_stock(ctx.uow, item, item.stock, False, ctx.now)
    return Outcome([reply("catalogue.created", code=code), await card(ctx, item)])


async def _list(ctx: Ctx) -> Outcome:
    items = ctx.programme.catalogue()
    live = await rewards.stock_of(ctx.uow, ctx.programme)
    lines = [Text("catalogue.line", {
        "code": i.code, "title": local(i.title), "cost": i.cost,
        "stock": _stock(i, live.get(i.code)), "state": _state(i, live.get(i.code))})
        for i in items] or [Text("catalogue.empty")]
    rows = [(Button(local(i.title), f"rwd:open:{i.code}"),) for i in items[:20]]
    return Outcome([reply("catalogue.list", *rows, lines=lines), _usage(ctx)])


def _usage(ctx: Ctx) -> Any:
    return reply("catalogue.usage", kinds=", ".join(COUPON_KINDS))


def _hints(ctx: Ctx) -> dict[str, Any]:
    return {"tiers": ", ".join(t.code for t in ctx.programme.tiers.levels)}
