"""/survey chart CODE [N]: the results as pictures, one PNG per question.

First the funnel (sent, opened, completed), its caption naming the survey; then each
question that counts something: a bar per choice, per rating 1-5, or per score 0-10
for NPS with detractors, passives and promoters in their colours. Free-text questions
have nothing to draw; the funnel's caption says where their answers are. N alone
sends question N's chart.

Everything drawn is translated before drawing (handlers.engine.charts draws words,
it does not translate them). The counting and the drawing run in the long read
(Ctx.read): before the message's batch, the drawing in a worker thread. Chinese
drawn where no CJK font is installed comes out as codes and numbers: the reply says
why, and what to install, rather than leave staff to wonder.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from domain.feedback import results, surveys
from domain.feedback.definitions import SCALES, Question
from domain.feedback.results import QuestionResult
from domain.storage.database import UnitOfWork
from handlers.engine import charts, i18n
from handlers.engine.charts import Bars, Fonts, Label
from handlers.engine.routing import Ctx, Outcome
from handlers.engine.types import Reply, Text, reply
from handlers.engine.words import local
from handlers.feedback.survey_results import percent

RED, AMBER, GREEN = "#d9534f", "#f0ad4e", "#5cb85c"
NPS_COLOURS = {**dict.fromkeys(range(7), RED), 7: AMBER, 8: AMBER, 9: GREEN, 10: GREEN}


async def show(ctx: Ctx, rest: list[str]) -> Outcome:
    if len(rest) not in (1, 2) or (len(rest) == 2 and not rest[1].isdecimal()):
        return Outcome([reply("survey.chart_usage")])
    survey = await surveys.by_code(ctx.uow, rest[0].lower()) if rest[0].isascii() else None
    if survey is None:
        return Outcome([reply("survey.unknown", code=rest[0][:32])])
    definition = surveys.definition(survey)
    questions = definition.questions
    only = int(rest[1]) if len(rest) == 2 else None
    if only is not None and not 1 <= only <= len(questions):
        return Outcome([reply("survey.chart_no_question", code=survey.code,
                              last=len(questions))])
    if only is not None and questions[only - 1].kind == "text":
        return Outcome([reply("survey.chart_text_question", code=survey.code, number=only)])
    drawn = [n for n, q in enumerate(questions, 1)
             if q.kind != "text" and only in (None, n)]
    locale = ctx.locale

    async def read(uow: UnitOfWork) -> tuple[results.Funnel, list[QuestionResult],
                                              list[bytes], bool]:
        found = await results.of(uow, survey)
        wanted = [] if only is not None else [funnel(found.funnel, locale)]
        wanted += [question(n, questions[n - 1], found.questions[n - 1], locale)
                   for n in drawn]
        made = await charts.draw_all(wanted)
        return found.funnel, found.questions, made.images, no_cjk_font(wanted, made.fonts)

    key = f"survey:charts:{survey.code}:{locale}:{only or 'all'}"
    figures, answers, images, fonts_missing = await ctx.read(key, read)
    note: Text | str = Text("survey.chart_no_cjk_font") if fonts_missing else ""
    if only is not None:
        return Outcome([_caption(only, questions[only - 1], answers[only - 1], images[0],
                                 note)])
    texts = [n for n, q in enumerate(questions, 1) if q.kind == "text"]
    head = Reply("survey.chart_funnel", {
        "code": survey.code, "title": local(definition.title), "sent": figures.sent,
        "opened": figures.opened, "completed": figures.completed,
        "texts": Text("survey.chart_texts", {
            "numbers": ", ".join(map(str, texts)), "code": survey.code}) if texts else "",
        "fonts": note}, image=images[0])
    return Outcome([head, *(_caption(n, questions[n - 1], answers[n - 1], image)
                            for n, image in zip(drawn, images[1:], strict=True))])


def _caption(number: int, q: Question, r: QuestionResult, image: bytes,
             note: Text | str = "") -> Reply:
    return Reply("survey.chart_question", {"number": number, "text": local(q.text),
                                           "answered": r.answered, "fonts": note},
                 image=image)


def no_cjk_font(drawn: Sequence[Bars], fonts: Fonts) -> bool:
    """Whether Chinese (or other CJK) words in these charts were drawn as their codes
    because no CJK font is installed here: not for an emoji or a rare character that
    a CJK font here lacks."""
    if fonts.chinese:
        return False
    labels = [label for chart in drawn for label in (
        chart.title, *chart.labels, *(meaning for _, meaning in chart.legend),
        *((chart.axis,) if chart.axis is not None else ()))]
    return any(fonts.shows(label) != label.text and any(map(_cjk, label.text))
               for label in labels)


def _cjk(c: str) -> bool:
    return unicodedata.name(c, "").startswith(
        ("CJK", "IDEOGRAPHIC", "FULLWIDTH", "HIRAGANA", "KATAKANA", "HANGUL"))


def _say(key: str, locale: str, **params: object) -> str:
    return i18n.translate(Text(key, params), locale)


def funnel(figures: results.Funnel, locale: str) -> Bars:
    steps = (("sent", figures.sent), ("opened", figures.opened),
             ("completed", figures.completed))
    return Bars(
        title=Label(_say("survey.chart_funnel_title", locale), "sent / opened / completed"),
        labels=tuple(Label(_say(f"survey.chart_{step}", locale), step) for step, _ in steps),
        values=tuple(n for _, n in steps),
        notes=tuple(f"{n} ({percent(n, figures.sent)}%)" for _, n in steps),
        horizontal=True)


def _plain(english: str, otherwise: str = "") -> str:
    """What a chart without a CJK font shows instead of Chinese: the English wording
    where every font draws it (a survey made in chat has choice codes c1, c2 ...), else
    `otherwise`."""
    drawable = english.isascii() and english.isprintable() and len(english) <= 60
    return english if drawable else otherwise


def question(number: int, q: Question, r: QuestionResult, locale: str) -> Bars:
    """Question `number`'s bars: its scale's scores, or its choices in their order."""
    text = i18n.translate(local(q.text), locale)
    if q.kind in SCALES:
        scores = list(SCALES[q.kind])
        values = tuple(r.counts.get(s, 0) for s in scores)
        tenths = r.average_tenths
        average = "-" if tenths is None else f"{tenths // 10}.{tenths % 10}"
        if q.kind == "nps":
            nps = "-" if r.nps is None else f"{r.nps:+d}"
            summary = _say("survey.chart_nps_summary", locale, nps=nps, n=r.answered)
            plain = f"Q{number}  NPS {nps}  n={r.answered}"
            colours = tuple(NPS_COLOURS[s] for s in scores)
            legend = tuple((colour, Label(_say(f"survey.chart_{group}", locale), span))
                           for colour, group, span in ((RED, "detractors", "0-6"),
                                                       (AMBER, "passives", "7-8"),
                                                       (GREEN, "promoters", "9-10")))
            notes = tuple(str(v) for v in values)
        else:
            summary = _say("survey.chart_rating_summary", locale, average=average,
                           n=r.answered)
            plain = f"Q{number}  avg {average}  n={r.answered}"
            colours, legend = (), ()
            notes = tuple(f"{v} ({percent(v, r.answered)}%)" for v in values)
        return Bars(title=Label(f"{number}. {text}\n{summary}", plain),
                    labels=tuple(Label(str(s), str(s)) for s in scores), values=values,
                    notes=notes, colours=colours, legend=legend,
                    axis=Label(_say("survey.chart_score", locale), "score"))
    values = tuple(r.counts.get(c.code, 0) for c in q.choices)
    key = "survey.chart_multiple_summary" if q.kind == "multiple" else \
        "survey.chart_choice_summary"
    return Bars(
        title=Label(f"{number}. {text}\n{_say(key, locale, n=r.answered)}",
                    "  ".join(filter(None, (f"Q{number}", _plain(q.text.en),
                                            f"n={r.answered}")))),
        labels=tuple(Label(i18n.translate(local(c.label), locale), _plain(c.label.en, c.code))
                     for c in q.choices),
        values=values,
        notes=tuple(f"{v} ({percent(v, r.answered)}%)" for v in values),
        horizontal=True)

