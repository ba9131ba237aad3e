"""/rewards: the catalogue, page by page, with why a locked item is locked (a tier
means that tier and those above it); a tap asks for confirmation, and the
confirmation redeems. Every step judges again, since a button may be old or forged;
the confirmation carries a nonce, so a double tap is one redemption. Its answer takes
the confirmation's place (Reply.edit: its buttons go where the platform can edit), and
its No carries the same nonce, so a No pressed after the Yes redeemed says so.

The first page starts with up to three picks for this member (domain.insight
.recommendations), each saying why in one short line, then the catalogue. A pick the
member can redeem now gets the catalogue's own button (rewards:pick:CODE, the same
confirmation), in the picks' order, and the catalogue does not repeat it. Picks come
from a model the composition root keeps on the programme (Programme.recommender) and
builds at start-up; until it is built there are no picks, rather than a member waiting
for a build inside their transaction."""

from __future__ import annotations

from domain.config import RewardItem
from domain.insight import recommendations
from domain.insight.recommendations import Pick
from domain.members import members
from domain.points import ledger
from domain.rewards import rewards
from domain.rewards.rewards import Offer, RewardRefused
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import local, tier_called
from handlers.rewards.coupons import card
from handlers.rewards.fields import floor

router = Router()
PAGE = 3


@router.command("rewards")
async def catalogue(ctx: Ctx) -> Outcome:
    return Outcome([await _page(ctx, 1)])


@router.action("rewards:page")
async def page(ctx: Ctx) -> Outcome:
    raw = (ctx.action or "").rsplit(":", 1)[-1]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        return Outcome([reply("error.button_expired")])
    return Outcome([await _page(ctx, int(raw), edit=True)])


