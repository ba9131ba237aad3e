"""/survey results CODE: the funnel, then each question as staff read it: shares of
each answer, the average of a rating, NPS overall and by tier, the latest free-text
answers. Percentages are whole numbers, rounded from integers."""

from __future__ import annotations

from domain.feedback import results, surveys
from domain.feedback.definitions import SCALES, Question
from domain.feedback.results import QuestionResult
from domain.storage.database import UnitOfWork
from handlers.engine.routing import Ctx, Outcome
from handlers.engine.types import Text, reply
from handlers.engine.words import local, tier_called


def percent(part: int, whole: int) -> int:
    return 0 if not whole else (200 * part + whole) // (2 * whole)


async def show(ctx: Ctx, rest: list[str]) -> Outcome:
    if len(rest) != 1:
        return Outcome([reply("survey.results_usage")])
    survey = await surveys.by_code(ctx.uow, rest[0].lower()) if rest[0].isascii() else None
    if survey is None:
        return Outcome([reply("survey.unknown", code=rest[0][:32])])

    async def read(uow: UnitOfWork) -> results.Results:  # counts over every response
        return await results.of(uow, survey)

    found = await ctx.read(f"survey:results:{survey.code}", read)
    funnel = found.funnel
    lines = [_question(ctx, n, q, r) for n, (q, r) in enumerate(
        zip(found.definition.questions, found.questions, strict=True), 1)]
    return Outcome([reply(
        "survey.results", code=survey.code, title=local(found.definition.title),
        sent=funnel.sent, opened=funnel.opened,
        opened_pct=percent(funnel.opened, funnel.sent), completed=funnel.completed,
        completed_pct=percent(funnel.completed, funnel.sent), questions=lines)])


def _question(ctx: Ctx, number: int, q: Question, r: QuestionResult) -> Text:
    head = {"number": number, "text": local(q.text), "count": r.answered,
            "skipped": Text("survey.results_skipped", {"skipped": r.skipped})
            if r.skipped else ""}
    if q.kind == "text":
        latest = [Text("survey.results_quote", {"text": t}) for t in r.texts]
        return Text("survey.results_text", {**head, "latest": latest})
    if q.kind in SCALES:
        shares = "  ".join(f"{score}: {percent(r.counts.get(score, 0), r.answered)}%"
                           for score in SCALES[q.kind])
        tenths = r.average_tenths
        average = "—" if tenths is None else f"{tenths // 10}.{tenths % 10}"
        if q.kind == "rating":
            return Text("survey.results_rating", {**head, "average": average,
                                                   "shares": shares})
        tiers = [Text("survey.results_tier", {
            "tier": tier_called(ctx.programme.tiers, tier) if tier else
            Text("survey.results_no_tier"), "nps": f"{score:+d}"})
            for tier, score in sorted(r.nps_by_tier.items(), key=lambda kv: (
                -ctx.programme.tiers.rank(kv[0]) if kv[0] else 1))]
        nps = r.nps
        return Text("survey.results_nps", {
            **head, "nps": "—" if nps is None else f"{nps:+d}", "average": average,
            "shares": shares, "tiers": tiers})
    choices = [Text("survey.results_choice", {
        "label": local(c.label), "n": r.counts.get(c.code, 0),
        "pct": percent(r.counts.get(c.code, 0), r.answered)}) for c in q.choices]
    return Text("survey.results_choices", {**head, "choices": choices})
