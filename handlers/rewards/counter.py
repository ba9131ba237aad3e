"""Staff at the till: /verify CODE uses a member's coupon; /stock changes a reward's
live stock. Both check the role first and write the audit log."""

from __future__ import annotations

from domain.rewards import catalogue, coupons, rewards
from domain.rewards.coupons import CouponRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Text, reply
from handlers.engine.words import local, number
from handlers.staff.roles import denied

router = Router()
MAX_STOCK = 1_000_000_000
# As /stock and the catalogue show them in Chinese ("库存 不限，已上架"), typed back.
WORDS = {"不限": "unlimited", "无限": "unlimited", "上架": "on", "已上架": "on",
         "下架": "off", "已下架": "off"}


@router.command("verify", role="staff")
async def verify(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "verify")
    if refusal is not None:
        return refusal
    if not ctx.arg:
        return Outcome([reply("verify.usage")])
    actor = audit.member_actor(ctx.member.id)
    try:
        coupon = await coupons.consume(ctx.uow, ctx.arg[:64], actor, ctx.now)
    except CouponRefused as refused:
        params = {k: ctx.local(v).date() for k, v in refused.params.items() if k != "minutes"}
        if "minutes" in refused.params:
            params["minutes"] = refused.params["minutes"]
        return Outcome([reply(f"verify.{refused.code}", **params)])
    await audit.record(ctx.uow, actor, "coupon.verify", coupon.code,
                       {"reward": coupon.reward, "member": number(coupon.member_id)}, ctx.now)
    item = ctx.programme.reward(coupon.reward)
    title = local(item.title) if item is not None else coupon.reward
    return Outcome([reply("verify.ok", title=title, number=number(coupon.member_id))])


@router.command("stock", role="operator")
async def stock(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "stock")
    if refusal is not None:
        return refusal
    codes = ", ".join(r.code for r in ctx.programme.catalogue())
    parts = ctx.arg.split()
    if len(parts) != 2:
        return Outcome([reply("stock.usage", codes=codes)])
    item = ctx.programme.reward(parts[0].lower())
    if item is None:
        return Outcome([reply("stock.unknown", code=parts[0][:32], codes=codes)])
    current = (await rewards.stock_of(ctx.uow, ctx.programme)).get(item.code)
    remaining = current.remaining if current is not None else item.stock
    enabled = current.enabled if current is not None else True
    before_remaining, before_enabled = remaining, enabled
    typed = parts[1].lower()
    value = WORDS.get(typed, typed)
    missing = catalogue.unworded(item)
    if value == "on" and missing:
        # A new item's wording is its code until it is worded (README): members would
        # read "cake — 100 积分 / cake". Say what is missing and where to word it.
        return Outcome([reply("stock.unworded", code=item.code, missing=[
            Text("stock.missing", {"field": Text(f"catalogue.field.{field}"),
                                   "language": Text(f"wording.language.{locale}")})
            for field, locale in missing])])
    if value in ("on", "off"):
        enabled = value == "on"
    elif value == "unlimited":
        remaining = None
    elif value.isascii() and value.isdigit() and int(value) <= MAX_STOCK:
        remaining = int(value)
    else:
        return Outcome([reply("stock.usage", codes=codes)])
    shown = Text("stock.unlimited") if remaining is None else remaining
    state = Text("stock.on_sale" if enabled else "stock.off_sale")
    if (remaining, enabled) == (before_remaining, before_enabled):
        # Already so: nothing to store, nothing for the audit log to show.
        return Outcome([reply("stock.already", title=local(item.title), stock=shown,
                              state=state)])
    await rewards.set_stock(ctx.uow, item, remaining, enabled, ctx.now)
    await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "reward.stock", item.code,
                       {"remaining": remaining, "enabled": enabled}, ctx.now)
    return Outcome([reply("stock.done", title=local(item.title), stock=shown, state=state)])
