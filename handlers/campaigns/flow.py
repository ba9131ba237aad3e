"""/campaign: an operator builds a broadcast in chat, step by step, and controls it.

`/campaign` walks through the segment (with its size), the message (written once for
each language the segment's members read, or once for all), an optional offer
(a catalogue coupon or a points multiplier), an optional A/B test and holdout, now or
a scheduled time, and a confirmation that previews each message as members will see
it, in each language the segment reaches. The flow is in flow.mmd. `/campaign N`
shows campaign N and `/campaign pause|resume|cancel N` controls it (the rest is in
control.py). Operators and up only: the role is checked at every step and on
every button, since button data comes from the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from domain.campaigns import campaigns, segments
from domain.campaigns.campaigns import Author, CampaignRefused, Draft
from domain.campaigns.segments import Segment, SegmentRefused
from domain.members import members
from domain.staff import jobs
from handlers.campaigns import control as campaign_control
from handlers.campaigns import offers
from handlers.campaigns import segment as campaign_segment
from handlers.campaigns.control import (
    PERMISSION,
    ask_again,
    card,
    control,
    expired,
    number_arg,
)
from handlers.campaigns.words import (
    LANGUAGES,
    MOMENT,
    example_time,
    joined,
    offer_text,
    preview,
    segment_lines,
    variant_lines,
    when_text,
)
from handlers.engine import answers
from handlers.engine.i18n import LOCALES, negotiate
from handlers.engine.routing import Ctx, Flow, Outcome, Router, Step
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import local, multiplier
from handlers.members import tags
from handlers.staff.roles import denied

SEGMENT = campaign_segment.STATE
TEXT = "campaign.text"
OFFER = "campaign.offer"
AB = "campaign.ab"
TEXT_B = "campaign.text_b"
SPLIT = "campaign.split"
HOLDOUT = "campaign.holdout"
WHEN = "campaign.when"
CONFIRM = "campaign.confirm"
FLOW = Flow.beside(__file__, "flow.mmd", SEGMENT, TEXT, OFFER, AB, TEXT_B, SPLIT, HOLDOUT, WHEN,
                   CONFIRM)
router = Router(flows=[FLOW])
router.include(tags.router)
router.include(campaign_control.router)
BONUSES = (50, 100, 200)
BONUS_DAYS = (3, 7, 14, 30)
SPLITS = (50, 70, 90)
HOLDOUTS = (0, 5, 10, 20)


def _refusal(refused: CampaignRefused | SegmentRefused) -> Reply:
    code = refused.code
    key = "campaign.refused.segment" if code.startswith("segment") else f"campaign.refused.{code}"
    return reply(key, **refused.params)


# ------------------------------------------------------------------ commands

@router.command("campaign", role="operator")
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


async def begin_survey(ctx: Ctx, survey: int, code: str, title: dict[str, str]) -> Outcome:
    """/survey send CODE: a campaign whose message is the survey's invitation. The same
    flow without the message, offer and A/B steps; operators and up, as /campaign."""
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    data = {"survey": survey, "survey_code": code, "survey_title": title}
    return await campaign_segment.menu(replace(ctx, data=data), Segment())


# ------------------------------------------------------------------ the new-campaign flow

def _step(state: str) -> Callable[[Step], Step]:
    """Register the step waiting in `state`; the role is checked before it runs, on
    every message and button, as it may have been revoked since the flow began."""
    def register(step: Step) -> Step:
        async def guarded(ctx: Ctx) -> Outcome:
            return await denied(ctx, PERMISSION) or await step(ctx)
        router.state(state)(guarded)
        return step
    return register


def _picked(ctx: Ctx, prefix: str, allowed: Iterable[int]) -> int | None:
    """The value of a choice button `prefix:value`, when it is one of `allowed`."""
    action = ctx.action or ""
    value = action.removeprefix(prefix)
    if action.startswith(prefix) and value in {str(a) for a in allowed}:
        return int(value)
    return None


@router.action("cnew")
async def stale(ctx: Ctx) -> Outcome:
    """A flow button that is not among those offered now (an older message's, or a
    forged one): refused, and the draft so far is kept."""
    return await denied(ctx, PERMISSION) or Outcome(
        [reply("error.button_expired")], state=ctx.state, data=ctx.data if ctx.state else {})


@_step(SEGMENT)
async def segment_step(ctx: Ctx) -> Outcome:
    return await campaign_segment.step(ctx, _ask_text)


async def _reach(ctx: Ctx, segment: Segment) -> dict[str, int]:
    """How many of the segment read each language, the operator's first, then in the
    programme's order; only languages somebody reads."""
    survey = campaign_segment.survey_of(ctx)
    found = await ctx.read(  # a count over every member
        f"segment.by_language:{segment!r}:{survey}",
        lambda snapshot: segments.by_language(snapshot, segment, ctx.programme, ctx.now,
                                              survey))
    counts: dict[str, int] = {}
    for code, number in found.items():
        language = negotiate(code) or ctx.programme.default_locale
        counts[language] = counts.get(language, 0) + number
    order = sorted(counts, key=lambda c: (c != ctx.locale, LOCALES.index(c)))
    return {c: counts[c] for c in order if counts[c]}


