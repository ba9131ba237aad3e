"""Staff's side of the support inbox, in a private chat (or a member's topic in the
staff chat, which the Telegram adapter turns into /reply and /close for that
conversation): /tickets lists open conversations as #N, higher tiers first and
marked, then the oldest; /tickets N shows one (a photo as a "[photo]" line; the staff
chat shows the photo itself) and tells the member it was read; /reply N TEXT answers,
a photo sent with it (its caption the text) going to the member too; /close N
closes. /setsupport, typed in a Telegram forum supergroup, makes it the staff chat
(the adapter checks first that the group has topics and the bot may manage them);
/setsupport off, typed anywhere, leaves the platform without one, and staff answer
with /tickets and /reply. Members are named by number only."""

from __future__ import annotations

from domain.errors import Refused
from domain.members.members import member_number
from domain.support import conversations as support
from domain.support import staff_chat
from domain.support.tables import SupportMessage
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Text, reply
from handlers.engine.words import clock, tier_called
from handlers.staff.roles import denied, member_arg
from handlers.support.inbox import picture_of, refusal

router = Router()
PERMISSION = "support"


@router.command("tickets", role="staff")
async def tickets(ctx: Ctx) -> Outcome:
    refused = await denied(ctx, PERMISSION)
    if refused is not None:
        return refused
    if ctx.arg:
        cid = member_arg(ctx.arg)
        if cid is None:
            return Outcome([reply("support.refused.unknown", number=ctx.arg[:20])])
        return await _show(ctx, cid)
    waiting = await support.queue(ctx.uow)
    if not waiting:
        return Outcome([reply("support.tickets.empty")])
    lines = [Text("support.tickets.line", {
        "conversation": w.conversation.id, "member": w.member_number,
        "tier": tier_called(ctx.programme.tiers, w.tier or ""),
        "mark": Text("support.tickets.priority") if w.conversation.priority else "",
        "status": Text(f"support.status.{w.conversation.status}"),
        "since": clock(w.conversation.waiting_since or w.conversation.updated_at, ctx.zone),
        "text": (w.last_text or "")[:80].replace("\n", " ")}) for w in waiting]
    return Outcome([reply("support.tickets.list", lines=lines)])


async def _show(ctx: Ctx, cid: int) -> Outcome:
    conv = await support.get(ctx.uow, cid)
    if conv is None:
        return Outcome([reply("support.refused.unknown", number=f"#{cid}")])
    history = await support.history(ctx.uow, cid)
    lines = [Text(f"support.ticket.{m.direction}",
                  {"at": clock(m.created_at, ctx.zone), "text": _with_photo(m)})
             for m in history]
    if conv.status != support.CLOSED:
        await support.mark_read(ctx.uow, ctx.member.id, cid, ctx.now)
    return Outcome([reply("support.ticket.show", conversation=cid,
                          member=member_number(conv.member_id),
                          status=Text(f"support.status.{conv.status}"),
                          lines=lines or [Text("support.ticket.nothing")])])


def _with_photo(message: SupportMessage) -> Text | str:
    """A message's text, marked "[photo]" when a photo came with it."""
    if message.picture_ref is None:
        return message.text
    return Text("support.ticket.photo", {"text": message.text})


@router.command("reply", role="staff")
async def reply_command(ctx: Ctx) -> Outcome:
    refused = await denied(ctx, PERMISSION)
    if refused is not None:
        return refused
    head, _, text = ctx.arg.partition(" ")
    cid = member_arg(head)
    picture = picture_of(ctx.inbound)
    if cid is None or not (text.strip() or picture):
        return Outcome([reply("support.reply_usage")])
    try:
        await support.reply(ctx.uow, ctx.programme, ctx.member.id, cid, text, ctx.now,
                            from_staff_chat=ctx.in_group, picture=picture)
    except Refused as refused_:
        return Outcome([refusal(refused_)])
    return Outcome([reply("support.replied", conversation=cid)])


@router.command("close", role="staff")
async def close_command(ctx: Ctx) -> Outcome:
    refused = await denied(ctx, PERMISSION)
    if refused is not None:
        return refused
    cid = member_arg(ctx.arg)
    if cid is None:
        return Outcome([reply("support.close_usage")])
    try:
        closed = await support.close(ctx.uow, ctx.programme, ctx.member.id, cid, ctx.now,
                                     by_staff=True)
    except Refused as refused_:
        return Outcome([refusal(refused_)])
    asked = closed.rating is not None  # no rating without the survey, or once opted out
    return Outcome([reply("support.closed_staff" if asked else "support.closed_staff_told",
                          conversation=cid)])


OFF = ("off", "关闭", "关")


@router.command("setsupport", role="operator")
async def setsupport(ctx: Ctx) -> Outcome:
    """Typed in the supergroup that becomes the staff chat (the adapter lets it through
    only in a forum, where each member gets a topic, and the bot may manage topics);
    `/setsupport off` anywhere unsets it."""
    refused = await denied(ctx, "support_chat")
    if refused is not None:
        return refused
    if ctx.arg.strip().lower() in OFF:
        unset = await staff_chat.unset_chat(ctx.uow, ctx.member.id, ctx.inbound.platform,
                                            ctx.now)
        return Outcome([reply("support.chat_unset" if unset else "support.chat_none")])
    if ctx.inbound.chat_kind != "supergroup":
        return Outcome([reply("support.chat_group_only")])
    changed = await staff_chat.set_chat(ctx.uow, ctx.member.id, ctx.inbound.platform,
                                        ctx.inbound.chat_id, ctx.now)
    return Outcome([reply("support.chat_set" if changed else "support.chat_already")])
