"""/campaign: an operator builds a broadcast in chat, step by step, and controls it.

`/campaign` walks through the segment (with its size), the message, an optional offer
(a catalogue coupon or a points multiplier), an optional A/B test and holdout, a
preview as members will see it, now or a scheduled time, and a confirmation. The
flow is in campaigns.mmd. `/campaign N` shows campaign N and `/campaign pause|resume|
cancel N` controls it (the rest is in campaign_control.py). Operators and up only: the
role is checked at every step and on every button, since button data comes from the
client.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from domain import campaigns, members, segments
from domain.campaigns import CampaignRefused, Draft, Operator
from domain.segments import Segment, SegmentRefused
from handlers import campaign_control, campaign_segment, tags
from handlers.campaign_control import (
    PERMISSION,
    WHEN_FORMAT,
    card,
    control,
    expired,
    number_arg,
    offer_text,
    variant_lines,
    when_text,
)
from handlers.campaign_words import SAMPLE_CODE, offer_reply, segment_lines
from handlers.roles import denied
from handlers.routing import Ctx, Outcome, Router
from handlers.types import Button, Reply, Text, button, reply
from handlers.words import local, multiplier

router = Router()
router.include(tags.router)
router.include(campaign_control.router)
BONUSES = (50, 100, 200)
BONUS_DAYS = (3, 7, 14, 30)
SPLITS = (50, 70, 90)
HOLDOUTS = (0, 5, 10, 20)


def _refusal(code: str) -> str:
    return "campaign.refused.segment" if code.startswith("segment") else f"campaign.refused.{code}"


# ------------------------------------------------------------------ commands

@router.command("campaign", listed=False)
async def campaign(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = ctx.arg.split()
    if not parts:
        return await campaign_segment.menu(replace(ctx, data={}), Segment())
    if len(parts) == 1 and number_arg(parts[0]) is not None:
        return await card(ctx, number_arg(parts[0]) or 0)
    if len(parts) == 2 and parts[0].lower() in campaigns.CONTROL and number_arg(parts[1]):
        return await control(ctx, parts[0].lower(), number_arg(parts[1]) or 0)
    return Outcome([reply("campaign.usage")])


# ------------------------------------------------------------------ the new-campaign flow

async def _guard(ctx: Ctx) -> Outcome | None:
    return await denied(ctx, PERMISSION)


@router.action("cnew")
async def stale(ctx: Ctx) -> Outcome:
    """A flow button that is not among those offered now (an older message's, or a
    forged one): refused, and the draft so far is kept."""
    return await _guard(ctx) or Outcome([reply("error.button_expired")], state=ctx.state,
                                        data=ctx.data if ctx.state else {})


@router.state(campaign_segment.STATE)
async def segment_step(ctx: Ctx) -> Outcome:
    return await _guard(ctx) or await campaign_segment.step(ctx, _ask_text)


async def _ask_text(ctx: Ctx) -> Outcome:
    if not ctx.data.get("size"):
        return await campaign_segment.menu(ctx, campaign_segment.current(ctx),
                                           note=reply("campaign.nobody"))
    return Outcome([reply("campaign.ask_text", max=campaigns.MAX_TEXT)], state="campaign.text",
                   data={**ctx.data, "texts": []})


async def _got_text(ctx: Ctx, state: str, then) -> Outcome:
    if ctx.action is not None or not ctx.text:
        return Outcome([reply("campaign.ask_text", max=campaigns.MAX_TEXT)], state=state,
                       data=ctx.data)
    text = ctx.inbound.text.strip()
    if len(text) > campaigns.MAX_TEXT:
        return Outcome([reply("campaign.text_long", max=campaigns.MAX_TEXT)], state=state,
                       data=ctx.data)
    return then({**ctx.data, "texts": [*ctx.data.get("texts", []), text]})


@router.state("campaign.text")
async def text_step(ctx: Ctx) -> Outcome:
    return await _guard(ctx) or await _got_text(ctx, "campaign.text", _offer_menu)


def _offer_menu(data: dict) -> Outcome:
    return Outcome([reply("campaign.ask_offer", (
        button("campaign.offer_none", "cnew:offer:none"),
        button("campaign.offer_coupon", "cnew:offer:coupon"),
        button("campaign.offer_bonus", "cnew:offer:bonus")))], state="campaign.offer",
        data={**data, "coupon": None, "bonus": None, "days": None})


@router.state("campaign.offer")
async def offer_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    action, data = ctx.action or "", ctx.data
    value = action.rsplit(":", 1)[-1]
    if action == "cnew:offer:none":
        return _ab_menu(data)
    if action == "cnew:offer:coupon":
        if not ctx.programme.rewards:
            return Outcome([reply("campaign.no_rewards")], state="campaign.offer", data=data)
        rows = [(Button(local(r.title), f"cnew:coupon:{r.code}"),) for r in ctx.programme.rewards]
        return Outcome([Reply("campaign.ask_coupon", {}, tuple(rows))], state="campaign.offer",
                       data=data)
    if action.startswith("cnew:coupon:") and ctx.programme.reward(value) is not None:
        return _ab_menu({**data, "coupon": value})
    if action == "cnew:offer:bonus":
        row = tuple(button("campaign.times", f"cnew:bonus:{b}", times=multiplier(100 + b))
                    for b in BONUSES)
        return Outcome([reply("campaign.ask_bonus", row)], state="campaign.offer", data=data)
    if action.startswith("cnew:bonus:") and value in {str(b) for b in BONUSES}:
        row = tuple(button("campaign.days", f"cnew:days:{d}", count=d) for d in BONUS_DAYS)
        return Outcome([reply("campaign.ask_days", row)], state="campaign.offer",
                       data={**data, "bonus": int(value)})
    if (action.startswith("cnew:days:") and value in {str(d) for d in BONUS_DAYS}
            and data.get("bonus") in BONUSES):
        return _ab_menu({**data, "days": int(value)})
    if ctx.action is None:
        menu = _offer_menu(data)
        return Outcome([reply("campaign.use_buttons"), *menu.replies], menu.state, menu.data)
    return expired(ctx, "campaign.offer")


def _ab_menu(data: dict) -> Outcome:
    return Outcome([reply("campaign.ask_ab", (button("campaign.ab_one", "cnew:ab:one"),
                                              button("campaign.ab_two", "cnew:ab:two")))],
                   state="campaign.ab", data=data)


@router.state("campaign.ab")
async def ab_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    if ctx.action == "cnew:ab:one":
        return _holdout_menu({**ctx.data, "texts": ctx.data.get("texts", [])[:1], "split": 100})
    if ctx.action == "cnew:ab:two":
        return Outcome([reply("campaign.ask_text_b", max=campaigns.MAX_TEXT)],
                       state="campaign.text_b",
                       data={**ctx.data, "texts": ctx.data.get("texts", [])[:1]})
    if ctx.action is None:
        menu = _ab_menu(ctx.data)
        return Outcome([reply("campaign.use_buttons"), *menu.replies], menu.state, menu.data)
    return expired(ctx, "campaign.ab")


@router.state("campaign.text_b")
async def text_b_step(ctx: Ctx) -> Outcome:
    return await _guard(ctx) or await _got_text(ctx, "campaign.text_b", _split_menu)


def _split_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.split", f"cnew:split:{s}", a=s, b=100 - s) for s in SPLITS)
    return Outcome([reply("campaign.ask_split", row)], state="campaign.split", data=data)


@router.state("campaign.split")
async def split_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    value = (ctx.action or "").rsplit(":", 1)[-1]
    if (ctx.action or "").startswith("cnew:split:") and value in {str(s) for s in SPLITS}:
        return _holdout_menu({**ctx.data, "split": int(value)})
    if ctx.action is None:
        menu = _split_menu(ctx.data)
        return Outcome([reply("campaign.use_buttons"), *menu.replies], menu.state, menu.data)
    return expired(ctx, "campaign.split")


def _holdout_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.holdout_none" if h == 0 else "campaign.holdout",
                       f"cnew:holdout:{h}", percent=h) for h in HOLDOUTS)
    return Outcome([reply("campaign.ask_holdout", row)], state="campaign.holdout", data=data)


@router.state("campaign.holdout")
async def holdout_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    value = (ctx.action or "").rsplit(":", 1)[-1]
    if (ctx.action or "").startswith("cnew:holdout:") and value in {str(h) for h in HOLDOUTS}:
        data = {**ctx.data, "holdout": int(value)}
        return Outcome([*_previews(ctx, data), *_when_menu(data).replies],
                       state="campaign.when", data=data)
    if ctx.action is None:
        menu = _holdout_menu(ctx.data)
        return Outcome([reply("campaign.use_buttons"), *menu.replies], menu.state, menu.data)
    return expired(ctx, "campaign.holdout")


def _previews(ctx: Ctx, data: dict) -> list[Reply]:
    """Each variant as members will see it (a sample coupon code stands in for theirs)."""
    out: list[Reply] = []
    item = ctx.programme.reward(data["coupon"]) if data.get("coupon") else None
    until = (ctx.now + timedelta(days=item.coupon_days) if item is not None
             else ctx.now + timedelta(days=data["days"]) if data.get("bonus") else None)
    for code, text in zip("AB", data.get("texts", []), strict=False):
        out.append(reply("campaign.preview", variant=code))
        out.append(offer_reply(text, ctx.programme, data.get("coupon"), data.get("bonus"),
                               SAMPLE_CODE, until, ctx.programme.zone))
    return out


def _when_menu(data: dict) -> Outcome:
    return Outcome([reply("campaign.ask_when", (button("campaign.when_now", "cnew:when:now"),
                                                button("campaign.when_later", "cnew:when:later")))],
                   state="campaign.when", data={**data, "ask": None})


@router.state("campaign.when")
async def when_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    if ctx.action == "cnew:when:now":
        return await _confirm({**ctx.data, "send_at": None}, ctx)
    if ctx.action == "cnew:when:later":
        return Outcome([reply("campaign.ask_time", zone=str(ctx.zone),
                              example=when_text(ctx, ctx.now + timedelta(days=1)))],
                       state="campaign.when", data={**ctx.data, "ask": "when"})
    if ctx.action is None and ctx.data.get("ask") == "when":
        try:
            local_time = datetime.strptime(ctx.text[:40], WHEN_FORMAT)
        except ValueError:
            return Outcome([reply("campaign.bad_time")], state="campaign.when", data=ctx.data)
        at = local_time.replace(tzinfo=ctx.zone)
        if not ctx.now < at <= ctx.now + campaigns.MAX_AHEAD:
            return Outcome([reply("campaign.time_range", days=campaigns.MAX_AHEAD.days)],
                           state="campaign.when", data=ctx.data)
        return await _confirm({**ctx.data, "send_at": at.isoformat()}, ctx)
    if ctx.action is None:
        menu = _when_menu(ctx.data)
        return Outcome([reply("campaign.use_buttons"), *menu.replies], menu.state, menu.data)
    return expired(ctx, "campaign.when")


def _draft(ctx: Ctx, data: dict) -> Draft:
    """What the steps chose; SegmentRefused when the segment no longer fits the
    programme (a tier removed since), rather than widening it silently."""
    send_at = data.get("send_at")
    segment = segments.check(Segment.load(data.get("segment") or {}), ctx.programme)
    return Draft(segment=segment, texts=tuple(data.get("texts", [])),
                 split=int(data.get("split", 100)), holdout=int(data.get("holdout", 0)),
                 coupon=data.get("coupon"), bonus_percent=data.get("bonus"),
                 bonus_days=data.get("days") if data.get("bonus") else None,
                 send_at=datetime.fromisoformat(send_at) if send_at else None)


async def _confirm(data: dict, ctx: Ctx) -> Outcome:
    ctx = replace(ctx, data=data)
    try:
        draft = campaigns.check(_draft(ctx, data), ctx.programme, ctx.now)
    except (CampaignRefused, SegmentRefused) as refused:
        return Outcome([reply(_refusal(refused.code), **refused.params)])
    size = await segments.size(ctx.uow, draft.segment, ctx.programme, ctx.now)
    split = campaigns.shares(len(draft.texts), draft.split, draft.holdout)
    variants = [{"code": code, "text": text, "share": share}
                for (code, share), text in zip(split.variants, draft.texts, strict=True)]
    when = (Text("campaign.when.at", {"at": when_text(ctx, draft.send_at)}) if draft.send_at
            else Text("campaign.when.now"))
    nonce = members.new_code(10)
    return Outcome([reply("campaign.confirm", (button("campaign.confirm_yes", "cnew:ok"),
                                               button("campaign.confirm_no", "cnew:no")),
                          filters=segment_lines(draft.segment, ctx.programme), size=size,
                          variants=variant_lines(variants, split.holdout),
                          offer=offer_text(ctx, draft.coupon, draft.bonus_percent,
                                           draft.bonus_days),
                          when=when)],
                   state="campaign.confirm", data={**data, "nonce": nonce, "ask": None})


@router.state("campaign.confirm")
async def confirm_step(ctx: Ctx) -> Outcome:
    refusal = await _guard(ctx)
    if refusal is not None:
        return refusal
    if ctx.action == "cnew:no":
        return Outcome([reply("campaign.discarded")])
    if ctx.action != "cnew:ok":
        if ctx.action is None:
            return Outcome([reply("campaign.use_buttons")], state="campaign.confirm",
                           data=ctx.data)
        return expired(ctx, "campaign.confirm")
    nonce = str(ctx.data.get("nonce", ""))
    if not (nonce.isascii() and nonce.isalnum()):
        return expired(ctx)
    operator = Operator(ctx.member.id, ctx.inbound.platform, ctx.inbound.chat_id, ctx.locale)
    try:
        created = await campaigns.create(ctx.uow, ctx.programme, operator, _draft(ctx, ctx.data),
                                         f"chat:{ctx.member.id}:{nonce}", ctx.now)
    except (CampaignRefused, SegmentRefused) as refused:
        return Outcome([reply(_refusal(refused.code), **refused.params)])
    c = created.campaign
    key = "campaign.created_later" if c.send_at > ctx.now else "campaign.created_now"
    return Outcome([reply(key, number=str(c.id), when=when_text(ctx, c.send_at))])