async def _ask_text(ctx: Ctx) -> Outcome:
    segment = campaign_segment.current(ctx)
    reach = await _reach(ctx, segment)
    if not reach:
        return await campaign_segment.menu(ctx, segment, note=reply("campaign.nobody"))
    if campaign_segment.survey_of(ctx) is not None:  # its invitation is the message
        return _holdout_menu({**ctx.data, "reach": reach, "texts": [], "split": 100})
    return _ask({**ctx.data, "reach": reach, "texts": [], "writing": {}}, TEXT)


async def _reached(ctx: Ctx) -> dict:
    """The flow's data with the languages to write in; counted again for a draft
    begun before they were kept with it."""
    if ctx.data.get("reach"):
        return ctx.data
    segment = campaign_segment.current(ctx)
    return {**ctx.data, "reach": await _reach(ctx, segment) or {ctx.locale: 0}}


def _ask(data: dict, state: str) -> Outcome:
    """Ask for the words of the variant being written, in the next language it lacks:
    the first plainly, each further one with "same text for all" beside it."""
    reach: dict[str, int] = data["reach"]
    written: dict[str, str] = data.get("writing") or {}
    waiting = [c for c in reach if c not in written]
    language, later = waiting[0], waiting[1:]
    params = {"language": LANGUAGES[language], "count": reach[language],
              "max": campaigns.MAX_TEXT}
    b = "_b" if state == TEXT_B else ""
    if written:
        return Outcome([reply(f"campaign.ask_text{b}_more",
                              (button("campaign.same_text", "cnew:same"),), **params)],
                       state=state, data=data)
    then = Text("campaign.text_then", {"language": joined([LANGUAGES[c] for c in later]),
                                       "count": sum(reach[c] for c in later)}) if later else ""
    return Outcome([reply(f"campaign.ask_text{b}", then=then, **params)], state=state,
                   data=data)


async def _got_text(ctx: Ctx, state: str, then: Callable[[dict], Outcome]) -> Outcome:
    """One language's words of the variant being written; when every language the
    segment reaches has its words (or "same text for all" was pressed after the first),
    the variant is done."""
    data = await _reached(ctx)
    written: dict[str, str] = dict(data.get("writing") or {})
    if ctx.action == "cnew:same" and written:
        words: str | dict[str, str] = (next(iter(written.values())) if len(written) == 1
                                       else written)
        return then({**data, "texts": [*data.get("texts", []), words], "writing": {}})
    if ctx.action is not None or not ctx.text:
        return _ask(data, state)
    text = ctx.inbound.text.strip()
    if len(text) > campaigns.MAX_TEXT:
        again = _ask(data, state)
        return Outcome([reply("campaign.text_long", max=campaigns.MAX_TEXT), *again.replies],
                       state=state, data=data)
    language = next(c for c in data["reach"] if c not in written)
    written[language] = text
    if len(written) < len(data["reach"]):
        return _ask({**data, "writing": written}, state)
    return then({**data, "texts": [*data.get("texts", []), written], "writing": {}})


@_step(TEXT)
async def text_step(ctx: Ctx) -> Outcome:
    return await _got_text(ctx, TEXT, _offer_menu)


