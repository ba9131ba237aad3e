"""/support for members: open a conversation with the business, then everything
typed goes to staff until it is closed (/support close, or the Close button); then a
1-5 rating. The conversation lives in the database (domain.support), so /support
after /cancel or a restart finds it again. Text and photos are carried: a photo
travels by its platform's reference (Inbound.picture, domain/support/pictures.py),
its caption as the text; anything else (a sticker, a voice note) is refused in our
words. The flow is drawn in inbox.mmd.

/cancel (or "stop" typed) leaves the writing, not the conversation: the member is
told it stays open for our answer, and how to write again or close it. When staff
close it, the member is asked for the rating in the notice saying so (its buttons);
a score typed back while still in the flow (WeChat shows those buttons as numbers)
answers it.
"""

from __future__ import annotations

from domain.errors import Refused
from domain.feedback.responses import LOW, SurveyRefused
from domain.support import conversations as support
from domain.support import ratings
from domain.support.conversations import SupportRefused
from domain.support.pictures import Picture
from handlers.engine import answers
from handlers.engine.routing import Ctx, Flow, Outcome, Router
from handlers.engine.types import Inbound, Reply, button, reply

CHATTING = "support.chatting"
FLOW = Flow.beside(__file__, "inbox.mmd", CHATTING)
router = Router(flows=[FLOW])
CLOSE, RATE = "spc", ratings.ACTION


def refusal(refused: Refused) -> Reply:
    """A refusal in our own words (the text's own never echoed back). Nothing to send
    (a sticker, a voice note, blank text) says what we carry: text and photos."""
    code = "text_or_photo" if refused.code == "empty" else refused.code
    return reply(f"support.refused.{code}", **refused.params)


def picture_of(inbound: Inbound) -> Picture | None:
    """The photo the member sent, as the domain keeps it (by reference)."""
    found = inbound.picture
    return None if found is None else Picture(found.platform, found.ref, found.size,
                                              found.url)


CLOSING = ("close", "end", "结束", "关闭")  # /support close: typed where buttons are not


@router.command("support")
async def support_command(ctx: Ctx) -> Outcome:
    """/support opens the member's conversation, or comes back to the open one (as the
    staff's answers say to); /support close, or the Close button, ends it."""
    if ctx.arg.strip().lower() in CLOSING:
        found = await support.current(ctx.uow, ctx.member.id)
        if found is None:
            return Outcome([reply("support.refused.none_open")])
        return await _close(ctx, found.id)
    opened = await support.open_(ctx.uow, ctx.programme, ctx.member, ctx.now)
    cid = opened.conversation.id
    # Where buttons are numbered lines, a number typed in the conversation is words for
    # staff, so Close is not offered as one: the text says to send /support close.
    rows = [(button("support.close", f"{CLOSE}:{cid}"),)] if ctx.inbound.buttons else []
    said = reply("support.opened" if opened.created else "support.resumed", *rows,
                 conversation=cid)
    return Outcome([said], state=CHATTING, data={"conversation": cid})


@router.state(CHATTING)
async def chatting(ctx: Ctx) -> Outcome:
    """What the member types goes to staff; a typed number is text too (only a real
    press of Close closes)."""
    if ctx.inbound.action is not None:
        return await close_button(ctx)
    try:
        await support.member_says(ctx.uow, ctx.programme, ctx.member, ctx.inbound.text,
                                  ctx.now, picture=picture_of(ctx.inbound))
    except Refused as refused:
        if refused.code == "none_open":  # staff closed it meanwhile
            return await _closed_meanwhile(ctx)
        return Outcome([refusal(refused)], state=CHATTING, data=ctx.data)
    return Outcome([reply("support.sent")], state=CHATTING, data=ctx.data)


async def _closed_meanwhile(ctx: Ctx) -> Outcome:
    """Staff closed the conversation, and their notice asked for a rating: a score
    typed now (1-5, as WeChat shows the notice's buttons) answers it; anything else
    is told the conversation is closed."""
    cid, score = ctx.data.get("conversation"), answers.number(ctx.text)
    if isinstance(cid, int) and score is not None and score in ratings.SCORES:
        rated = await _rate(ctx, cid, score)
        if rated is not None:
            return Outcome([rated])
    return Outcome([reply("support.refused.none_open")])


@router.on_cancel(CHATTING)
async def stop_writing(ctx: Ctx) -> Outcome:
    """/cancel or "stop" leaves the flow: what is typed next no longer reaches staff,
    but the conversation stays open and their answer still comes."""
    found = await support.current(ctx.uow, ctx.member.id)
    if found is None:
        return Outcome([reply("support.refused.none_open")])
    return Outcome([reply("support.left", conversation=found.id)])


@router.action(CLOSE)
async def close_button(ctx: Ctx) -> Outcome:
    cid = _number((ctx.action or "").split(":")[1:2])
    if cid is None:
        return Outcome([reply("error.button_expired")])
    return await _close(ctx, cid)


async def _close(ctx: Ctx, cid: int) -> Outcome:
    try:
        closed = await support.close(ctx.uow, ctx.programme, ctx.member.id, cid, ctx.now,
                                     by_staff=False)
    except SupportRefused as refused:
        return Outcome([refusal(refused)])
    if closed.rating is None:
        return Outcome([reply("support.closed", conversation=cid)])
    scores = tuple(button("support.score", f"{RATE}:{cid}:{n}", score=n)
                   for n in ratings.SCORES)
    return Outcome([reply("support.closed_rate", scores, conversation=cid)])


@router.action(RATE)
async def rate(ctx: Ctx) -> Outcome:
    parts = (ctx.action or "").split(":")[1:]
    cid, score = _number(parts[:1]), _number(parts[1:2])
    if cid is None or score is None or len(parts) != 2:
        return Outcome([reply("error.button_expired")])
    try:
        await ratings.rate(ctx.uow, ctx.programme, ctx.member.id, cid, score, ctx.now)
    except SurveyRefused as refused:
        done = refused.code in ("answered", "finished")
        return Outcome([reply("support.rating_done" if done else "support.rating_gone")])
    return Outcome([_rated(score)])


async def _rate(ctx: Ctx, cid: int, score: int) -> Reply | None:
    """A typed score as the rating of conversation `cid`; None when it asks none."""
    try:
        await ratings.rate(ctx.uow, ctx.programme, ctx.member.id, cid, score, ctx.now)
    except SurveyRefused:
        return None
    return _rated(score)


def _rated(score: int) -> Reply:
    """Thanks for a rating, not cheerful when it is low (staff see it as a low score)."""
    return reply("support.rated_low" if score <= LOW["rating"] else "support.rated", score=score)


def _number(parts: list[str]) -> int | None:
    raw = parts[0] if parts else ""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None
