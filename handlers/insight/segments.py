"""/segments: the members who bought, by RFM segment (counts, share of revenue, a
chart), and churn risk: who is at risk, how many of them a win-back coupon reached,
and how well the score foretold churn when it is worked out as of a past day.

Working the figures out reads every member and what each spent (domain/insight/churn.py
`report`): half a second for 50,000 members, ten seconds for a million. So a programme
of up to LIVE members gets them worked out as it asks, in the long read (Ctx.read), with
the look back the nightly scoring kept (which reads every purchase again), or worked out
too until the first night. A larger one gets the figures the nightly scoring kept
(domain/insight/segment_reports.py), saying when they were worked out, or is told how to
have them worked out before the first night. Operators and up. The same segments and
risk are campaign filters, from the same nightly scores (domain/insight/scores.py).
"""

from __future__ import annotations

from domain.insight import rfm, segment_reports
from domain.insight.churn import Summary
from domain.insight.segment_reports import Shown
from domain.storage.database import UnitOfWork
from handlers.engine import charts, i18n
from handlers.engine.charts import Bars, Label
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text
from handlers.engine.words import clock, number
from handlers.insight.words import percent
from handlers.staff.roles import denied

PERMISSION = "insight"
TOP = segment_reports.TOP
router = Router()


@router.command("segments", role="operator")
async def segments_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.arg.strip():
        return Outcome([Reply("segments.usage")])

    async def read(uow: UnitOfWork) -> Shown:
        return await segment_reports.shown(uow, ctx.programme, ctx.now, top=TOP)

    answer = await ctx.read("segments", read)
    found = answer.figures
    if found is None:
        return Outcome([Reply("segments.pending")])
    kept = Text("segments.kept", {"when": clock(found.rfm.at, ctx.programme.zone)}) \
        if answer.kept else ""
    async def draw(_: UnitOfWork) -> bytes:
        return (await charts.draw_all([chart(found.rfm, ctx.locale)])).images[0]

    # Drawn as a long read is done: a member's message waits for no chart.
    image = await ctx.read(f"segments:chart:{ctx.locale}", draw)
    return Outcome([Reply("segments.rfm", {
        "buyers": found.rfm.members, "lines": rfm_lines(found.rfm), "kept": kept},
        image=image),
        Reply("segments.risk", {
            "at_risk": found.risk.at_risk, "members": found.risk.members,
            "threshold": found.risk.threshold, "reached": found.risk.reached,
            "top": risk_lines(found) or Text("segments.nobody_at_risk"), "kept": kept,
            "look_back": look_back(ctx, answer)})])


def rfm_lines(figures: rfm.Figures) -> list[Text]:
    return [Text("segments.rfm_line", {
        "name": Text(f"rfm.{code}"), "members": figures.segment(code).members,
        "share": percent(figures.share_of_members(code)),
        "revenue": percent(figures.share_of_revenue(code))}) for code in rfm.SEGMENTS]


def chart(figures: rfm.Figures, locale: str) -> Bars:
    def say(key: str, **params: object) -> Label:
        return Label(i18n.translate(Text(key, params), locale),
                     i18n.translate(Text(key, params), "en"))

    return Bars(
        title=say("segments.chart_title"),
        labels=tuple(say(f"rfm.{code}") for code in rfm.SEGMENTS),
        values=tuple(figures.segment(code).members for code in rfm.SEGMENTS),
        notes=tuple(i18n.translate(Text("segments.chart_note", {
            "members": figures.segment(code).members,
            "revenue": percent(figures.share_of_revenue(code))}), locale)
            for code in rfm.SEGMENTS),
        horizontal=True)


def risk_lines(found: Summary) -> list[Text]:
    lines = []
    for member in found.risk.top:
        if member.score < found.risk.threshold:  # the top of a calm programme is not at risk
            break
        usual = Text("segments.usual_gap", {"days": member.usual_gap_days}) \
            if member.usual_gap_days is not None else Text("segments.no_gap")
        lines.append(Text("segments.risk_line", {
            "number": number(member.member_id), "score": member.score,
            "idle": member.idle_days, "usual": usual,
            "winback": Text("segments.winback") if member.winback else ""}))
    return lines


def look_back(ctx: Ctx, answer: Shown) -> Text:
    judged = answer.figures.evaluation if answer.figures is not None else None
    if judged is None:
        return Text("segments.look_back_pending")
    zone = ctx.programme.zone
    if not judged.members:
        return Text("segments.look_back_none")
    kept = answer.looked_back_at
    return Text("segments.look_back", {  # kept figures say when in their headings
        "when": Text("segments.look_back_kept", {"when": clock(kept, zone)})
        if kept is not None and not answer.kept else "",
        "as_of": judged.as_of.astimezone(zone).date(),
        "until": judged.until.astimezone(zone).date(),
        "members": judged.members, "flagged": judged.flagged, "churned": judged.churned,
        "hits": judged.true_positives, "precision": percent(judged.precision),
        "recall": percent(judged.recall)})