def _offer_menu(data: dict, note: Reply | None = None) -> Outcome:
    """Step 3; `ask` in the data is its open sub-question (coupon, bonus, days)."""
    menu = reply("campaign.ask_offer", (
        button("campaign.offer_none", "cnew:offer:none"),
        button("campaign.offer_coupon", "cnew:offer:coupon"),
        button("campaign.offer_bonus", "cnew:offer:bonus")))
    return Outcome([note, menu] if note else [menu], state=OFFER,
                   data={**data, "coupon": None, "bonus": None, "days": None, "ask": None})


async def _coupon_menu(ctx: Ctx, data: dict, note: Reply | None = None) -> Outcome:
    """The rewards a campaign can give now, and a line on those it cannot, and why.
    None: say so, with the offer's other choices."""
    why = await offers.unavailable(ctx)
    items = [r for r in ctx.programme.catalogue() if why.get(r.code) is None]
    if not items:
        menu = _offer_menu(data, note=reply("campaign.none_givable", left=offers.left_out(why))
                           if why else reply("campaign.no_rewards"))
        return replace(menu, replies=[note, *menu.replies]) if note else menu
    rows = tuple((Button(local(r.title), f"cnew:coupon:{r.code}"),) for r in items)
    question = Reply("campaign.ask_coupon", {"left": offers.left_out(why)}, rows)
    return Outcome([note, question] if note else [question], state=OFFER,
                   data={**data, "ask": "coupon"})


def _bonus_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.times", f"cnew:bonus:{b}", times=multiplier(100 + b))
                for b in BONUSES)
    return Outcome([reply("campaign.ask_bonus", row)], state=OFFER,
                   data={**data, "ask": "bonus"})


def _days_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.days", f"cnew:days:{d}", count=d) for d in BONUS_DAYS)
    return Outcome([reply("campaign.ask_days", row)], state=OFFER, data={**data, "ask": "days"})


async def _offer_question(ctx: Ctx) -> Outcome:
    """Step 3's question now open, with what was chosen so far."""
    ask, data = ctx.data.get("ask"), ctx.data
    if ask == "coupon":
        return await _coupon_menu(ctx, data)
    if ask == "bonus":
        return _bonus_menu(data)
    if ask == "days" and data.get("bonus") in BONUSES:
        return _days_menu(data)
    return _offer_menu(data)


@_step(OFFER)
async def offer_step(ctx: Ctx) -> Outcome:
    action, data = ctx.action or "", ctx.data
    if action == "cnew:offer:none":
        return _ab_menu({**data, "ask": None})
    if action == "cnew:offer:coupon":
        return await _coupon_menu(ctx, data)
    if action.startswith("cnew:coupon:"):
        code = action.removeprefix("cnew:coupon:")
        refusal = await offers.refusal(ctx, code)
        if refusal is None:
            return _ab_menu({**data, "coupon": code, "ask": None})
        # Switched off, sold out or unworded since the list was shown: the list as it is now.
        return await _coupon_menu(ctx, data, note=refusal)
    if action == "cnew:offer:bonus":
        return _bonus_menu(data)
    bonus = _picked(ctx, "cnew:bonus:", BONUSES)
    if bonus is not None:
        return _days_menu({**data, "bonus": bonus})
    days = _picked(ctx, "cnew:days:", BONUS_DAYS)
    if days is not None and data.get("bonus") in BONUSES:
        return _ab_menu({**data, "days": days, "ask": None})
    return ask_again(ctx, await _offer_question(ctx))


def _ab_menu(data: dict) -> Outcome:
    return Outcome([reply("campaign.ask_ab", (button("campaign.ab_one", "cnew:ab:one"),
                                              button("campaign.ab_two", "cnew:ab:two")))],
                   state=AB, data=data)


@_step(AB)
async def ab_step(ctx: Ctx) -> Outcome:
    first = ctx.data.get("texts", [])[:1]
    if ctx.action == "cnew:ab:one":
        return _holdout_menu({**ctx.data, "texts": first, "split": 100})
    if ctx.action == "cnew:ab:two":
        return _ask({**await _reached(ctx), "texts": first, "writing": {}}, TEXT_B)
    return ask_again(ctx, _ab_menu(ctx.data))


@_step(TEXT_B)
async def text_b_step(ctx: Ctx) -> Outcome:
    return await _got_text(ctx, TEXT_B, _split_menu)


def _split_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.split", f"cnew:split:{s}", a=s, b=100 - s) for s in SPLITS)
    return Outcome([reply("campaign.ask_split", row)], state=SPLIT, data=data)


