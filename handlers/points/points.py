"""/points: the balance, a statement that says why each movement happened, and
when the next points expire (day by day when that is soon). Older pages edit the
same message instead of adding new ones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from domain.points import ledger
from handlers.engine import i18n
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Local, Reply, Text, button, reply
from handlers.engine.words import local, signed
from handlers.points.earning_words import programme_names, tier_bonus_params

router = Router()
PAGE = 5
# Far enough to see any expiry: the longest policy (120 months) with room to spare.
FOREVER_DAYS = 100 * 366


@router.command("points")
async def points(ctx: Ctx) -> Outcome:
    return Outcome([await _statement(ctx, page=1)])


@router.action("points:page")
async def page(ctx: Ctx) -> Outcome:
    raw = (ctx.action or "").rsplit(":", 1)[-1]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10_000:
        return Outcome([reply("error.button_expired")])
    return Outcome([await _statement(ctx, page=int(raw), edit=True)])


async def _statement(ctx: Ctx, page: int, edit: bool = False) -> Reply:
    member_id = ctx.member.id
    balance = await ledger.settle(ctx.uow, ctx.member, ctx.now)  # expired points first
    entries, total = await ledger.page(ctx.uow, member_id, PAGE, offset=(page - 1) * PAGE)
    pages = max(1, -(-total // PAGE))
    if page > pages:  # an old "Older" button after entries expired, or a forged one
        page = pages
        entries, total = await ledger.page(ctx.uow, member_id, PAGE, offset=(page - 1) * PAGE)
    lines: list[Text] = [_line(ctx, e) for e in entries] or [Text("points.no_movements")]
    nav = []
    if page > 1:
        nav.append(button("points.newer", f"points:page:{page - 1}"))
    if page * PAGE < total:
        nav.append(button("points.older", f"points:page:{page + 1}"))
    params = {"balance": balance, "lines": lines, "page": page, "pages": pages}
    rows = (tuple(nav),) if nav else ()
    expiry = await _expiry(ctx)
    if expiry is not None:
        return Reply("points.statement_expiring", {**params, "expiry": expiry}, rows, edit=edit)
    return Reply("points.statement", params, rows, edit=edit)


async def expiring_days(ctx: Ctx) -> list[tuple[date, int]]:
    """Points still to expire, summed per day in the member's zone, soonest first: with
    rolling expiry every check-in expires at its own moment, but members think in days."""
    if not ledger.may_expire_within(ctx.member, ctx.now, FOREVER_DAYS):
        return []  # nothing can expire: no need to replay the ledger
    by_day: dict[date, int] = {}
    for lot in await ledger.expiring_soon(ctx.uow, ctx.member.id, ctx.now, FOREVER_DAYS):
        day = ctx.local(lot.on).date()
        by_day[day] = by_day.get(day, 0) + lot.points
    return sorted(by_day.items())


async def next_expiry(ctx: Ctx) -> tuple[date, int] | None:
    """The next day points expire and how many, however far off."""
    days = await expiring_days(ctx)
    return days[0] if days else None


async def _expiry(ctx: Ctx) -> Text | list[Text] | None:
    """Points expiring within the reminder window, day by day; else the next expiry,
    however far off; None when nothing will expire."""
    days = await expiring_days(ctx)
    if not days:
        return None
    horizon = ctx.local(ctx.now + timedelta(days=ctx.programme.expiry.remind_days)).date()
    soon = [(day, points) for day, points in days if day <= horizon]
    if soon:
        return [Text("points.expiring_soon"),
                *(Text("points.expiring_line", {"points": points, "date": day})
                  for day, points in soon)]
    day, points = days[0]
    return Text("points.next_expiry", {"count": points, "date": day})


def _line(ctx: Ctx, entry: Any) -> Text:  # a ledger row (ledger.page)
    return Text("points.line", {"date": ctx.local(entry.created_at).date(),
                                "delta": signed(entry.delta), "reason": reason(ctx, entry)})


def reason(ctx: Ctx, entry: Any) -> Text:
    """Why a ledger row moved points, in the member's words (the statement's and their
    data export's)."""
    reason_key = f"reason.{entry.reason}"
    note = (entry.params or {}).get("note") if entry.reason == "adjusted" else None
    if isinstance(note, str) and note:  # staff's words to the member (/award)
        return Text("reason.adjusted_note", {"note": note})
    if not i18n.has(reason_key):
        return Text("reason.other", {"code": entry.reason})
    return Text(reason_key, _reason_params(ctx, entry))


def _survey_title(ctx: Ctx, params: dict) -> Local | str:
    """The title kept with the entry; for entries kept before titles were, the file's
    title, else the code."""
    title = params.get("title")
    if isinstance(title, dict) and all(isinstance(v, str) for v in title.values()):
        return Local({k: v[:120] for k, v in title.items()})
    code = str(params.get("survey", ""))[:32]
    survey = next((s for s in ctx.programme.surveys if s.code == code), None)
    return local(survey.title) if survey is not None else code


def _reason_params(ctx: Ctx, entry: Any) -> dict:
    params = dict(entry.params or {})
    if entry.reason == "checkin":
        params = {"count": int(params.get("streak", 1))}
    elif entry.reason in ("redeemed", "promotion", "category_bonus", "sku_bonus"):
        params = programme_names(ctx.programme, params)  # the programme's own wording
    elif entry.reason == "survey_completed":
        params = {"survey": _survey_title(ctx, params)}
    elif entry.reason == "tier_bonus":
        params = tier_bonus_params(params)
    elif entry.reason == "expired":
        earned = datetime.fromisoformat(str(params.get("earned_at")))
        params = {"earned_on": ctx.local(earned).date()}
    return params
