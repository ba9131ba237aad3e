"""Answering a survey in chat, one question per message.

The member's progress is the response in the database (domain.feedback.responses),
not this conversation: /survey brings back the first question not answered yet, after
/cancel, another command or a restart. Every button names its response and question,
so an older question's button changes that answer while the survey is unfinished, and
a second tap finds it answered already. The flow is drawn in survey.mmd.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from domain.feedback import responses, surveys
from domain.feedback.definitions import SCALES, Question, clean_text, has_control
from domain.feedback.responses import Progress, SurveyRefused
from domain.privacy import consents
from domain.staff import roles
from handlers.engine import answers
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Button, Local, Reply, Text, button, reply, value_button
from handlers.engine.words import local
from handlers.feedback import survey_new, survey_staff

ANSWER = "survey.answer"
FLOW = Flow.beside(__file__, "survey.mmd", ANSWER)
router = Router(flows=[FLOW])
router.include(survey_new.router)
PICK, TICK, DONE, SKIP, BACK, OFF = "sv", "svt", "svd", "svs", "svb", "svoff"
OFF_YES, OFF_NO = "svoffy", "svoffn"
NPS_ROWS = ((0, 1, 2, 3, 4, 5), (6, 7, 8, 9, 10))


@router.command("survey")
async def survey(ctx: Ctx) -> Outcome:
    """/survey: the survey waiting for the member, where they left it (none while they
    have turned surveys off); /survey on|off. Staff add a verb: /survey list, ..."""
    words = ctx.arg.split()
    if words and words[0].lower() in survey_staff.VERBS:
        return await survey_staff.staff(ctx, words[0].lower(), words[1:])
    if len(words) == 1 and words[0].lower() == "on":
        changed = await consents.choose(ctx.uow, ctx.programme, ctx.member, "surveys", True,
                                        ctx.inbound.platform, ctx.now)
        return Outcome([reply("survey.opted_in" if changed else "survey.on_already")])
    if len(words) == 1 and words[0].lower() == "off":  # typed: no need to ask first
        changed = await consents.choose(ctx.uow, ctx.programme, ctx.member, "surveys", False,
                                        ctx.inbound.platform, ctx.now)
        return Outcome([reply("survey.opted_out" if changed else "survey.off_already")])
    if words:  # the usage for who they are: members are not shown staff verbs
        staff = await roles.can(ctx.uow, ctx.member.id, survey_staff.PERMISSION)
        return Outcome([reply("survey.usage_staff" if staff else "survey.usage")])
    if await surveys.opted_out(ctx.uow, ctx.member.id):
        return Outcome([reply("survey.off_now")])
    found = await responses.unfinished(ctx.uow, ctx.programme, ctx.member.id, ctx.now)
    if found is None:  # an invitation that was on its way when the survey closed
        late = await responses.unfinished(ctx.uow, ctx.programme, ctx.member.id, ctx.now,
                                          closed=True)
        if late is not None:
            return Outcome([reply("survey.closed_meanwhile",
                                  title=local(late.definition.title))])
        return Outcome([reply("survey.none_waiting")])
    return ask(ctx, found, intro=not found.answers)


def ask(ctx: Ctx, progress: Progress, intro: bool = False, said: tuple[Reply, ...] = (),
        picked: tuple[str, ...] = ()) -> Outcome:
    """The next question, or thanks when none is left."""
    q = progress.next
    if q is None:
        return Outcome([*said, reply("survey.finished")])
    rid = progress.response.id
    number = progress.position[0]
    fewest, most = progress.how_many
    counter = Text("survey.counter" if fewest == most else "survey.counter_up_to",
                   {"number": number, "total": most})
    rows = _answer_rows(rid, q, picked)
    if q.optional:
        rows.append((button("survey.skip", f"{SKIP}:{rid}:{q.code}"),))
    tail: list[Button] = []
    if number > 1:
        tail.append(button("survey.back", f"{BACK}:{rid}:{q.code}"))
    tail.append(button("survey.off", f"{OFF}:{rid}"))
    rows.append(tuple(tail))
    lead = [reply("survey.intro", title=local(progress.definition.title),
                  intro=local(progress.definition.intro))] if intro else []
    key = "survey.question_text" if q.kind == "text" else f"survey.question_{q.kind}"
    question = reply(key, *rows, progress=counter, text=local(q.text), most=q.max_length)
    # A free-text question takes typed digits as its answer, not as its buttons' numbers.
    return Outcome([*said, *lead, question], state=ANSWER,
                   data={"response": rid, "question": q.code, "picked": list(picked),
                         "kind": q.kind})


def _answer_rows(rid: int, q: Question, picked: tuple[str, ...]) -> list[tuple[Button, ...]]:
    if q.kind == "nps":
        return [tuple(_score(rid, q, n) for n in row) for row in NPS_ROWS]
    if q.kind == "rating":
        return [tuple(_score(rid, q, n) for n in SCALES["rating"])]
    if q.kind == "single":
        return [(Button(local(c.label), f"{PICK}:{rid}:{q.code}:{c.code}"),)
                for c in q.choices]
    if q.kind == "multiple":
        rows: list[tuple[Button, ...]] = [
            (button("survey.ticked" if c.code in picked else "survey.unticked",
                    f"{TICK}:{rid}:{q.code}:{c.code}", label=local(c.label)),)
            for c in q.choices]
        rows.append((button("survey.done", f"{DONE}:{rid}:{q.code}"),))
        return rows
    return []  # free text: typed


def _score(rid: int, q: Question, n: int) -> Button:
    """A score's button: typing the score presses it (on WeChat "10" is 10, not the
    tenth button)."""
    return value_button(Text("survey.score", {"score": n}), f"{PICK}:{rid}:{q.code}:{n}", n)


# ------------------------------------------------------------------ answers


def _parts(ctx: Ctx, count: int) -> list[str] | None:
    """The button's fields after its prefix: response, question, and maybe a value."""
    parts = (ctx.action or "").split(":")[1:]
    if len(parts) != count or not parts[0].isascii() or not parts[0].isdigit() \
            or len(parts[0]) > 18:
        return None
    return parts