def _holdout_menu(data: dict) -> Outcome:
    row = tuple(button("campaign.holdout_none" if h == 0 else "campaign.holdout",
                       f"cnew:holdout:{h}", percent=h) for h in HOLDOUTS)
    key = "survey.campaign_holdout" if data.get("survey") else "campaign.ask_holdout"
    return Outcome([reply(key, row)], state=HOLDOUT, data=data)


def _choice(key: str, allowed: tuple[int, ...], menu: Callable[[dict], Outcome],
            then: Callable[[dict], Outcome]) -> Step:
    """The step of `menu`: one of its `cnew:KEY:VALUE` buttons sets `key`, then `then`."""
    async def step(ctx: Ctx) -> Outcome:
        value = _picked(ctx, f"cnew:{key}:", allowed)
        if value is not None:
            return then({**ctx.data, key: value})
        return ask_again(ctx, menu(ctx.data))
    return step


def _when_menu(data: dict, note: Reply | None = None) -> Outcome:
    key = "survey.campaign_when" if data.get("survey") else "campaign.ask_when"
    menu = reply(key, (button("campaign.when_now", "cnew:when:now"),
                       button("campaign.when_later", "cnew:when:later")))
    return Outcome([note, menu] if note else [menu], state=WHEN,
                   data={**data, "ask": None, "send_at": None})


@_step(WHEN)
async def when_step(ctx: Ctx) -> Outcome:
    if ctx.data.get("ask") == "when" and ctx.inbound.action is None and ctx.text:
        return await _typed_time(ctx)
    if ctx.action == "cnew:when:now":
        return await _confirm({**ctx.data, "send_at": None}, ctx)
    if ctx.action == "cnew:when:later":
        return Outcome([reply("campaign.ask_time", zone=str(ctx.zone),
                              example=example_time(ctx.zone, ctx.now))],
                       state=WHEN, data={**ctx.data, "ask": "when"})
    return ask_again(ctx, _when_menu(ctx.data))


async def _typed_time(ctx: Ctx) -> Outcome:
    """The answer to "at what time?": typed words only, so "1" is a bad time here,
    not the Now button above the question."""
    try:
        local_time = datetime.strptime(campaign_segment.normalized(ctx.text[:40]), MOMENT)
    except ValueError:
        return Outcome([reply("campaign.bad_time", example=example_time(ctx.zone, ctx.now))],
                       state=WHEN, data=ctx.data)
    at = local_time.replace(tzinfo=ctx.zone)
    if not ctx.now < at <= ctx.now + campaigns.MAX_AHEAD:
        return Outcome([reply("campaign.time_range", days=campaigns.MAX_AHEAD.days)],
                       state=WHEN, data=ctx.data)
    return await _confirm({**ctx.data, "send_at": at.isoformat()}, ctx)


split_step = _step(SPLIT)(_choice("split", SPLITS, _split_menu, _holdout_menu))
holdout_step = _step(HOLDOUT)(_choice("holdout", HOLDOUTS, _holdout_menu, _when_menu))


def _draft(ctx: Ctx, data: dict) -> Draft:
    """What the steps chose; SegmentRefused when the segment no longer fits the
    programme (a tier removed since), rather than widening it silently."""
    send_at = data.get("send_at")
    segment = segments.check(Segment.load(data.get("segment") or {}), ctx.programme)
    return Draft(segment=segment, texts=tuple(data.get("texts", [])),
                 split=int(data.get("split", 100)), holdout=int(data.get("holdout", 0)),
                 coupon=data.get("coupon"), bonus_percent=data.get("bonus"),
                 bonus_days=data.get("days") if data.get("bonus") else None,
                 send_at=datetime.fromisoformat(send_at) if send_at else None,
                 survey=data.get("survey"), survey_title=data.get("survey_title"))


def _refused(refused: CampaignRefused | SegmentRefused, data: dict) -> Outcome:
    """A time that has passed meanwhile is asked again; anything else ends the flow."""
    if refused.code == "send_at":
        return _when_menu(data, note=_refusal(refused))
    return Outcome([_refusal(refused)])


async def _coupon_gone(ctx: Ctx, data: dict) -> Outcome | None:
    """The chosen coupon's reward switched off, sold out or unworded since it was
    picked: say so, and ask step 3 again, with the rest of the draft kept."""
    code = data.get("coupon")
    refusal = await offers.refusal(ctx, code) if code else None
    return _offer_menu(data, note=refusal) if refusal is not None else None


