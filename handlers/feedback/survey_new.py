"""/survey new: an operator builds a survey in chat, step by step; /survey close CODE.

The steps: a code, the title and intro in each language, then the questions one by
one (kind, words, choices, optional, an optional "show if" on an earlier answer),
the reward (points, a coupon), a close date, and a confirmation under a preview of
the whole survey in each language. The draft is a SurveyDef being filled in, kept in
the conversation; domain.feedback.building checks it whole and writes it once per
confirmation (its nonce is the key). The flow is drawn in survey_new.mmd. Operators
and up (the "campaign" permission): the role is checked at every step and on every
button, since it may have been revoked since the flow began.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from annotated_types import Le
from pydantic import TypeAdapter, ValidationError

from domain.feedback import building
from domain.feedback.building import BuildRefused
from domain.feedback.definitions import MOST_CHOICES, MOST_QUESTIONS, SCALES, Code, SurveyDef
from domain.feedback.surveys import FILE
from domain.members import members
from handlers.campaigns import offers
from handlers.campaigns.control import ask_again, expired
from handlers.engine import answers
from handlers.engine.i18n import LOCALES
from handlers.engine.routing import Ctx, Outcome, Router, Step
from handlers.engine.types import Reply, Text, button, reply
from handlers.engine.words import local
from handlers.feedback import survey_new_menus as menus
from handlers.feedback import survey_new_words as words
from handlers.staff.roles import denied

router = Router(flows=[menus.FLOW])
PERMISSION = "campaign"  # operators and up, as /campaign
POINTS_MOST = cast(int, next(m.le for m in SurveyDef.model_fields["reward_points"].metadata
                             if isinstance(m, Le)))  # as the file allows
CODES = TypeAdapter(Code)


async def _denied(ctx: Ctx, command: str = "/survey new") -> Outcome | None:
    """The role check, naming this command (mid-flow nothing was typed to name it)."""
    refusal = await denied(ctx, PERMISSION)
    if refusal is None:
        return None
    said = refusal.replies[0]
    return Outcome([Reply(said.key, {**said.params, "command": command})])


def _step(state: str) -> Callable[[Step], Step]:
    """Register the step waiting in `state`, the role checked before it runs."""
    def register(step: Step) -> Step:
        async def guarded(ctx: Ctx) -> Outcome:
            return await _denied(ctx) or await step(ctx)
        router.state(state)(guarded)
        return step
    return register


@router.action("snew")
async def stale(ctx: Ctx) -> Outcome:
    """A flow button not offered now (an older message's, or forged): the draft stays."""
    return await _denied(ctx) or expired(ctx, ctx.state)


def _typed(ctx: Ctx) -> bool:
    """Words typed at a step that waits for them: digits too are words there, not the
    number of a button an earlier message offered. Anything but spaces is typed (a
    tab alone is refused as a control character, not taken for nothing)."""
    return ctx.inbound.action is None and bool(words.trimmed(ctx.inbound.text))


def _pick(ctx: Ctx, prefix: str) -> str | None:
    action = ctx.action or ""
    return action.removeprefix(prefix) if action.startswith(prefix) else None


# ------------------------------------------------------------------ code, title, intro

async def begin(ctx: Ctx) -> Outcome:
    refusal = await _denied(ctx)
    if refusal is not None:
        return refusal
    langs = sorted(LOCALES, key=lambda c: (c != ctx.locale, LOCALES.index(c)))
    return Outcome([reply("survey_new.ask_code")], state=menus.CODE,
                   data={"langs": langs, "questions": []})


@_step(menus.CODE)
async def code_step(ctx: Ctx) -> Outcome:
    data = ctx.data
    if not _typed(ctx):
        return expired(ctx, menus.CODE) if ctx.inbound.action else Outcome(
            [reply("survey_new.ask_code")], state=menus.CODE, data=data)
    typed, problem = words.line(ctx.inbound.text)
    if problem is not None:
        return Outcome([problem], state=menus.CODE, data=data)
    try:
        code = CODES.validate_python(unicodedata.normalize("NFKC", typed).lower())
    except ValidationError:
        return Outcome([reply("survey_new.bad_code")], state=menus.CODE, data=data)
    if await building.taken(ctx.uow, ctx.programme, code):
        return Outcome([reply("survey_new.code_taken", code=code)], state=menus.CODE, data=data)
    if data.get("ready"):  # the code was taken meanwhile: the rest is as it was
        return await _confirm(ctx, {**data, "code": code})
    return menus.ask_words({**data, "code": code, "field": "title", "writing": {}})


@_step(menus.WORDS)
async def words_step(ctx: Ctx) -> Outcome:
    data = dict(ctx.data)
    field, written = data.get("field"), dict(data.get("writing") or {})
    if field not in ("title", "intro", "text", "labels"):
        return expired(ctx)
    if ctx.action == "snew:same" and written:
        first = next(iter(written.values()))
        return _words_done(data, {c: written.get(c, first) for c in data["langs"]})
    if not _typed(ctx):
        return expired(ctx, menus.WORDS) if ctx.inbound.action else menus.ask_words(data)
    language = next(c for c in data["langs"] if c not in written)
    if field == "labels":
        value: Any
        value, problem = words.labels(ctx.inbound.text, MOST_CHOICES)
        if problem is None and written and len(value) != len(next(iter(written.values()))):
            problem = reply("survey_new.labels_mismatch",
                            total=len(next(iter(written.values()))))
    else:
        value, problem = words.cleaned(ctx.inbound.text, lines=field != "title")
    if problem is not None:
        return menus.ask_words(data, note=problem)
    written[language] = value
    if len(written) < len(data["langs"]):
        return menus.ask_words({**data, "writing": written})
    return _words_done(data, written)


def _words_done(data: dict, written: dict[str, Any]) -> Outcome:
    field = data["field"]
    data = {**data, "writing": {}}
    if field == "title":
        return menus.ask_words({**data, "title": written, "field": "intro"})
    if field == "intro":
        return menus.kind_menu({**data, "intro": written})
    question = dict(data["q"])
    if field == "text":
        question["text"] = written
        if question["kind"] in words.CHOOSING:
            return menus.ask_words({**data, "q": question, "field": "labels"})
    else:
        question["choices"] = words.choices(written)
    return menus.optional_menu({**data, "q": question})


# ------------------------------------------------------------------ a question

@_step(menus.KIND)
async def kind_step(ctx: Ctx) -> Outcome:
    data = ctx.data
    if len(data.get("questions", [])) >= MOST_QUESTIONS:
        return menus.full(data)
    number = len(data["questions"]) + 1
    kind = _pick(ctx, "snew:kind:")
    if kind in menus.KINDS and data.get("ask") is None:
        question: dict[str, Any] = {"code": f"q{number}", "kind": kind}
        if kind == "text":
            return menus.length_menu({**data, "q": question})
        return menus.ask_words({**data, "q": question, "field": "text", "writing": {}})
    length = _pick(ctx, "snew:len:")
    if data.get("ask") == "length" and length in {str(n) for n in menus.LENGTHS}:
        question = {**data["q"], "max_length": int(length or 0)}
        return menus.ask_words({**data, "q": question, "field": "text", "writing": {},
                                "ask": None})
    menu = menus.length_menu(data) if data.get("ask") == "length" else menus.kind_menu(data)
    return ask_again(ctx, menu)


@_step(menus.OPTIONAL)
async def optional_step(ctx: Ctx) -> Outcome:
    said = _pick(ctx, "snew:opt:")
    if said not in ("yes", "no"):
        return ask_again(ctx, menus.optional_menu(ctx.data))
    data = {**ctx.data, "q": {**ctx.data["q"], "optional": said == "yes"}}
    return menus.if_menu(data) if menus.targets(data) else menus.add(data)


@_step(menus.SHOW_IF)
async def show_if_step(ctx: Ctx) -> Outcome:
    data, ask = ctx.data, ctx.data.get("ask")
    picked = _pick(ctx, "snew:if:")
    if ask is None and picked == "none":
        return menus.add(data)
    if ask is None and picked is not None:
        target = next((q for q in menus.targets(data) if q["code"] == picked), None)
        if target is None:  # forged, or pointing at a question it cannot
            return menus.if_menu(data, note=reply("survey_new.if_nowhere"))
        data = {**data, "if": picked, "picked": []}
        if target["kind"] in words.CHOOSING:
            return menus.if_ticks(data)
        return menus.test_menu(data)
    test = _pick(ctx, "snew:test:")
    if ask == "test" and test in ("at_most", "at_least"):
        return menus.if_values({**data, "test": test}, test)
    value = _pick(ctx, "snew:val:")
    if ask in ("at_most", "at_least") and value is not None and value.isdigit() \
            and int(value) in SCALES[menus.target(data)["kind"]]:
        return menus.add(data, {"question": data["if"], ask: int(value)})
    code = _pick(ctx, "snew:tick:")
    if ask == "any" and code in {c["code"] for c in menus.target(data)["choices"]}:
        ticks = list(data.get("picked") or [])
        ticks = [t for t in ticks if t != code] if code in ticks else [*ticks, code]
        return menus.if_ticks({**data, "picked": ticks})
    if ask == "any" and ctx.action == "snew:ticked":
        if not data.get("picked"):
            return menus.if_ticks(data, note=reply("survey_new.pick_one"))
        return menus.add(data, {"question": data["if"], "any_of": list(data["picked"])})
    return ask_again(ctx, menus.show_if_question(data))


@_step(menus.MORE)
async def more_step(ctx: Ctx) -> Outcome:
    said = _pick(ctx, "snew:more:")
    if said == "add":
        if len(ctx.data["questions"]) >= MOST_QUESTIONS:
            return menus.full(ctx.data)
        return menus.kind_menu(ctx.data)
    if said == "done":
        return menus.reward_menu(ctx.data)
    return ask_again(ctx, menus.more_menu(ctx.data))


# ------------------------------------------------------------------ reward, close, confirm

@_step(menus.REWARD)
async def reward_step(ctx: Ctx) -> Outcome:
    data = ctx.data
    if data.get("ask") == "points" and _typed(ctx):
        line, problem = words.line(ctx.inbound.text)
        if problem is not None:
            return Outcome([problem], state=menus.REWARD, data=data)
        typed = answers.number(line)
        if typed is None or typed > POINTS_MOST:
            return Outcome([reply("survey_new.bad_points", most=POINTS_MOST)],
                           state=menus.REWARD, data=data)
        return await menus.coupon_menu(ctx, {**data, "points": typed, "ask": None})
    points = _pick(ctx, "snew:pts:")
    if points == "typed":
        return Outcome([reply("survey_new.ask_points_typed", most=POINTS_MOST)],
                       state=menus.REWARD, data={**data, "ask": "points"})
    if points in {str(n) for n in menus.POINTS}:
        return await menus.coupon_menu(ctx, {**data, "points": int(points or 0), "ask": None})
    return ask_again(ctx, menus.reward_menu(data))


@_step(menus.COUPON)
async def coupon_step(ctx: Ctx) -> Outcome:
    code = _pick(ctx, "snew:coupon:")
    if code == "none":
        return menus.closes_menu({**ctx.data, "coupon": None})
    if code is not None:
        refusal = await offers.refusal(ctx, code)
        if refusal is None:
            return menus.closes_menu({**ctx.data, "coupon": code})
        return await menus.coupon_menu(ctx, ctx.data, note=refusal)
    return ask_again(ctx, await menus.coupon_menu(ctx, ctx.data))


@_step(menus.CLOSES)
async def closes_step(ctx: Ctx) -> Outcome:
    data = ctx.data
    today = ctx.now.astimezone(ctx.programme.zone).date()
    if data.get("ask") == "date" and _typed(ctx):
        line, problem = words.line(ctx.inbound.text)
        if problem is not None:
            return Outcome([problem], state=menus.CLOSES, data=data)
        typed = unicodedata.normalize("NFKC", line)
        try:
            day = date.fromisoformat(typed) if len(typed) == 10 else None
        except ValueError:
            day = None
        if day is None or day < today:
            return Outcome([reply("survey_new.bad_date", example=today.isoformat())],
                           state=menus.CLOSES, data=data)
        latest = building.latest_close(today)
        if day > latest:
            return Outcome([reply("survey_new.date_far", latest=latest,
                                  years=building.CLOSES_WITHIN_YEARS)],
                           state=menus.CLOSES, data=data)
        return await _confirm(ctx, {**data, "closes": day.isoformat(), "ask": None})
    said = _pick(ctx, "snew:closes:")
    if said == "never":
        return await _confirm(ctx, {**data, "closes": None})
    if said == "date":
        return Outcome([reply("survey_new.ask_date", example=today.isoformat())],
                       state=menus.CLOSES, data={**data, "ask": "date"})
    return ask_again(ctx, menus.closes_menu(data))


def _draft(data: dict) -> dict[str, Any]:
    """The SurveyDef the steps wrote, as a dict."""
    draft = {"code": data.get("code"), "title": data.get("title"),
             "intro": data.get("intro"), "questions": data.get("questions"),
             "reward_points": data.get("points", 0), "reward": data.get("coupon")}
    return {**draft, **({"closes": data["closes"]} if data.get("closes") else {})}


async def _back(ctx: Ctx, refused: BuildRefused, data: dict) -> Outcome:
    """A draft refused at the end: back to the step that can mend it, the rest kept
    (a code taken meanwhile, a close date now past, a reward gone from the catalogue)."""
    said = reply(f"survey_new.refused.{refused.code}", **refused.params)
    data = {**data, "ready": True}
    if refused.code == "code_taken":
        return Outcome([said, reply("survey_new.ask_code")], state=menus.CODE, data=data)
    if refused.code in ("closes", "closes_far"):
        menu = menus.closes_menu(data)
        return Outcome([said, *menu.replies], state=menu.state, data=menu.data)
    if refused.code == "reward":
        return await menus.coupon_menu(ctx, data, note=said)
    return Outcome([said])


async def _confirm(ctx: Ctx, data: dict) -> Outcome:
    try:
        definition = building.check(_draft(data), ctx.programme, ctx.now)
    except BuildRefused as refused:
        return await _back(ctx, refused, data)
    item = ctx.programme.reward(definition.reward) if definition.reward else None
    reward = Text("survey_new.reward_line", {
        "count": definition.reward_points,
        "coupon": Text("survey_new.reward_coupon", {"title": local(item.title)})
        if item is not None else ""})
    previews = [words.preview(definition, reward, definition.closes, lang)
                for lang in data["langs"]]
    nonce = members.new_code(10)
    return Outcome([*previews, reply(
        "survey_new.confirm", (button("survey_new.confirm_yes", "snew:ok"),
                               button("survey_new.confirm_no", "snew:no")),
        code=definition.code, count=len(definition.questions))],
        state=menus.CONFIRM, data={**data, "nonce": nonce, "ready": True})


@_step(menus.CONFIRM)
async def confirm_step(ctx: Ctx) -> Outcome:
    if ctx.action == "snew:no":
        return Outcome([reply("survey_new.discarded")])
    if ctx.action != "snew:ok":
        if ctx.action is None:  # text is answered by the engine; this is a guard
            return Outcome([answers.again(ctx.offered)], state=menus.CONFIRM, data=ctx.data)
        return expired(ctx, menus.CONFIRM)
    nonce = str(ctx.data.get("nonce", ""))
    if not (nonce.isascii() and nonce.isalnum()):
        return expired(ctx)
    coupon = ctx.data.get("coupon")
    refusal = await offers.refusal(ctx, coupon) if coupon else None
    if refusal is not None:  # switched off, sold out or unworded since it was picked
        return await menus.coupon_menu(ctx, ctx.data, note=refusal)
    try:
        built = await building.create(ctx.uow, ctx.programme, _draft(ctx.data),
                                      ctx.member.id, f"chat:{ctx.member.id}:{nonce}", ctx.now)
    except BuildRefused as refused:
        return await _back(ctx, refused, ctx.data)
    return Outcome([reply("survey_new.created", code=built.survey.code)])


# ------------------------------------------------------------------ /survey close CODE

async def close(ctx: Ctx, rest: list[str]) -> Outcome:
    """Close a survey now. A file survey the file still lists opens again when the file
    changes it, which the reply says."""
    refusal = await _denied(ctx, "/survey close")
    if refusal is not None:
        return refusal
    if len(rest) != 1:
        return Outcome([reply("survey_new.close_usage")])
    code = unicodedata.normalize("NFKC", rest[0]).lower()[:32]
    try:
        survey, stopped = await building.close(ctx.uow, code, ctx.member.id, ctx.now)
    except BuildRefused as refused:
        return Outcome([reply(f"survey_new.close_refused.{refused.code}", code=code)])
    listed = survey.source == FILE and any(s.code == code for s in ctx.programme.surveys)
    called_off = Text("survey_new.closed_stopped", {
        "campaigns": stopped.campaigns, "invitations": stopped.invitations}) \
        if stopped.campaigns or stopped.invitations else ""
    return Outcome([reply("survey_new.closed_file" if listed else "survey_new.closed",
                          code=code, stopped=called_off)])