async def _page(ctx: Ctx, number: int, edit: bool = False) -> Reply:
    balance = await ledger.settle(ctx.uow, ctx.member, ctx.now)
    # Switched off ("offered: No") means not offered: it leaves the list altogether.
    offers = [o for o in await rewards.catalogue(ctx.uow, ctx.programme, ctx.member, balance,
                                                 ctx.now) if o.locked != "off"]
    if not offers:
        return reply("rewards.empty")
    offers.sort(key=lambda o: (o.locked is not None, o.item.cost))
    pages = -(-len(offers) // PAGE)
    number = min(number, pages)
    shown = offers[(number - 1) * PAGE:number * PAGE]
    picks = await _picks(ctx, balance) if number == 1 else []
    rows: list[tuple[Button, ...]] = [_button(p.item) for p in picks if not p.needed]
    buttoned = {p.item.code for p in picks if not p.needed}
    rows += [_button(o.item) for o in shown
             if o.locked is None and o.item.code not in buttoned]
    nav = []
    if number > 1:
        nav.append(button("page.previous", f"rewards:page:{number - 1}"))
    if number < pages:
        nav.append(button("page.next", f"rewards:page:{number + 1}"))
    if nav:
        rows.append(tuple(nav))
    listed = Text("rewards.list", {"balance": balance, "page": number, "pages": pages,
                                   "lines": [_line(ctx, o) for o in shown]})
    if not picks:
        return Reply(listed.key, listed.params, tuple(rows), edit=edit)
    return Reply("recommendations.screen", {
        "picks": [_pick_line(ctx, p) for p in picks], "catalogue": listed},
        tuple(rows), edit=edit)


def _button(item: RewardItem) -> tuple[Button, ...]:
    return (Button(local(item.title), f"rewards:pick:{item.code}"),)


async def _picks(ctx: Ctx, balance: int) -> list[Pick]:
    """This member's picks at `balance`; none while the model is not built yet. A stale
    model still serves while its successor builds in the background (Models.get)."""
    models = ctx.programme.recommender
    if models is None or models.latest is None:
        return []
    model = await models.get(ctx.now)
    return await recommendations.picks(ctx.uow, ctx.programme, model, ctx.member, balance,
                                       ctx.now)


def _pick_line(ctx: Ctx, pick: Pick) -> Text:
    return Text("recommendations.line", {"title": local(pick.item.title),
                                         "cost": pick.item.cost, "why": because(ctx, pick)})


def because(ctx: Ctx, pick: Pick) -> Text:
    """Why a pick is picked, in one short line. The ladder's first tier is everybody's
    start, so its members are simply members ("popular with Member members" says
    nothing more)."""
    if pick.reason == "points_to_go":
        return Text("recommendations.why.points_to_go", {"points": pick.params["points"]})
    if pick.reason == "chosen_with":
        code = pick.params["reward"]
        partner = ctx.programme.reward(code)
        return Text("recommendations.why.chosen_with",
                    {"reward": local(partner.title) if partner is not None else code})
    levels = ctx.programme.tiers.levels
    if pick.reason == "tier_popular" and pick.params["tier"] != levels[0].code:
        return Text("recommendations.why.tier_popular",
                    {"tier": tier_called(ctx.programme.tiers, pick.params["tier"])})
    return Text("recommendations.why.popular")


def _line(ctx: Ctx, offer: Offer) -> Text:
    params = {"title": local(offer.item.title), "cost": offer.item.cost,
              "description": local(offer.item.description)}
    if offer.locked is None:
        return Text("rewards.line_open", params)
    return Text("rewards.line_locked", {**params, "why": why(ctx, offer.locked, offer.item,
                                                              offer.needed)})


def why(ctx: Ctx, locked: str, item: RewardItem, needed: int) -> Text:
    if locked == "tier" and item.min_tier:  # "Silver and above": higher tiers may too
        return floor(ctx.programme.tiers, item.min_tier)
    if locked == "points":
        return Text("rewards.why.points", {"needed": needed})
    return Text(f"rewards.why.{locked if locked in ('stock', 'limit') else 'dates'}")


@router.action("rewards:pick")
async def pick(ctx: Ctx) -> Outcome:
    item = ctx.programme.reward((ctx.action or "").rsplit(":", 1)[-1])
    if item is None:
        return Outcome([reply("error.button_expired")])
    return await _ask(ctx, item)


async def _ask(ctx: Ctx, item: RewardItem) -> Outcome:
    """The confirmation screen, judged again; its Yes carries a fresh tap and the cost."""
    balance = await ledger.settle(ctx.uow, ctx.member, ctx.now)
    offer = next(o for o in await rewards.catalogue(ctx.uow, ctx.programme, ctx.member,
                                                    balance, ctx.now) if o.item.code == item.code)
    if offer.locked is not None:
        return Outcome([reply("rewards.refused",
                                      why=why(ctx, offer.locked, item, offer.needed))])
    tap = members.new_code(8)
    return Outcome([reply("rewards.confirm",
                          (button("rewards.yes", f"rewards:ok:{item.code}:{tap}:{item.cost}"),
                           button("rewards.no", f"rewards:no:{item.code}:{tap}")),
                          title=local(item.title), cost=item.cost, after=balance - item.cost)])


@router.action("rewards:ok")
async def confirm(ctx: Ctx) -> Outcome:
    """Only a confirmation this member was shown redeems: its button is among the last
    ones offered, or its tap was redeemed already (a double tap, answered again). Any
    other Yes, crafted or replaced since, gets the confirmation screen, never skips it."""
    parts = (ctx.action or "").split(":")
    item = ctx.programme.reward(parts[2]) if len(parts) in (4, 5) else None
    if item is None:
        return Outcome([reply("error.button_expired")])
    tap, shown = parts[3], parts[4] if len(parts) == 5 else ""
    if not (len(parts) == 5 and tap.isascii() and tap.isalnum() and shown.isascii()
            and shown.isdigit() and len(shown) <= 10) or (
            ctx.action not in ctx.offered
            and not await rewards.tapped(ctx.uow, ctx.member.id, item.code, tap)):
        return await _ask(ctx, item)
    try:
        done = await rewards.redeem(ctx.uow, ctx.programme, ctx.member.id, item.code,
                                    parts[3], ctx.now, cost=int(shown))
    except RewardRefused as refused:
        if refused.code in ("unknown", "busy"):
            return Outcome([reply("error.button_expired")])
        if refused.code == "changed":
            return Outcome([reply("rewards.changed", title=local(item.title),
                                  cost=refused.params["cost"])])
        return Outcome([reply("rewards.refused", why=why(
            ctx, refused.code, item, refused.params.get("needed", 0)))])
    key = "rewards.again" if done.duplicate else "rewards.done"
    return Outcome([Reply(key, {"title": local(item.title), "balance": done.balance},
                          edit=True), card(ctx, done.coupon)])


@router.action("rewards:no")
async def decline(ctx: Ctx) -> Outcome:
    """No: nothing redeemed, unless this confirmation's Yes already was (a No pressed
    late, on a platform that could not take the buttons away)."""
    parts = (ctx.action or "").split(":")
    item = ctx.programme.reward(parts[2]) if len(parts) == 4 else None
    tap = parts[3] if len(parts) == 4 else ""
    if (item is not None and tap.isascii() and tap.isalnum()
            and await rewards.tapped(ctx.uow, ctx.member.id, item.code, tap)):
        return Outcome([reply("rewards.no_too_late", title=local(item.title))])
    return Outcome([Reply("rewards.cancelled", edit=True)])