def _previews(ctx: Ctx, draft: Draft, variants: list[dict],
              reach: dict[str, int]) -> list[Reply]:
    """Each message as members will see it, in each language the segment reaches (the
    operator's own first), with the offer's dates as they will be at the send time."""
    start = draft.send_at or ctx.now
    item = ctx.programme.reward(draft.coupon) if draft.coupon else None
    until = (start + timedelta(days=item.coupon_days) if item is not None
             else start + timedelta(days=draft.bonus_days or 0) if draft.bonus_percent
             else None)
    out: list[Reply] = []
    for variant in variants:
        for language in reach or [ctx.locale]:
            out.append(reply("campaign.preview", variant=variant["code"],
                             language=LANGUAGES[language]) if len(variants) > 1
                       else reply("campaign.preview_single", language=LANGUAGES[language]))
            out.append(preview(variant, ctx.programme, draft.coupon, draft.bonus_percent,
                               until, language))
    return out


async def _confirm(data: dict, ctx: Ctx) -> Outcome:
    ctx = replace(ctx, data=data)
    gone = await _coupon_gone(ctx, data)
    if gone is not None:
        return gone
    try:
        draft = campaigns.check(_draft(ctx, data), ctx.programme, ctx.now)
    except (CampaignRefused, SegmentRefused) as refused:
        return _refused(refused, data)
    reach = await _reach(ctx, draft.segment)
    split = campaigns.shares(max(len(draft.texts), 1), draft.split, draft.holdout)
    variants = campaigns.stored_variants(draft, split, ctx.programme)
    when = (Text("campaign.when.at", {"at": when_text(ctx.zone, draft.send_at)})
            if draft.send_at else Text("campaign.when.now"))
    nonce = members.new_code(10)
    # A survey's campaign has no offer of its own (the survey's reward is its own).
    key = "survey.campaign_confirm" if data.get("survey") else "campaign.confirm"
    return Outcome([*_previews(ctx, draft, variants, reach), reply(
        key, (button("campaign.confirm_yes", "cnew:ok"),
              button("campaign.confirm_no", "cnew:no")),
        filters=segment_lines(draft.segment, ctx.programme), size=sum(reach.values()),
        variants=variant_lines(variants, split.holdout),
        offer=offer_text(ctx.programme, draft.coupon, draft.bonus_percent, draft.bonus_days),
        when=when, code=data.get("survey_code", ""))],
        state=CONFIRM, data={**data, "nonce": nonce, "ask": None})


@_step(CONFIRM)
async def confirm_step(ctx: Ctx) -> Outcome:
    if ctx.action == "cnew:no":
        return Outcome([reply("campaign.discarded")])
    if ctx.action != "cnew:ok":
        if ctx.action is None:  # text is answered by the engine; this is a guard
            return Outcome([answers.again(ctx.offered)], state=CONFIRM, data=ctx.data)
        return expired(ctx, CONFIRM)
    nonce = str(ctx.data.get("nonce", ""))
    if not (nonce.isascii() and nonce.isalnum()):
        return expired(ctx)
    gone = await _coupon_gone(ctx, ctx.data)
    if gone is not None:
        return gone
    operator = Author(ctx.member.id, ctx.inbound.platform, ctx.inbound.chat_id, ctx.locale)
    try:
        created = await campaigns.create(ctx.uow, ctx.programme, operator, _draft(ctx, ctx.data),
                                         f"chat:{ctx.member.id}:{nonce}", ctx.now)
    except (CampaignRefused, SegmentRefused) as refused:
        return _refused(refused, ctx.data)
    c = created.campaign
    key = "created_later" if c.send_at > ctx.now else "created_now"
    key = f"survey.campaign_{key}" if ctx.data.get("survey") else f"campaign.{key}"
    said = [reply(key, number=str(c.id), when=when_text(ctx.zone, c.send_at),
                  code=ctx.data.get("survey_code", ""))]
    if c.send_at > ctx.now:  # a time to keep needs a scheduler (`memberbot chat` has none)
        runner = await jobs.runner(ctx.uow)
        if runner is None or not runner.alive(ctx.now):
            said.append(reply("campaign.no_runner"))
    return Outcome(said)
