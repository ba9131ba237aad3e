"""/reward: operators edit the rewards catalogue in chat (see catalogue.mmd).

`/reward` lists the items, `/reward CODE` opens one, and each field is changed by
typing its new value, shown before and after, and saved only when confirmed.
`/reward new CODE KIND COST [VALUE]` adds an item; it starts switched off (its
wording is its code), and /stock turns it on only once it is worded in both languages.
Values read and are typed as fields.py says (money as at the till, not in fen); a
title or description is typed in the operator's language alone, or as "English | 中文".
Save and Discard both return to the item card.
A value refused is answered in our own words, naming the field and its range.
The role is checked at every step, buttons included.
"""

from __future__ import annotations

from typing import Any

from domain.config import RewardItem
from domain.rewards import catalogue, rewards
from domain.rewards.catalogue import COUPON_KINDS, EditRefused
from domain.rewards.tables import RewardStock
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Button, Money, Reply, Text, button, reply
from handlers.engine.words import local
from handlers.rewards import fields
from handlers.rewards.fields import editable, parse, shown
from handlers.staff.roles import denied

VALUE = "catalogue.value"
CONFIRM = "catalogue.confirm"
FLOW = Flow.beside(__file__, "catalogue.mmd", VALUE, CONFIRM)
router = Router(flows=[FLOW])
PERMISSION = "rewards"
FIELDS = ("cost", "value", "min_tier", "per_member", "dates", "title", "description",
          "coupon_days")
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
        return Outcome([reply("catalogue.unknown", code=parts[0][:32]), _usage()])
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
    if parts[1] == "edit" and len(parts) == 4 and parts[3] in editable(item):
        return Outcome([ask(ctx, item, parts[3])],
                       state=VALUE, data={"code": item.code, "field": parts[3]})
    return Outcome([reply("error.button_expired")])


@router.state(VALUE)
async def typed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    code, field = str(ctx.data.get("code", "")), str(ctx.data.get("field", ""))
    item = ctx.programme.reward(code)
    if item is None or field not in editable(item):
        return Outcome([reply("error.button_expired")])
    language = fields.language_of(ctx.locale)
    try:
        changes = parse(ctx.programme, field, ctx.text, item.kind, language)
        if changes is None:  # what is wrong first, then how to type it
            unread = "catalogue.unreadable_wording" if field in fields.WORDING else \
                "catalogue.unreadable"
            return Outcome([reply(unread), ask(ctx, item, field)], state=VALUE, data=ctx.data)
        if field in fields.WORDING:  # one language typed: the other is kept as it is
            changes = {field: {**getattr(item, field).model_dump(), **changes[field]}}
        after = catalogue.validated(ctx.programme, {**item.model_dump(mode="json"), **changes})
    except EditRefused as refused:
        return Outcome([refusal_reply(ctx, refused, "catalogue.refused_edit")],
                       state=VALUE, data=ctx.data)
    if after == item:  # nothing to confirm: say so, and wait for another value
        return Outcome([reply("catalogue.unchanged", field=Text(f"catalogue.named.{field}"),
                              now=shown(ctx.programme, item, field))],
                       state=VALUE, data=ctx.data)
    return Outcome([_confirmation(ctx, item, after, field)],
                   state=CONFIRM, data={"code": code, "field": field, "changes": changes})


def _confirmation(ctx: Ctx, item: RewardItem, after: RewardItem, field: str) -> Reply:
    """Before and after; for wording changed in one language, that language alone, and
    what the other still says (its code, on a new item: word it too)."""
    row = (button("catalogue.save", "rwd:save"), button("catalogue.discard", "rwd:discard"))
    named = Text(f"catalogue.named.{field}")
    if field in fields.WORDING:
        was, now = getattr(item, field).model_dump(), getattr(after, field).model_dump()
        changed = [locale for locale in was if was[locale] != now[locale]]
        if len(changed) == 1:
            [one] = changed
            [other] = [locale for locale in was if locale != one]
            kept = "catalogue.confirm_kept_code" if now[other].strip() == item.code else \
                "catalogue.confirm_kept"
            return reply("catalogue.confirm_one", row, title=local(item.title),
                         field=named, language=Text(f"wording.language.{one}"),
                         before=was[one], after=now[one],
                         kept=Text(kept, {"language": Text(f"wording.language.{other}"),
                                          "field": named, "now": now[other]}))
    return reply("catalogue.confirm", row, title=local(item.title), field=named,
                 before=shown(ctx.programme, item, field),
                 after=shown(ctx.programme, after, field))


@router.state(CONFIRM)
async def confirmed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.action == "rwd:discard":  # back to the item, as after a save
        item = ctx.programme.reward(str(ctx.data.get("code", "")))
        if item is None:
            return Outcome([reply("catalogue.discarded")])
        return Outcome([reply("catalogue.discarded"), await card(ctx, item)])
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
    live = (await rewards.stock_of(ctx.uow, ctx.programme)).get(item.code)
    # Members see nothing of an item that is off: say so, and how to turn it on.
    on = live.enabled if live is not None else True
    saved = reply("catalogue.saved") if on else reply("catalogue.saved_off", code=item.code)
    return Outcome([saved, await card(ctx, item)])


@router.action("rwd:save")
async def stale_save(ctx: Ctx) -> Outcome:
    """A confirmation outside its flow (the flow was left, or the button is forged)."""
    return Outcome([reply("error.button_expired")])


@router.action("rwd:discard")
async def stale_discard(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])


