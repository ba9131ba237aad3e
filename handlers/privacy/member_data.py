"""/member export|erase NUMBER: the owner acts on a member's request made elsewhere (by
mail, at the counter). Export sends the member's data to the owner (as /mydata does
for the member, not counting against their one a day); erase, once the owner confirms,
erases the member at once, with no cooling-off (domain/privacy/erasure.py). Both are
audited. The erase confirmation is drawn in member_data.mmd beside this file."""

from __future__ import annotations

import unicodedata

from domain.members.tables import Member
from domain.privacy import erasure, export
from domain.staff import audit, roles
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Reply, button, reply
from handlers.engine.words import number
from handlers.membership import premium
from handlers.privacy.mydata import delivered
from handlers.staff.roles import denied, member_arg

PERMISSION = "member_data"
CONFIRM = "member_data.confirm"
FLOW = Flow.beside(__file__, "member_data.mmd", CONFIRM)
YES, NO = "memberdata:erase", "memberdata:keep"
router = Router(flows=[FLOW])


@router.command("member", role="owner")
async def member_command(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    words = unicodedata.normalize("NFKC", ctx.arg).split()
    verb = words[0].lower() if words else ""
    target = member_arg(words[1]) if len(words) == 2 and verb in ("export", "erase") else None
    if target is None:
        return Outcome([reply("member_data.usage")])
    found = await ctx.uow.session.get(Member, target)
    if found is None:
        return Outcome([reply("member_data.unknown", number=number(target))])
    if found.status == "erased":  # the number stays, with nothing personal under it
        return Outcome([reply("member_data.gone", number=number(target))])
    if verb == "erase":
        if await roles.held(ctx.uow, target):
            return Outcome([reply("member_data.staff", number=number(target))])
        return Outcome([reply("member_data.confirm", (button("member_data.yes", YES),),
                              (button("member_data.no", NO),), number=number(target),
                              points=found.points_balance)],
                       state=CONFIRM, data={"member": target})
    if not ctx.inbound.documents and not ctx.public_url:
        return Outcome([reply("mydata.no_link")])
    await export.record(ctx.uow, target, ctx.inbound.platform, ctx.now, staff_id=ctx.member.id)
    await audit.record(ctx.uow, audit.member_actor(ctx.member.id), "privacy.export",
                       number(target), {}, ctx.now)
    return Outcome(await delivered(ctx, found, "member_data"))


@router.state(CONFIRM)
async def confirmed(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, PERMISSION)
    if refusal is not None:
        return refusal
    if ctx.action == NO:
        return Outcome([Reply("member_data.kept", edit=True)])
    if ctx.action != YES:
        return Outcome([reply("member_data.use_buttons")], state=CONFIRM, data=ctx.data)
    target = int(ctx.data["member"])
    renewal = await premium.stop_renewal(ctx, target)  # nothing charged once they are gone
    await erasure.ask(ctx.uow, ctx.programme, target, ctx.inbound.platform, ctx.now,
                      staff_id=ctx.member.id)
    done = await erasure.erase(ctx.uow, ctx.programme, target, ctx.now,
                               actor=audit.member_actor(ctx.member.id))
    if done is None:
        return Outcome([reply("member_data.unknown", number=number(target))])
    return Outcome([Reply("member_data.erased", {
        "number": number(target), "points": done.forfeited, "coupons": done.coupons},
        edit=True), *([reply("membership.erased_renewal_elsewhere", number=number(target))]
                      if renewal is False else [])])


@router.action("memberdata")
async def stale(ctx: Ctx) -> Outcome:
    return Outcome([reply("error.button_expired")])
