"""/report on|off: the weekly report of the programme's figures, for operators and up;
and how the report reads when it is sent (`render_report`): the three changes that
count most in plain words, the week's figures worded as /stats words them, and the
main chart of /stats (new members and revenue) over the week's days.

The job (domain/insight/report.py) queues the notice with the figures as numbers; the
words and the chart are made when it is sent, in the reader's language. A plain
rendering of the notice (handlers/notices render_notice) only names the week and the
/stats that shows it: the notifier calls `render_report` for notices keyed KEY.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from domain.config import Programme
from domain.insight import report
from domain.insight.report import Change, Week
from handlers.engine import charts
from handlers.engine.chart_kinds import Chart
from handlers.engine.render import render
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Money, Rendered, Reply, Text, reply
from handlers.engine.words import tier_called
from handlers.insight import stats_charts, stats_lines
from handlers.insight.words import percent, period_words
from handlers.staff import audit as audit_words
from handlers.staff.roles import denied

KEY = report.KEY
PERMISSION = report.PERMISSION
ON = ("on", "开", "开启", "订阅")
OFF = ("off", "关", "关闭", "退订")
DRAWN_KEPT = 8  # charts kept drawn: the same week's chart goes to every reader
router = Router()
_drawn: dict[Chart, bytes] = {}


@router.command("report", role="operator")
async def report_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    word = unicodedata.normalize("NFKC", ctx.arg).strip().lower()
    when = schedule(ctx)
    if word in ON:
        started = await report.subscribe(ctx.uow, ctx.member.id, ctx.now)
        return Outcome([Reply("report.on" if started else "report.reading", when)])
    if word in OFF:
        stopped = await report.unsubscribe(ctx.uow, ctx.member.id)
        return Outcome([Reply("report.off" if stopped else "report.not_reading", when)])
    if word:
        return Outcome([reply("report.usage")])
    reading = await report.reads(ctx.uow, ctx.member.id)
    return Outcome([Reply("report.reading" if reading else "report.not_reading", when)])


def schedule(ctx: Ctx) -> dict[str, Any]:
    """When it goes out: "Monday", "09:00", "Asia/Shanghai, UTC+8"."""
    rules = ctx.programme.insight
    return {"weekday": Text(f"report.weekday.{rules.report_weekday}"),
            "time": f"{rules.report_hour:02d}:00",
            "zone": audit_words.zone(ctx)}


# The report as sent


async def render_report(params: Mapping[str, Any], locale: str,
                        programme: Programme) -> Rendered:
    """The notice in `locale`, with the main chart."""
    week = Week.read(params)
    return render(await report_reply(week, locale, programme), locale)


async def report_reply(week: Week, locale: str, programme: Programme) -> Reply:
    this, last = week.this, week.last
    return Reply("report.figures", {
        "period": period_words(None, this.period), "before": period_words(None, last.period),
        "changes": [change_line(c, programme) for c in week.changes]
        or Text("report.no_changes"),
        "members": stats_lines.member_lines(programme, this, last),
        "sales": stats_lines.sales_lines(programme, this, last),
        "points": stats_lines.points_lines(programme, this, last),
        "engagement": stats_lines.engagement_lines(this, last)},
        image=await main_chart(week, locale, programme))


def change_line(change: Change, programme: Programme) -> Text:
    """'Redemption rate fell from 41% to 28%'; 'Gold: 12 more members are "Champions"'."""
    if change.code == report.SEGMENT:
        moved = abs(int(change.now - change.was))
        return Text("report.segment_rose" if change.rose else "report.segment_fell", {
            "tier": tier_called(programme.tiers, change.tier) if change.tier
            else Text("report.no_tier"),
            "segment": Text(f"rfm.{change.segment}"), "moved": moved,
            "was": int(change.was), "now": int(change.now)})
    return Text("report.rose" if change.rose else "report.fell", {
        "name": Text(f"stats.name.{change.code}"),
        "was": _value(change, change.was, programme),
        "now": _value(change, change.now, programme)})


def _value(change: Change, value: Any, programme: Programme) -> object:
    if change.kind == report.RATE:
        return percent(value)
    if change.kind == report.MONEY:
        return Money(int(value), programme.currency)
    return int(value)


async def main_chart(week: Week, locale: str, programme: Programme) -> bytes:
    """/stats' first chart over the week's days; drawn once a week and language, not
    once a reader."""
    chart = stats_charts.build(programme, week.this, week.daily, locale)[0]
    image = _drawn.get(chart)
    if image is None:
        image = (await charts.draw_all([chart])).images[0]
        while len(_drawn) >= DRAWN_KEPT:
            del _drawn[next(iter(_drawn))]
        _drawn[chart] = image
    return image
