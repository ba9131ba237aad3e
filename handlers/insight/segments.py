"""/segments: the members who bought, by RFM segment (counts, share of revenue, a
chart), and churn risk: who is at risk, how many of them a win-back coupon reached,
and how well the score foretold churn when it is worked out as of a past day.

All from one read of the members and the purchases (domain/insight/churn.py `report`),
done in the long read (Ctx.read). Operators and up. The same segments and risk are
campaign filters, from the nightly scores (domain/insight/scores.py), which also work
out the look back: it reads every purchase again, seconds on a large programme, so it
is worked out here only for a programme small enough to wait for, until the first
night's scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain.insight import churn, rfm, scores
from domain.insight.churn import Report
from domain.storage.database import UnitOfWork
from handlers.engine import charts, i18n
from handlers.engine.charts import Bars, Label
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text
from handlers.engine.words import clock, number
from handlers.insight.words import percent
from handlers.staff.roles import denied

PERMISSION = "insight"
TOP = 10
LIVE_LOOK_BACK = 50_000  # members: up to here the look back is worked out as /segments asks
router = Router()


@dataclass(frozen=True)
class Found:
    report: Report
    scored_at: datetime | None  # when the nightly scoring worked out the look back


@router.command("segments", role="operator")
async def segments_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.arg.strip():
        return Outcome([Reply("segments.usage")])

    async def read(uow: UnitOfWork) -> Found:
        found = await churn.report(uow, ctx.programme, ctx.now, top=TOP, savable_only=True,
                                   evaluated=False)
        kept = await scores.last_look_back(uow)
        if kept is not None:
            return Found(replace(found, evaluation=kept[1]), kept[0])
        if found.risk.members <= LIVE_LOOK_BACK:
            return Found(replace(found, evaluation=await churn.evaluate(
                uow, ctx.programme, ctx.now)), None)
        return Found(found, None)

    answer = await ctx.read("segments", read)
    found = answer.report
    image = (await charts.draw_all([chart(found.rfm, ctx.locale)])).images[0]
    return Outcome([Reply("segments.rfm", {
        "buyers": found.rfm.members, "lines": rfm_lines(found.rfm)}, image=image),
        Reply("segments.risk", {
            "at_risk": found.risk.at_risk, "members": found.risk.members,
            "threshold": found.risk.threshold, "reached": found.risk.reached,
            "top": risk_lines(found) or Text("segments.nobody_at_risk"),
            "look_back": look_back(ctx, answer)})])


def rfm_lines(figures: rfm.Rfm) -> list[Text]:
    return [Text("segments.rfm_line", {
        "name": Text(f"rfm.{code}"), "members": figures.segment(code).members,
        "share": percent(figures.share_of_members(code)),
        "revenue": percent(figures.share_of_revenue(code))}) for code in rfm.SEGMENTS]


def chart(figures: rfm.Rfm, locale: str) -> Bars:
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


def risk_lines(found: Report) -> list[Text]:
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


def look_back(ctx: Ctx, answer: Found) -> Text:
    judged = answer.report.evaluation
    if judged is None:
        return Text("segments.look_back_pending")
    zone = ctx.programme.zone
    if not judged.members:
        return Text("segments.look_back_none")
    kept = answer.scored_at
    return Text("segments.look_back", {
        "when": Text("segments.look_back_kept", {"when": clock(kept, zone)})
        if kept is not None else "",
        "as_of": judged.as_of.astimezone(zone).date(),
        "until": judged.until.astimezone(zone).date(),
        "members": judged.members, "flagged": judged.flagged, "churned": judged.churned,
        "hits": judged.true_positives, "precision": percent(judged.precision),
        "recall": percent(judged.recall)})