def ask(ctx: Ctx, item: RewardItem, field: str) -> Reply:
    """What a field holds now, and how to type its new value."""
    key = f"catalogue.ask.{field}"
    if field == "value":
        key = {"percent_off": "catalogue.ask.value_percent",
               "amount_off": "catalogue.ask.value_amount"}.get(item.kind, key)
    low, high = catalogue.PERCENT
    if field in fields.WORDING:  # each language on its line; one may be sent alone
        text = getattr(item, field)
        return reply(key, code=item.code, en=text.en, zh=text.zh_Hans,
                     language=Text(f"wording.language.{fields.language_of(ctx.locale)}"))
    return reply(key, code=item.code, now=shown(ctx.programme, item, field),
                 example=Money(fields.EXAMPLE, ctx.programme.currency), low=low, high=high,
                 tiers=fields.tiers_hint(ctx.programme.tiers))


async def card(ctx: Ctx, item: RewardItem) -> Reply:
    names = editable(item)
    rows = [tuple(button(f"catalogue.field.{f}", f"rwd:edit:{item.code}:{f}")
                  for f in names[i:i + 2]) for i in range(0, len(names), 2)]
    rows.append((button("catalogue.back", "rwd:list"),))
    live = (await rewards.stock_of(ctx.uow, ctx.programme)).get(item.code)

    def line(field: str, now: Any) -> Text:
        return Text(f"catalogue.card.{field}", {"now": now})

    lines = [line("kind", Text(f"catalogue.kind.{item.kind}")),
             line("cost", shown(ctx.programme, item, "cost")),
             # A value line wherever there is a Value button ("not set" when empty).
             *([line("value", shown(ctx.programme, item, "value"))] if "value" in names
               else []),
             *(line(f, shown(ctx.programme, item, f))
               for f in ("min_tier", "per_member", "dates", "coupon_days")),
             Text("catalogue.card.stock", {"stock": _stock(item, live),
                                           "state": _state(item, live)})]
    return reply("catalogue.card", *rows, code=item.code, title=local(item.title),
                 description=local(item.description), lines=lines)


def refusal_reply(ctx: Ctx, refused: EditRefused, then: str) -> Reply:
    """Our own sentence for what the catalogue refused: the field, and the range or
    rule it must keep (never the validator's text), then what became of the change."""
    return reply(then, why=reason(ctx, refused))


def reason(ctx: Any, refused: EditRefused) -> Text:
    params = refused.params
    field, rule = str(params.get("field", "")), str(params.get("rule", ""))
    bounds: dict[str, Any] = {"low": params.get("low"), "high": params.get("high")}
    if rule == "range" and field in RANGE_WORDS:
        kind = str(params.get("kind"))
        if field != "value":
            return Text(f"catalogue.refused.{RANGE_WORDS[field]}", bounds)
        if kind != "percent_off":  # money: its range as money, typed as at the till
            currency = ctx.programme.currency
            bounds = {name: Money(int(bound or 0), currency) for name, bound in bounds.items()}
        return Text(f"catalogue.refused.{VALUE_WORDS.get(kind, 'value')}", bounds)
    if rule == "length" and field in ("title", "description"):
        language = str(params.get("language") or "")
        return Text(f"catalogue.refused.{field}", {
            "high": bounds["high"], "language": Text(f"wording.language.{language}")
            if language else Text("wording.language.any")})
    if rule == "decimal_comma":
        return Text("catalogue.refused.decimal_comma")
    if rule == "one_date":  # the example: the date typed, else today (a real one)
        example = params.get("date") or ctx.local(ctx.now).date().isoformat()
        return Text("catalogue.refused.one_date", {"date": str(example)})
    if rule == "no_such_date":
        return Text("catalogue.refused.no_such_date", {"date": str(params.get("date", ""))})
    if rule == "order":
        return Text("catalogue.refused.order")
    if rule == "date":
        return Text("catalogue.refused.date")
    if rule == "tier":
        return Text("catalogue.refused.tier", {"tier": str(params.get("tier", "")),
                                               "tiers": fields.tiers_hint(ctx.programme.tiers)})
    if rule == "code":
        return Text("catalogue.refused.code", {"high": bounds["high"]})
    named = {"starts": "dates", "ends": "dates"}.get(field, field)
    if named in (*FIELDS, "code", "kind"):
        return Text("catalogue.refused.other", {"field": Text(f"catalogue.named.{named}")})
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


async def _create(ctx: Ctx, parts: list[str]) -> Outcome:
    if len(parts) >= 2 and parts[1].lower() not in COUPON_KINDS:
        return Outcome([reply("catalogue.bad_kind", kind=parts[1][:32], kinds=_kinds())])
    if len(parts) not in (3, 4):
        return Outcome([_usage()])
    code, kind = parts[0].lower()[:64], parts[1].lower()
    if kind == "free_item" and len(parts) == 4:
        return Outcome([reply("catalogue.refused_new", why=Text("catalogue.refused.value_free"))])
    try:
        cost = fields.number(parts[2], "cost", kind)
        value = fields.amount(ctx.programme, parts[3], kind) if len(parts) == 4 else 0
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
    return Outcome([reply("catalogue.list", *rows, lines=lines), _usage()])


def _usage() -> Reply:
    return reply("catalogue.usage", kinds=_kinds())


def _kinds() -> Any:
    """Every kind as it is typed, with its name: "amount_off (money off), …"."""
    out: Any = Text("catalogue.kind_listed", {"code": COUPON_KINDS[-1],
                                              "name": Text(f"catalogue.kind.{COUPON_KINDS[-1]}")})
    for kind in reversed(COUPON_KINDS[:-1]):
        out = Text("rules.list", {"first": Text("catalogue.kind_listed", {
            "code": kind, "name": Text(f"catalogue.kind.{kind}")}), "rest": out})
    return out
