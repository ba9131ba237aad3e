"""The questions of /survey new, one per step: what each step asks, with its buttons.

The steps themselves are in survey_new.py; this module holds the flow's table of
states (drawn in survey_new.mmd) and builds each step's question from the draft so far,
so a step can ask its own question again, or the next step's.
"""

from __future__ import annotations

from typing import Any

from domain.feedback.definitions import MOST_CHOICES, MOST_QUESTIONS, SCALES, TEXT_LIMIT
from handlers.campaigns import offers
from handlers.campaigns.words import LANGUAGES
from handlers.engine.routing import Ctx, Flow, Outcome
from handlers.engine.types import Button, Local, Reply, Text, button, reply, value_button
from handlers.engine.words import local
from handlers.feedback import survey_new_words as words

CODE = "survey_new.code"
WORDS = "survey_new.words"
KIND = "survey_new.kind"
OPTIONAL = "survey_new.optional"
SHOW_IF = "survey_new.show_if"
MORE = "survey_new.more"
REWARD = "survey_new.reward"
COUPON = "survey_new.coupon"
CLOSES = "survey_new.closes"
CONFIRM = "survey_new.confirm"
FLOW = Flow.beside(__file__, "survey_new.mmd", CODE, WORDS, KIND, OPTIONAL, SHOW_IF, MORE,
                   REWARD, COUPON, CLOSES, CONFIRM)
KINDS = ("single", "multiple", "rating", "nps", "text")
LENGTHS = tuple(n for n in (100, 500, TEXT_LIMIT) if n <= TEXT_LIMIT)
POINTS = (0, 10, 20, 50)


def ask_words(data: dict, note: Reply | None = None) -> Outcome:
    """Ask the words being written in the next language they lack: the first plainly,
    the next with "same text for both" beside it."""
    field, written = data["field"], data.get("writing") or {}
    language = next(c for c in data["langs"] if c not in written)
    params: dict[str, Any] = {"language": LANGUAGES[language], "most": words.WORDS_MOST,
                              "number": len(data["questions"]) + 1}
    rows = [(button("survey_new.same_text", "snew:same"),)] if written else []
    if field == "labels":
        params["most"] = MOST_CHOICES
        if written:
            params["total"] = len(next(iter(written.values())))
            field = "labels_more"
    kind = (data.get("q") or {}).get("kind")
    if field == "text" and kind in SCALES:  # members see bare numbers: say what the ends mean
        params["example"] = Text(f"survey_new.scale_example.{kind}")
        field = "text_scored"
    said = [note] if note else []
    return Outcome([*said, reply(f"survey_new.ask_{field}", *rows, **params)], state=WORDS,
                   data=data)


def kind_menu(data: dict, note: Reply | None = None) -> Outcome:
    rows = [(button(f"survey_new.kind.{k}", f"snew:kind:{k}"),) for k in KINDS]
    said = [note] if note else []
    return Outcome([*said, reply("survey_new.ask_kind", *rows,
                                 number=len(data["questions"]) + 1, most=MOST_QUESTIONS)],
                   state=KIND, data={**data, "ask": None})


def length_menu(data: dict) -> Outcome:
    row = tuple(button("survey_new.length", f"snew:len:{n}", most=n) for n in LENGTHS)
    return Outcome([reply("survey_new.ask_length", row)], state=KIND,
                   data={**data, "ask": "length"})


def optional_menu(data: dict) -> Outcome:
    return Outcome([reply("survey_new.ask_optional",
                          (button("survey_new.optional_yes", "snew:opt:yes"),
                           button("survey_new.optional_no", "snew:opt:no")))],
                   state=OPTIONAL, data=data)


def targets(data: dict) -> list[dict]:
    """The earlier questions a show-if may point at: scored or chosen, unconditional."""
    return [q for q in data["questions"]
            if q["kind"] != "text" and q.get("show_if") is None]


def if_menu(data: dict, note: Reply | None = None) -> Outcome:
    rows = [(button("survey_new.if_always", "snew:if:none"),)]
    for q in targets(data):
        number = data["questions"].index(q) + 1
        rows.append((button("survey_new.if_question", f"snew:if:{q['code']}", number=number,
                            text=words.short(q["text"])),))
    said = [note] if note else []
    return Outcome([*said, reply("survey_new.ask_if", *rows)], state=SHOW_IF,
                   data={**data, "ask": None, "if": None})