async def _unfinished(ctx: Ctx, rid: int) -> Progress | None:
    """The member's own response, while it is not completed."""
    found = await responses.progress(ctx.uow, rid, ctx.member.id)
    return None if found is None or found.completed else found


def _on_screen(found: Progress, question: str) -> Progress | None:
    """The response as the question on screen shows it: the next one, or one answered
    before and asked again by Back (shown as if unanswered; the stored answer stays
    until a new one replaces it). None for a question not asked."""
    if found.next is not None and found.next.code == question:
        return found
    asked = [q.code for q in found.definition.asked(found.answers)]
    if question not in asked or question not in found.answers:
        return None
    return Progress(found.response, found.survey, found.definition,
                    {k: v for k, v in found.answers.items() if k != question})


def _picked(ctx: Ctx, rid: int, question: str) -> list[str]:
    """The ticks of the multiple-choice question on screen (none for another one)."""
    same = ctx.data.get("response") == rid and ctx.data.get("question") == question
    return list(ctx.data.get("picked", [])) if same else []


async def _record(ctx: Ctx, rid: int, question: str, value: Any) -> Outcome:
    try:
        done = await responses.answer(ctx.uow, ctx.programme, rid, ctx.member.id, question,
                                      value, ctx.now)
    except SurveyRefused as refused:
        return await _refused(ctx, rid, refused)
    if done.reward is not None:
        return Outcome([_thanks(ctx, done.reward)])
    return ask(ctx, done.progress)


