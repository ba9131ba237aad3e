"""/deleteme: a member asks to be erased (domain/privacy/erasure.py), confirming twice,
and then has `[privacy] cooling_off_days` to change their mind (/deleteme cancel). The
flow is drawn in deleteme.mmd beside this file.

The first answer says what goes (profile, accounts, the points and coupons left) and
what stays (their purchases and points history, under their member number alone); the
second is the last word. Staff are not erased this way: their roles go first.
"""

from __future__ import annotations

from domain.points import ledger
from domain.privacy import erasure
from domain.rewards import coupons
from domain.staff import roles
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import NO as NO_KIND
from handlers.engine.types import YES as YES_KIND
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import clock
from handlers.membership import premium

FIRST, LAST = "deleteme.first", "deleteme.last"
FLOW = Flow.beside(__file__, "deleteme.mmd", FIRST, LAST)
GO, YES, KEEP = "deleteme:go", "deleteme:yes", "deleteme:keep"
CANCELS = ("cancel", "取消")
router = Router(flows=[FLOW])


@router.command("deleteme")
async def deleteme(ctx: Ctx) -> Outcome:
    if ctx.arg.strip().lower() in CANCELS:
        if await erasure.cancel(ctx.uow, ctx.member.id):
            return Outcome([reply("deleteme.cancelled")])
        return Outcome([reply("deleteme.nothing_to_cancel")])
    if ctx.arg.strip():
        return Outcome([reply("deleteme.usage")])
    waiting = await erasure.pending(ctx.uow, ctx.member.id)
    if waiting is not None:
        return Outcome([reply("deleteme.already", when=clock(waiting.due_at, ctx.zone))])
    if await roles.held(ctx.uow, ctx.member.id):
        return Outcome([reply("deleteme.staff")])
    balance = await ledger.settle(ctx.uow, ctx.member, ctx.now)
    open_coupons = await coupons.open_count(ctx.uow, ctx.member.id, ctx.now)
    return Outcome([reply("deleteme.warn", (Button(Text("deleteme.go"), GO, YES_KIND),),
                          (_keep(),), points=balance,
                          coupons=open_coupons, days=ctx.programme.privacy.cooling_off_days)],
                   state=FIRST)


@router.state(FIRST)
async def first(ctx: Ctx) -> Outcome:
    if ctx.action == GO:
        return Outcome([reply("deleteme.last", (button("deleteme.yes", YES),), (_keep(),))],
                       state=LAST)
    return _kept_or_again(ctx, FIRST)


@router.state(LAST, reads_first=True)  # it may cancel a plan's renewal at the platform
async def last(ctx: Ctx) -> Outcome:
    if ctx.action != YES:
        return _kept_or_again(ctx, LAST)
    due = await erasure.ask(ctx.uow, ctx.programme, ctx.member.id, ctx.inbound.platform,
                            ctx.now)
    return Outcome([Reply("deleteme.scheduled", {"when": clock(due, ctx.zone)}, edit=True),
                    *await premium.stopped_for_erasure(ctx)])  # no renewal after erasure


def _keep() -> Button:
    """Keep my account: what a typed "no" (or "否") presses, at either question."""
    return Button(Text("deleteme.keep"), KEEP, NO_KIND)


def _kept_or_again(ctx: Ctx, state: str) -> Outcome:
    if ctx.action == KEEP:
        return Outcome([Reply("deleteme.kept", edit=True)])
    return Outcome([reply("deleteme.use_buttons")], state=state, data=ctx.data)


@router.action("deleteme")
async def stale(ctx: Ctx) -> Outcome:
    """A button of a question no longer asked (an older message's)."""
    return Outcome([reply("error.button_expired")])
