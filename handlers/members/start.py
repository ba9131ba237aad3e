"""/start: zero-friction sign-up (0元入会), the greeting and the home card.

`/start ref_CODE` (an invitation link) says whether the invitation counted; it never
stands in the way of joining. `/start link_CODE` links this account to a member.
"""

from __future__ import annotations

from domain.conversations import conversations
from domain.members import members
from domain.points import ledger
from handlers.community import groups
from handlers.community.joining import JOIN_PAYLOAD
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Text, reply
from handlers.engine.words import local, number
from handlers.members import home, link

router = Router()


@router.command("start")
async def start(ctx: Ctx) -> Outcome:
    if ctx.arg.startswith("link_"):
        return await link.use_code(ctx, ctx.arg[len("link_"):])
    member = ctx.member
    first = ctx.created or await _never_seen(ctx)
    programme = local(ctx.programme.name)
    head = [Text("start.first" if first else "start.back", {"programme": programme})]
    if ctx.arg.startswith("ref_"):
        head.append(await _invitation(ctx, ctx.arg[len("ref_"):]))
    if first and not members.profile_complete(member):
        head.append(Text("start.profile_nudge"))
    card = await home.card(ctx, head)
    if ctx.arg == JOIN_PAYLOAD:  # came from a declined request to join a member group
        return Outcome([card, *(await groups.groups(ctx)).replies])
    return Outcome([card])


async def _never_seen(ctx: Ctx) -> bool:
    """A member made before their first message (the owner, from the settings) is new
    to us all the same, until this account has talked with us; an account linked to a
    member with a history is not."""
    if await conversations.known(ctx.uow, ctx.inbound.platform, ctx.inbound.user_id):
        return False
    return not await ledger.count(ctx.uow, ctx.member.id)


async def _invitation(ctx: Ctx, code: str) -> Text:
    """Whether the invitation counted. It counts only for a member it brought in: the
    engine recorded the inviter when this message made the member."""
    member = ctx.member
    inviter = (await members.get(ctx.uow, member.referred_by_id)
               if member.referred_by_id is not None else None)
    if inviter is not None and (ctx.created or inviter.referral_code == code.strip().upper()):
        if inviter.display_name:
            return Text("start.invited_by", {"name": inviter.display_name})
        return Text("start.invited_by_number", {"number": number(inviter.id)})
    if ctx.created:
        return Text("start.invite_unknown")
    if code.strip().upper() == member.referral_code:
        return Text("start.invite_own")
    return Text("start.invite_member")


@router.action("start:later")
async def later(ctx: Ctx) -> Outcome:
    """Answers the "Later" of greetings sent before the home card."""
    return Outcome([reply("start.later_ok")])