def _thanks(ctx: Ctx, reward: responses.Reward) -> Reply:
    """Thanks and what it earned, in one message (a second one to the same chat would
    wait for Telegram's pace of about one a second)."""
    earned: list[Text] = []
    if reward.points:
        earned.append(Text("survey.reward_points", {"count": reward.points}))
    item = ctx.programme.reward(reward.coupon) if reward.coupon is not None else None
    if item is not None:
        earned.append(Text("survey.reward_coupon", {"reward": local(item.title)}))
    if reward.out_of_stock is not None:
        earned.append(Text("survey.reward_out_of_stock"))
    return reply("survey.thanks_earned", earned=earned) if earned else reply("survey.thanks")


async def _refused(ctx: Ctx, rid: int, refused: SurveyRefused) -> Outcome:
    """A button for an answer that no longer applies: say why, and show where they are."""
    if refused.code in ("invalid", "required", "not_asked"):
        found = await responses.progress(ctx.uow, rid, ctx.member.id)
        if found is not None and not found.completed:
            return ask(ctx, found, said=(reply(f"survey.refused.{refused.code}"),))
        if found is None:
            return Outcome([reply("error.button_expired")])
    return Outcome([reply(f"survey.refused.{refused.code}")])


@router.action(PICK)
async def pick(ctx: Ctx) -> Outcome:
    parts = _parts(ctx, 3)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    rid, question, raw = int(parts[0]), parts[1], parts[2]
    value: Any = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else raw
    return await _record(ctx, rid, question, value)


@router.action(SKIP)
async def skip(ctx: Ctx) -> Outcome:
    parts = _parts(ctx, 2)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    return await _record(ctx, int(parts[0]), parts[1], None)


@router.action(TICK)
async def tick(ctx: Ctx) -> Outcome:
    """A choice of a multiple-choice question ticked or unticked: nothing is saved until
    Done, so the same question comes back with its ticks."""
    parts = _parts(ctx, 3)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    rid, question, code = int(parts[0]), parts[1], parts[2]
    found = await _unfinished(ctx, rid)
    shown = _on_screen(found, question) if found is not None else None
    if shown is None:
        return Outcome([reply("error.button_expired")])
    found = shown
    picked = _picked(ctx, rid, question)
    picked = [p for p in picked if p != code] if code in picked else [*picked, code]
    return ask(ctx, found, picked=tuple(picked))


@router.action(DONE)
async def done(ctx: Ctx) -> Outcome:
    parts = _parts(ctx, 2)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    rid, question = int(parts[0]), parts[1]
    picked = _picked(ctx, rid, question)
    if not picked:
        found = await _unfinished(ctx, rid)
        shown = _on_screen(found, question) if found is not None else None
        if shown is None:
            return Outcome([reply("error.button_expired")])
        return ask(ctx, shown, said=(reply("survey.pick_one_or_more"),))
    return await _record(ctx, rid, question, picked)


@router.action(BACK)
async def back(ctx: Ctx) -> Outcome:
    """The question before this one, to answer again."""
    parts = _parts(ctx, 2)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    rid, question = int(parts[0]), parts[1]
    found = await _unfinished(ctx, rid)
    if found is None:
        return Outcome([reply("error.button_expired")])
    asked = [q.code for q in found.definition.asked(found.answers)]
    if question not in asked or asked.index(question) == 0:
        return ask(ctx, found)
    earlier = asked[asked.index(question) - 1]
    shown = _on_screen(found, earlier)
    if shown is None:
        return ask(ctx, found)
    previous = found.answers.get(earlier)
    picked = tuple(previous) if isinstance(previous, list) else ()
    asked_again = found.definition.question(earlier)
    said = reply("survey.change") if asked_again is None or picked else \
        reply("survey.change_was", answer=_given(asked_again, previous))
    return ask(ctx, shown, said=(said,), picked=picked)


def _given(q: Question, value: Any) -> Text | Local | str:
    """An answer as the member gave it, to show beside the question asked again (ticks
    show themselves)."""
    if value is None:
        return Text("survey.given_skipped")
    choice = next((c for c in q.choices if c.code == value), None)
    if choice is not None:
        return local(choice.label)
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


