"""/award: staff give points to a member, or take some back, with a note that the
member is shown (see award.mmd beside this file).

`/award 00000042 100 sorry for the wait` gives 100 points; `/award 00000042 -50 order
entered twice` takes 50 back. The confirmation shows the member's balance before and
after; the ledger key is fixed when it is shown, so a double tap moves points once.
Operators and up; the role is checked again at the button; every award is audited.
"""

from __future__ import annotations

import re
import unicodedata

from domain.members import members
from domain.members.tables import Member
from domain.points import awards
from domain.points.awards import AwardRefused
from domain.staff import audit
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Reply, button, reply
from handlers.engine.words import number, signed
from handlers.staff.roles import denied, member_arg

CONFIRM = "award.confirm"
FLOW = Flow.beside(__file__, "award.mmd", CONFIRM)
router = Router(flows=[FLOW])
PERMISSION = "award"
POINTS = re.compile(r"[+-]?\d+")
LONGEST_NUMBER = 12  # digits read as a number; more are out of range whatever they say


@router.command("award", role="operator")
async def award_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    parts = unicodedata.normalize("NFKC", ctx.arg).split(maxsplit=2)
    if len(parts) < 2:
        return Outcome([reply("award.usage")])
    target = member_arg(parts[0])
    typed = parts[1].replace("−", "-")
    if target is None or not POINTS.fullmatch(typed):
        return Outcome([reply("award.usage")])
    # A number too long to read is out of range too: said as such, not as a misspelling.
    points = int(typed) if len(typed.lstrip("+-")) <= LONGEST_NUMBER else awards.MOST + 1
    try:
        note = awards.check(points, parts[2] if len(parts) == 3 else "")
    except AwardRefused as refused:
        return Outcome([_refused(refused)])
    member = await ctx.uow.session.get(Member, target)
    if member is None or member.status == "erased":
        return Outcome([reply("award.bad_member", number=number(target))])
    after = member.points_balance + points
    if after < 0:
        return Outcome([reply("award.refused_short", balance=member.points_balance)])
    code = members.new_code(10)
    shown = reply("award.confirm_give" if points > 0 else "award.confirm_take",
                  (button("award.yes", f"award:yes:{code}"), button("award.no", "award:no")),
                  points=abs(points), number=number(target), balance=member.points_balance,
                  after=after, note=note)
    return Outcome([shown], state=CONFIRM,
                   data={"member": target, "points": points, "note": note, "code": code})


def _refused(refused: AwardRefused) -> Reply:
    return reply(f"award.refused_{refused.code}", **refused.params)


@router.state(CONFIRM)
async def confirmed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.action == "award:no":
        return Outcome([Reply("award.cancelled", edit=True)])
    code = str(ctx.data.get("code", ""))
    if ctx.action != f"award:yes:{code}":
        return Outcome([reply("award.use_buttons")], state=CONFIRM, data=ctx.data)
    target, points = int(ctx.data["member"]), int(ctx.data["points"])
    note = str(ctx.data.get("note", ""))
    try:
        done = await awards.award(ctx.uow, ctx.programme, ctx.member.id, target, points, note,
                                  code, ctx.now)
    except AwardRefused as refused:
        return Outcome([_refused(refused)])
    if not done.duplicate:
        await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "points.award",
                           number(target), {"points": points, "note": note}, ctx.now)
    return Outcome([Reply("award.done", {"points": signed(points), "number": number(target),
                                         "balance": done.balance}, edit=True)])


@router.action("award:yes")
async def again(ctx: Ctx) -> Outcome:
    """Yes once the flow is over: pressed twice, or an older confirmation's."""
    code = (ctx.action or "").split(":")[2:3]
    if code and await awards.made(ctx.uow, code[0][:16]):
        return Outcome([reply("award.already")])
    return Outcome([reply("error.button_expired")])


@router.action("award:no")
async def late_no(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])
