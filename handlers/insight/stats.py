"""/stats [period]: the programme's figures against the period before, with charts;
/stats export [period]: the same figures as a CSV document.

A period is `today`, `7d`, `30d` (the default), `month`, `quarter` or two dates. The
figures are read in the long read (Ctx.read), from the roll-ups and what came after
them (domain/insight/kpis.py). Operators and up; every export is audited.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from domain.insight import cohorts, kpis, periods, rollups
from domain.insight.kpis import Figures
from domain.insight.periods import Period, PeriodRefused
from domain.staff import audit
from domain.storage.database import UnitOfWork
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, reply
from handlers.insight import stats_charts, stats_export
from handlers.insight import stats_lines as lines
from handlers.insight.words import (
    period_words,
)
from handlers.staff.roles import denied

PERMISSION = "insight"
DEFAULT = "30d"
DAY = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
# A span typed as one word: 2026-03-01~2026-03-31, 2026-03-01至2026-03-31.
SPAN = re.compile(r"[~～至到]|--")
# The periods and "export" as a Chinese keyboard types them.
CHINESE = {"今天": "today", "今日": "today", "7天": "7d", "七天": "7d", "近7天": "7d",
           "30天": "30d", "三十天": "30d", "近30天": "30d", "本月": "month", "这个月": "month",
           "本季度": "quarter", "本季": "quarter", "导出": "export"}
router = Router()
router.staff_line("command.stats.export", "/stats export", "operator")


@router.command("stats", role="operator")
async def stats_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    words = [CHINESE.get(w, w) for w in
             SPAN.sub(" ", unicodedata.normalize("NFKC", ctx.arg).lower()).split()]
    exporting = bool(words) and words[0] == "export"
    asked = words[1:] if exporting else words
    today = ctx.now.astimezone(ctx.programme.zone).date()
    try:
        name, period = read_period(asked, today)
    except PeriodRefused as refused:
        return Outcome([reply(f"stats.period_{refused.code}", longest=periods.LONGEST,
                              word=refused.word)])
    if period is None:
        return Outcome([reply("stats.usage")])

    async def read(uow: UnitOfWork) -> tuple[Figures, Figures, stats_charts.Daily,
                                              cohorts.Grid]:
        zone = ctx.programme.zone
        tail = await rollups.tail(uow, zone, await rollups.marks(uow))
        this = await kpis.figures(uow, ctx.programme, period, ctx.now, tail)
        last = await kpis.figures(uow, ctx.programme, period.before(), ctx.now, tail)
        return (this, last, await stats_charts.series(uow, period, tail),
                await cohorts.grid(uow, zone, today, tail))

    key = f"stats:{period.first}:{period.last}"
    this, last, over_time, grid = await ctx.read(key, read)
    if exporting:
        await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "stats.export",
                           f"{period.first}..{period.last}",
                           {"period": f"{period.first}..{period.last}", "locale": ctx.locale},
                           ctx.now)
        data = stats_export.csv_of(ctx.programme, this, last, ctx.locale)
        return Outcome([Reply("stats.exported", {"period": period_words(name, period)},
                              file=(f"stats-{period.first}-{period.last}.csv", data))])
    async def draw(_: UnitOfWork) -> list[bytes]:
        return await stats_charts.draw(ctx.programme, this, over_time, grid, ctx.locale)

    # Drawn as a long read is done: a member's message waits for no chart.
    images = await ctx.read(f"{key}:charts:{ctx.locale}", draw)
    text = Reply("stats.figures", {
        "period": period_words(name, period), "before": period_words(None, last.period),
        "members": lines.member_lines(ctx.programme, this, last),
        "sales": lines.sales_lines(ctx.programme, this, last),
        "points": lines.points_lines(ctx.programme, this, last),
        "engagement": lines.engagement_lines(this, last)}, image=images[0])
    return Outcome([text, *(Reply(f"stats.caption.{name}", {}, image=image)
                            for name, image in zip(("points", "tiers", "cohorts"), images[1:],
                                                   strict=True))])


def read_period(words: list[str], today: date) -> tuple[str | None, Period | None]:
    """The period asked for, with its name when it has one; (None, None) when the words
    are not a period at all."""
    if not words:
        return DEFAULT, periods.named(DEFAULT, today)
    if len(words) == 1 and periods.named(words[0], today) is not None:
        return words[0], periods.named(words[0], today)
    if len(words) in (1, 2):  # one day, or from one day to another
        days = [_day(word) for word in words]
        if all(day is not None for day in days):
            return None, periods.between(days[0], days[-1], today)  # type: ignore[arg-type]
    return None, None


def _day(word: str) -> date | None:
    """A day as typed; None when the word is no date at all, refused when it looks
    like one that does not exist (2026-02-30)."""
    found = DAY.fullmatch(word)
    if found is None:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        raise PeriodRefused("no_such_day", word=word[:20]) from None