def test_menu(data: dict) -> Outcome:
    """For a score question: ask when its answer is at most, or at least, a score."""
    return Outcome([reply("survey_new.ask_test",
                          (button("survey_new.test_most", "snew:test:at_most"),
                           button("survey_new.test_least", "snew:test:at_least")))],
                   state=SHOW_IF, data={**data, "ask": "test"})


def if_values(data: dict, test: str) -> Outcome:
    """The scores a score question's "at most/at least" may name: typing one presses it."""
    scale = list(SCALES[target(data)["kind"]])
    rows = [tuple(value_button(Text("survey.score", {"score": n}), f"snew:val:{n}", n)
                  for n in scale[i:i + 6]) for i in range(0, len(scale), 6)]
    return Outcome([reply(f"survey_new.ask_{test}", *rows)], state=SHOW_IF,
                   data={**data, "ask": test})


def if_ticks(data: dict, note: Reply | None = None) -> Outcome:
    picked = data.get("picked") or []
    rows: list[tuple[Button, ...]] = [
        (button("survey.ticked" if c["code"] in picked else "survey.unticked",
                f"snew:tick:{c['code']}", label=Local(c["label"])),)
        for c in target(data)["choices"]]
    rows.append((button("survey.done", "snew:ticked"),))
    said = [note] if note else []
    return Outcome([*said, reply("survey_new.ask_any", *rows)], state=SHOW_IF,
                   data={**data, "ask": "any", "picked": picked})


def target(data: dict) -> dict:
    return next(q for q in data["questions"] if q["code"] == data["if"])


def show_if_question(data: dict) -> Outcome:
    ask = data.get("ask")
    if ask == "any":
        return if_ticks(data)
    if ask in ("at_most", "at_least"):
        return if_values(data, ask)
    if ask == "test":
        return test_menu(data)
    return if_menu(data)


def add(data: dict, rule: dict | None = None) -> Outcome:
    """The question is done: kept with the others; another, or on to the reward."""
    question = {**data["q"], **({"show_if": rule} if rule else {})}
    questions = [*data["questions"], question]
    data = {k: v for k, v in data.items() if k not in ("q", "if", "picked", "test")}
    data = {**data, "questions": questions, "ask": None}
    return full(data) if len(questions) >= MOST_QUESTIONS else more_menu(data)


def full(data: dict) -> Outcome:
    """As many questions as a survey may have: say so, and on to the reward."""
    return reward_menu(data, note=reply("survey_new.questions_full", most=MOST_QUESTIONS))


def more_menu(data: dict) -> Outcome:
    return Outcome([reply("survey_new.ask_more",
                          (button("survey_new.more_add", "snew:more:add"),
                           button("survey_new.more_done", "snew:more:done")),
                          count=len(data["questions"]))], state=MORE, data=data)


def reward_menu(data: dict, note: Reply | None = None) -> Outcome:
    rows = [tuple(button("survey_new.points", f"snew:pts:{n}", points=n) for n in POINTS),
            (button("survey_new.points_typed", "snew:pts:typed"),)]
    said = [note] if note else []
    return Outcome([*said, reply("survey_new.ask_points", *rows)], state=REWARD,
                   data={**data, "ask": None})


async def coupon_menu(ctx: Ctx, data: dict, note: Reply | None = None) -> Outcome:
    """No coupon, or a reward the catalogue can give now; a line on those it cannot."""
    why = await offers.unavailable(ctx)
    rows = [(button("survey_new.no_coupon", "snew:coupon:none"),)]
    rows += [(Button(local(r.title), f"snew:coupon:{r.code}"),)
             for r in ctx.programme.catalogue() if why.get(r.code) is None]
    said = [note] if note else []
    return Outcome([*said, reply("survey_new.ask_coupon", *rows, left=offers.left_out(why))],
                   state=COUPON, data=data)


def closes_menu(data: dict) -> Outcome:
    return Outcome([reply("survey_new.ask_closes",
                          (button("survey_new.closes_never", "snew:closes:never"),
                           button("survey_new.closes_date", "snew:closes:date")))],
                   state=CLOSES, data={**data, "ask": None})
