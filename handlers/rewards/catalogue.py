"""/reward: operators edit the rewards catalogue in chat (see catalogue.mmd).

`/reward` lists the items, `/reward CODE` opens one, and each field is changed by
typing its new value, shown before and after, and saved only when confirmed.
`/reward new CODE KIND COST [VALUE]` adds an item; it starts switched off (its
wording is its code) until the operator has worded it and turned it on with /stock.
The role is checked at every step, buttons included.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from domain.config import RewardItem
from domain.rewards import catalogue, rewards
from domain.rewards.catalogue import COUPON_KINDS, EditRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Button, Text, button, reply
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
NUMBER = re.compile(r"\d{1,10}")
SEPARATOR = re.compile(r"\s*[|｜]\s*")


@router.command("reward", listed=False)
async def command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    if not parts:
        return _list(ctx)
    if parts[0].lower() == "new":
        return await _create(ctx, parts[1:])
    item = ctx.programme.reward(parts[0].lower())
    if item is None or len(parts) != 1:
        return Outcome([reply("catalogue.unknown", code=parts[0][:32]), _usage(ctx)])
    return Outcome([card(ctx, item)])


@router.action("rwd")
async def pressed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = (ctx.action or "").split(":")
    item = ctx.programme.reward(parts[2]) if len(parts) >= 3 else None
    if parts[1:2] == ["list"]:
        return _list(ctx)
    if item is None:
        return Outcome([reply("error.button_expired")])
    if parts[1] == "open" and len(parts) == 3:
        return Outcome([card(ctx, item)])
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
    changes = parse(field, ctx.text)
    if changes is None:
        return Outcome([reply(f"catalogue.ask.{field}", code=code, now=shown(ctx, item, field),
                              **_hints(ctx)), reply("catalogue.unreadable")],
                       state=VALUE, data=ctx.data)
    try:
        after = catalogue.validated(ctx.programme, {**item.model_dump(mode="json"), **changes})
    except EditRefused as refused:
        return Outcome([reply("catalogue.invalid", field=Text(f"catalogue.field.{field}"),
                              detail=str(refused.params.get("detail", ""))[:200])],
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
        return Outcome([reply("catalogue.invalid", field=Text(
            f"catalogue.field.{ctx.data.get('field')}"), detail=str(
                refused.params.get("detail", ""))[:200])])
    return Outcome([reply("catalogue.saved", title=local(item.title)), card(ctx, item)])


@router.action("rwd:save")
async def stale_save(ctx: Ctx) -> Outcome:
    """A confirmation outside its flow (the flow was left, or the button is forged)."""
    return Outcome([reply("error.button_expired")])


@router.action("rwd:discard")
async def stale_discard(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])


def card(ctx: Ctx, item: RewardItem) -> Any:
    rows = [tuple(button(f"catalogue.field.{f}", f"rwd:edit:{item.code}:{f}")
                  for f in FIELDS[i:i + 2]) for i in range(0, len(FIELDS), 2)]
    rows.append((button("catalogue.back", "rwd:list"),))
    return reply("catalogue.card", *rows, code=item.code, title=local(item.title),
                 description=local(item.description), kind=Text(f"catalogue.kind.{item.kind}"),
                 **{f: shown(ctx, item, f) for f in FIELDS if f not in ("title", "description")})


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


def parse(field: str, text: str) -> dict[str, Any] | None:
    """What the operator typed as the file's fields, or None when it does not read."""
    raw = text.strip()
    if not raw or len(raw) > 420:
        return None
    if field in ("cost", "value", "coupon_days"):
        return {field: int(raw)} if NUMBER.fullmatch(raw) else None
    if field == "per_member":
        if raw.lower() in NONE:
            return {field: None}
        return {field: int(raw)} if NUMBER.fullmatch(raw) else None
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


async def _create(ctx: Ctx, parts: list[str]) -> Outcome:
    if len(parts) not in (3, 4) or parts[1] not in COUPON_KINDS or not NUMBER.fullmatch(parts[2]) \
            or (len(parts) == 4 and not NUMBER.fullmatch(parts[3])):
        return Outcome([_usage(ctx)])
    code = parts[0].lower()
    try:
        item = await catalogue.create(ctx.uow, ctx.programme, code, parts[1], int(parts[2]),
                                      int(parts[3]) if len(parts) == 4 else 0,
                                      audit.member_actor(ctx.member.id), ctx.now)
    except EditRefused as refused:
        if refused.code == "exists":
            return Outcome([reply("catalogue.exists", code=code[:32])])
        return Outcome([reply("catalogue.invalid", field=Text(
            f"catalogue.field.{refused.params.get('field') or 'code'}"), detail=str(
                refused.params.get("detail", ""))[:200])])
    # Off until it is worded and switched on: members never see an item named by its code.
    await rewards.set_stock(ctx.uow, item, item.stock, False, ctx.now)
    return Outcome([reply("catalogue.created", code=code), card(ctx, item)])


def _list(ctx: Ctx) -> Outcome:
    items = ctx.programme.catalogue()
    lines = [Text("catalogue.line", {"code": i.code, "title": local(i.title), "cost": i.cost})
             for i in items] or [Text("catalogue.empty")]
    rows = [(Button(local(i.title), f"rwd:open:{i.code}"),) for i in items[:20]]
    return Outcome([reply("catalogue.list", *rows, lines=lines), _usage(ctx)])


def _usage(ctx: Ctx) -> Any:
    return reply("catalogue.usage", kinds=", ".join(COUPON_KINDS))


def _hints(ctx: Ctx) -> dict[str, Any]:
    return {"tiers": ", ".join(t.code for t in ctx.programme.tiers.levels)}