@router.action(OFF)
async def off(ctx: Ctx) -> Outcome:
    """"No more surveys" asks first: on WeChat and the console it is a number away from
    the answers, and it stops every survey."""
    parts = _parts(ctx, 1)
    if parts is None:
        return Outcome([reply("error.button_expired")])
    rid = parts[0]
    return Outcome([reply("survey.off_confirm", (button("survey.off_yes", f"{OFF_YES}:{rid}"),
                                                 button("survey.off_no", f"{OFF_NO}:{rid}")))],
                   state=ANSWER, data=ctx.data)


@router.action(OFF_YES)
async def off_yes(ctx: Ctx) -> Outcome:
    await consents.choose(ctx.uow, ctx.programme, ctx.member, "surveys", False,
                          ctx.inbound.platform, ctx.now)
    return Outcome([reply("survey.opted_out")])


@router.action(OFF_NO)
async def off_no(ctx: Ctx) -> Outcome:
    """Not stopped: the question they were at, again."""
    parts = _parts(ctx, 1)
    found = await _unfinished(ctx, int(parts[0])) if parts is not None else None
    if found is None:
        return Outcome([reply("survey.off_kept")])
    return ask(ctx, found, said=(reply("survey.off_kept"),))


def _typed_ticks(text: str, q: Question) -> set[str]:
    """Choices typed as their numbers, several at once ("2,3", "2 3", "2、3"); none
    unless every part names one."""
    parts = [p for p in re.split(r"[\s,，、;；]+", unicodedata.normalize("NFKC", text)) if p]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= 2 for p in parts):
        return set()
    numbers = {int(p) for p in parts}
    if not all(1 <= n <= len(q.choices) for n in numbers):
        return set()
    return {q.choices[n - 1].code for n in numbers}


@router.state(ANSWER)
async def typed(ctx: Ctx) -> Outcome:
    """While a question waits: its buttons (a typed number arrives as one), a free-text
    answer, or a question of buttons asked again."""
    rid, question = ctx.data.get("response"), ctx.data.get("question")
    # Where buttons are real, digits typed at a free-text question are its answer; where
    # they are numbered lines (WeChat, the console), a number presses its line, as the
    # question says.
    typing = ctx.inbound.action is None and ctx.data.get("kind") == "text" \
        and ctx.inbound.buttons
    if ctx.action is not None and not typing:  # one of the question's own buttons
        step = router.find_action(ctx.action)
        return await step(ctx) if step is not None else Outcome([reply("error.button_expired")])
    if not isinstance(rid, int) or not isinstance(question, str):
        return Outcome([reply("error.button_expired")])
    stored = await responses.progress(ctx.uow, rid, ctx.member.id)
    if stored is None or stored.completed:
        return Outcome([reply("survey.refused.finished")])
    q = stored.definition.question(question)
    # Asked again after words not understood: the question on screen, even one that
    # Back brought up (not the next one unanswered).
    found = _on_screen(stored, question) or stored
    if q is None:
        return Outcome([reply("error.button_expired")])
    if q.kind == "multiple":  # "2,3": both ticked; anything else keeps the ticks made
        ticked = _typed_ticks(ctx.text, q)
        picked = _picked(ctx, rid, question)
        if ticked:
            return ask(ctx, found, picked=tuple(
                c.code for c in q.choices if c.code in picked or c.code in ticked))
        return ask(ctx, found, said=(reply("survey.use_buttons"),), picked=tuple(picked))
    if q.kind != "text":
        return ask(ctx, found, said=(reply("survey.use_buttons"),))
    if q.optional and answers.skipping(ctx.text):
        return await _record(ctx, rid, question, None)
    if has_control(ctx.inbound.text):
        return ask(ctx, found, said=(reply("survey.text_control"),))
    text = clean_text(ctx.inbound.text)
    if not text:
        return ask(ctx, found, said=(reply("survey.text_empty"),))
    if len(text) > q.max_length:
        return ask(ctx, found, said=(reply("survey.text_too_long", most=q.max_length,
                                           got=len(text)),))
    return await _record(ctx, rid, question, text)
