"""Step 1 of /campaign: building the segment, with its size after every change.

One waiting state, "campaign.segment". Its menu offers a button per filter; choice
filters (tier, language, platform, stage, RFM segment) open a picker whose buttons
toggle values, and the others ask for a line of text (tags, points range, last
purchase, birthday months, least churn risk). Every value, typed or pressed, is
checked against what the programme knows before it is kept, since button data comes
from the client.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from domain.campaigns import segments
from domain.campaigns.segments import Segment, SegmentRefused
from domain.config import LOCALES
from domain.insight import rfm, scores
from domain.members import tags
from domain.members.tags import TagRefused
from handlers.campaigns.control import ask_again, expired
from handlers.campaigns.words import LANGUAGES, PLATFORMS, segment_lines, stage_name
from handlers.engine.routing import Ctx, Outcome
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import clock, tier_name

STATE = "campaign.segment"
CHOICES = ("tier", "locale", "platform", "stage", "rfm")
TYPED = ("tags", "points", "purchase", "months", "risk")
FIELD = {"tier": "tiers", "locale": "locales", "platform": "platforms", "stage": "stages",
         "rfm": "rfm"}
POINTS = re.compile(r"(\d{1,10})?\s*-\s*(\d{1,10})?")
PURCHASE = re.compile(r"([<>])\s*(\d{1,4})")
CLEAR = "-"
Next = Callable[[Ctx], Awaitable[Outcome]]


def normalized(raw: str) -> str:
    """What an operator typed, as the parsers read it: full-width forms a Chinese
    keyboard gives (＜３０, １００－５００, ０９：００, ，) as their ASCII ones, and the
    enumeration comma 、 as a comma."""
    return unicodedata.normalize("NFKC", raw).replace("、", ",").strip()


def current(ctx: Ctx) -> Segment:
    try:
        return segments.check(Segment.load(ctx.data.get("segment") or {}), ctx.programme)
    except SegmentRefused:
        return Segment()


def values_of(ctx: Ctx, dimension: str) -> list[tuple[str, Any]]:
    """(code, label) of every value a choice filter can take."""
    if dimension == "tier":
        return [(t.code, tier_name(t)) for t in ctx.programme.tiers.levels]
    if dimension == "locale":
        return [(code, LANGUAGES[code]) for code in LOCALES]
    if dimension == "platform":
        return list(PLATFORMS.items())
    if dimension == "rfm":
        return [(code, Text(f"rfm.{code}")) for code in rfm.SEGMENTS]
    return [(stage, stage_name(stage)) for stage in segments.STAGES]


def survey_of(ctx: Ctx) -> int | None:
    """The survey the campaign being built sends (/survey send CODE), if any."""
    survey = ctx.data.get("survey")
    return survey if isinstance(survey, int) else None


async def menu(ctx: Ctx, segment: Segment, edit: bool = False,
               note: Reply | None = None) -> Outcome:
    survey = survey_of(ctx)
    size = await ctx.read(f"segment.size:{segment!r}:{survey}",  # a count over every member
                          lambda snapshot: segments.size(snapshot, segment, ctx.programme,
                                                         ctx.now, survey))
    rows = (
        (button("campaign.dim.tier", "cnew:dim:tier"), button("campaign.dim.tags", "cnew:dim:tags"),
         button("campaign.dim.locale", "cnew:dim:locale")),
        (button("campaign.dim.platform", "cnew:dim:platform"),
         button("campaign.dim.stage", "cnew:dim:stage"),
         button("campaign.dim.purchase", "cnew:dim:purchase")),
        (button("campaign.dim.points", "cnew:dim:points"),
         button("campaign.dim.months", "cnew:dim:months")),
        (button("campaign.dim.rfm", "cnew:dim:rfm"), button("campaign.dim.risk", "cnew:dim:risk")),
        (button("campaign.clear", "cnew:clear"), button("campaign.next", "cnew:next")),
    )
    filters = segment_lines(segment, ctx.programme)
    if segment.rfm or segment.risk_min is not None:  # say how fresh the scores are
        scored = await scores.last_scored(ctx.uow)
        filters.append(Text("campaign.not_scored") if scored is None else Text(
            "campaign.scores_at", {"when": clock(scored, ctx.programme.zone)}))
    shown = Reply("survey.campaign_segment" if survey is not None else "campaign.segment",
                  {"filters": filters, "count": size,
                   "code": ctx.data.get("survey_code", "")}, rows, edit=edit)
    return Outcome([note, shown] if note else [shown], state=STATE,
                   data={**ctx.data, "segment": segment.dump(), "ask": None, "size": size})


def picker(ctx: Ctx, dimension: str, segment: Segment, edit: bool) -> Outcome:
    chosen = set(getattr(segment, FIELD[dimension]))
    rows = [(Button(Text("campaign.picked", {"label": label}) if code in chosen else label,
                    f"cnew:set:{dimension}:{code}"),) for code, label in values_of(ctx, dimension)]
    rows.append((button("campaign.done", "cnew:back"),))
    # "Choose tiers": the filter's name in a sentence, not its button's label.
    return Outcome([Reply("campaign.pick", {"dimension": Text(f"campaign.pick_what.{dimension}")},
                          tuple(rows), edit=edit)],
                   state=STATE, data={**ctx.data, "segment": segment.dump(), "ask": dimension})


async def step(ctx: Ctx, after: Next) -> Outcome:
    """The waiting state's step; `after` is the next step of the flow (the message).
    `ask` in the data is the open sub-question: a picker or a typed filter."""
    segment = current(ctx)
    action = ctx.action or ""
    ask = ctx.data.get("ask")
    if ask in TYPED and ctx.inbound.action is None and ctx.text:
        # Typed words answer the typed question, even digits ("3" is March, not the
        # menu's third button, which the engine would otherwise read it as).
        return await _typed(ctx, segment, ask)
    if action.startswith("cnew:dim:"):
        dimension = action.rsplit(":", 1)[1]
        if dimension in CHOICES:
            return picker(ctx, dimension, segment, edit=True)
        if dimension in TYPED:
            return Outcome([reply(f"campaign.ask.{dimension}")], state=STATE,
                           data={**ctx.data, "ask": dimension})
    elif action.startswith("cnew:set:"):
        return await _toggle(ctx, segment, action)
    elif action == "cnew:back":
        return await menu(ctx, segment, edit=True)
    elif action == "cnew:clear":
        return await menu(ctx, Segment(), edit=True)
    elif action == "cnew:next":
        return await after(ctx)
    elif ctx.action is None and ask in TYPED:  # no text (a picture): the question again
        return Outcome([reply(f"campaign.ask.{ask}")], state=STATE, data=ctx.data)
    elif ask in CHOICES:  # the picker stays open, its ticks kept
        return ask_again(ctx, picker(ctx, ask, segment, edit=False))
    elif ctx.action is None:
        return ask_again(ctx, await menu(ctx, segment))
    return expired(ctx, STATE)


async def _toggle(ctx: Ctx, segment: Segment, action: str) -> Outcome:
    parts = action.split(":")
    if len(parts) != 4 or parts[2] not in CHOICES:
        return expired(ctx, STATE)
    dimension, code = parts[2], parts[3]
    if code not in {c for c, _ in values_of(ctx, dimension)}:
        return expired(ctx, STATE)
    field = FIELD[dimension]
    chosen = list(getattr(segment, field))
    chosen = [c for c in chosen if c != code] if code in chosen else [*chosen, code]
    changed: dict[str, Any] = {field: tuple(chosen)}
    return picker(ctx, dimension, replace(segment, **changed), edit=True)


async def _typed(ctx: Ctx, segment: Segment, dimension: str) -> Outcome:
    text = normalized(ctx.text[:200])
    try:
        changed = parse(dimension, text, segment)
        segments.check(changed, ctx.programme)
    except (SegmentRefused, TagRefused):
        return Outcome([reply(f"campaign.bad.{dimension}"), reply(f"campaign.ask.{dimension}")],
                       state=STATE, data=ctx.data)
    return await menu(ctx, changed)


def parse(dimension: str, text: str, segment: Segment) -> Segment:
    """The segment with one typed filter set; "-" clears it."""
    text = text.strip().lower()
    clear = text == CLEAR
    if dimension == "tags":
        typed = () if clear else tags.parse(tags.split(text.replace(",", " ")))
        return replace(segment, tags=typed)
    if dimension == "months":
        if clear:
            return replace(segment, birth_months=())
        raw = text.replace(",", " ").split()
        if not raw or not all(r.isascii() and r.isdigit() and len(r) <= 2 for r in raw):
            raise SegmentRefused("segment_month")
        return replace(segment, birth_months=tuple(sorted({int(r) for r in raw})))
    if dimension == "risk":
        if clear:
            return replace(segment, risk_min=None)
        if not (text.isascii() and text.isdigit() and len(text) <= 3):
            raise SegmentRefused("segment_risk")
        return replace(segment, risk_min=int(text))
    if dimension == "points":
        if clear:
            return replace(segment, points_min=None, points_max=None)
        match = POINTS.fullmatch(text)
        if match is None or match.group(1) is None and match.group(2) is None:
            raise SegmentRefused("segment_points")
        low, high = (int(g) if g is not None else None for g in match.groups())
        return replace(segment, points_min=low, points_max=high)
    if clear:
        return replace(segment, purchase=None)
    if text in ("never", "从未", "没有"):
        return replace(segment, purchase=("never", 0))
    match = PURCHASE.fullmatch(text)
    if match is None:
        raise SegmentRefused("segment_purchase")
    return replace(segment, purchase=("within" if match.group(1) == "<" else "over",
                                      int(match.group(2))))
