"""/points: the balance, a statement that says why each movement happened, and
what expires soon. Older pages edit the same message instead of adding new ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.points import ledger
from handlers.engine import i18n
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Reply, Text, button, reply
from handlers.engine.words import signed
from handlers.points.earning_words import programme_names

router = Router()
PAGE = 5


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
    days = ctx.programme.expiry.remind_days
    expiring = (await ledger.expiring_soon(ctx.uow, member_id, ctx.now, days)
                if ledger.may_expire_within(ctx.member, ctx.now, days) else [])
    lines: list[Text] = [_line(ctx, e) for e in entries] or [Text("points.no_movements")]
    soon = [Text("points.expiring_line", {"points": e.points, "date": ctx.local(e.on).date()})
            for e in expiring]
    nav = []
    if page > 1:
        nav.append(button("points.newer", f"points:page:{page - 1}"))
    if page * PAGE < total:
        nav.append(button("points.older", f"points:page:{page + 1}"))
    params = {"balance": balance, "lines": lines, "page": page, "pages": pages}
    if soon:
        return Reply("points.statement_expiring", {**params, "expiring": soon},
                     (tuple(nav),) if nav else (), edit=edit)
    return Reply("points.statement", params, (tuple(nav),) if nav else (), edit=edit)


def _line(ctx: Ctx, entry: Any) -> Text:  # a ledger row (ledger.page)
    reason_key = f"reason.{entry.reason}"
    if not i18n.has(reason_key):
        reason = Text("reason.other", {"code": entry.reason})
    else:
        reason = Text(reason_key, _reason_params(ctx, entry))
    return Text("points.line", {"date": ctx.local(entry.created_at).date(),
                                "delta": signed(entry.delta), "reason": reason})


def _reason_params(ctx: Ctx, entry: Any) -> dict:
    params = dict(entry.params or {})
    if entry.reason == "checkin":
        params = {"count": int(params.get("streak", 1))}
    elif entry.reason in ("redeemed", "promotion"):
        params = programme_names(ctx.programme, params)  # the programme's own wording
    elif entry.reason == "expired":
        earned = datetime.fromisoformat(str(params.get("earned_at")))
        params = {"earned_on": ctx.local(earned).date()}
    return params
