"""Campaigns already confirmed: `/campaigns` lists them, `/campaign N` and its buttons
show one (with its progress), its results against the holdout, and pause, resume and
cancel it (cancel asks first). Operators and up; the role is checked on every button."""

from __future__ import annotations

from domain.campaigns import attribution, campaigns, deliveries
from domain.campaigns.campaigns import CampaignRefused
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign
from handlers.campaigns.words import (
    controls,
    offer_text,
    progress_reply,
    results_reply,
    segment_lines,
    variant_lines,
    when_text,
)
from handlers.engine import answers
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.staff.roles import denied, member_arg

router = Router()
PERMISSION = "campaign"
PAGE = 5


def number_arg(raw: str) -> int | None:
    """A campaign number as typed or in button data: "12" or "#12"."""
    return member_arg(raw.strip().lstrip("#"))


def expired(ctx: Ctx, state: str | None = None) -> Outcome:
    return Outcome([reply("error.button_expired")], state=state, data=ctx.data if state else {})


def ask_again(ctx: Ctx, question: Outcome) -> Outcome:
    """A wrong answer to a question of buttons: the same question again, with what was
    chosen so far. A number past its buttons is answered "Choose 1–N" (the engine hands
    it to the waiting step as text); other text, "please use the buttons". A button
    that is not among them (an older message's, or forged): expired, nothing lost."""
    if ctx.action is not None:
        return expired(ctx, question.state)
    last = len(question.replies[-1].actions)
    if ctx.text and answers.number(ctx.text) is not None and last:
        note = reply("buttons.choose_one") if last == 1 else reply("buttons.choose", last=last)
    else:
        note = reply("campaign.use_buttons")
    return Outcome([note, *question.replies], question.state, question.data)


@router.command("campaigns", role="operator")
async def listing(ctx: Ctx) -> Outcome:
    return await _page(ctx, 1, edit=False)


@router.action("camp:list")
async def list_page(ctx: Ctx) -> Outcome:
    page = number_arg((ctx.action or "").rsplit(":", 1)[-1])
    if page is None or not 1 <= page <= 100_000:
        return expired(ctx)
    return await _page(ctx, page, edit=True)


async def _page(ctx: Ctx, page: int, edit: bool) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    total = await campaigns.count(ctx.uow)
    if not total:
        return Outcome([reply("campaign.list_empty")])
    pages = -(-total // PAGE)
    page = min(page, pages)
    shown = await campaigns.recent(ctx.uow, PAGE, offset=(page - 1) * PAGE)
    rows: list[tuple[Button, ...]] = [tuple(
        button("campaign.open", f"camp:show:{c.id}", number=str(c.id)) for c in shown)]
    nav = []
    if page > 1:
        nav.append(button("points.newer", f"camp:list:{page - 1}"))
    if page < pages:
        nav.append(button("points.older", f"camp:list:{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    lines = [Text("campaign.list_line", {
        "number": str(c.id), "status": Text(f"campaign.status.{c.status}"),
        "count": c.recipients, "when": when_text(ctx.zone, c.send_at)}) for c in shown]
    return Outcome([Reply("campaign.list", {"page": page, "pages": pages, "lines": lines},
                          tuple(rows), edit=edit)])


# ------------------------------------------------------------------ one campaign

async def _load(ctx: Ctx, number: int) -> Campaign | Outcome:
    found = await campaigns.get(ctx.uow, number)
    if found is None:
        return Outcome([reply("campaign.unknown", number=str(number))])
    return found


async def card(ctx: Ctx, number: int, edit: bool = False,
               note: Reply | None = None) -> Outcome:
    found = await _load(ctx, number)
    if isinstance(found, Outcome):
        return found
    c = found
    replies = [note] if note else []
    if c.started_at is not None:
        done = await ctx.read(f"campaign.progress:{c.id}",  # a count over its deliveries
                              lambda snapshot: deliveries.progress(snapshot, c))
        replies.append(progress_reply(c, done, None, edit=edit, buttons=False))
        edit = False
    replies.append(Reply("campaign.card", {
        "number": str(c.id), "status": Text(f"campaign.status.{c.status}"),
        "filters": segment_lines(Segment.load(c.segment), ctx.programme),
        "variants": variant_lines(c.variants, c.holdout),
        "offer": offer_text(ctx.programme, c.coupon_reward, c.bonus_percent, c.bonus_days),
        "when": when_text(ctx.zone, c.send_at)}, controls(c), edit=edit))
    return Outcome(replies)


async def _pressed(ctx: Ctx) -> int | Outcome:
    """The campaign number a card's button names, once the role is checked; a
    refusal, or "expired" for data no button of ours carries."""
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    number = number_arg((ctx.action or "").rsplit(":", 1)[-1])
    return expired(ctx) if number is None else number


@router.action("camp:show")
async def show(ctx: Ctx) -> Outcome:
    number = await _pressed(ctx)
    return number if isinstance(number, Outcome) else await card(ctx, number)


@router.action("camp:results")
async def show_results(ctx: Ctx) -> Outcome:
    number = await _pressed(ctx)
    if isinstance(number, Outcome):
        return number
    found = await _load(ctx, number)
    if isinstance(found, Outcome):
        return found
    done = await ctx.read(f"campaign.results:{found.id}",  # counts over its deliveries
                          lambda snapshot: attribution.results(snapshot, found, ctx.now))
    return Outcome([results_reply(found, done, ctx.programme.currency, ctx.zone)])


def _control_step(action: str):
    async def step(ctx: Ctx) -> Outcome:
        number = await _pressed(ctx)
        if isinstance(number, Outcome):
            return number
        if action == "cancel_ask":
            return Outcome([reply("campaign.cancel_confirm", (
                button("campaign.cancel_yes", f"camp:cancel_ok:{number}"),
                button("campaign.cancel_no", f"camp:show:{number}")), number=str(number))])
        return await control(ctx, "cancel" if action == "cancel_ok" else action, number,
                             edit=True)
    return step


for _name, _action in (("pause", "pause"), ("resume", "resume"), ("cancel", "cancel_ask"),
                       ("cancel_ok", "cancel_ok")):
    router.action(f"camp:{_name}")(_control_step(_action))


async def control(ctx: Ctx, action: str, number: int, edit: bool = False) -> Outcome:
    try:
        await campaigns.control(ctx.uow, ctx.member.id, action, number, ctx.now)
    except CampaignRefused as refused:
        if refused.code == "unknown":
            return Outcome([reply("campaign.unknown", number=str(number))])
        status = refused.code.removeprefix("already_")
        return Outcome([reply("campaign.cannot", number=str(number),
                              action=Text(f"campaign.action.{action}"),
                              status=Text(f"campaign.status.{status}"))])
    return await card(ctx, number, edit=edit,
                      note=reply(f"campaign.{action}d" if action != "cancel"
                                 else "campaign.cancelled", number=str(number)))
