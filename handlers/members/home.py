"""The home card (/menu, and /start's greeting): who the member is, in one glance, with
a button for each everyday action.

Members of loyalty programmes tap rather than type. A button on the card shows its
screen in the card's own message (Reply.edit: Telegram edits it in place, platforms
that cannot edit send it anew, numbered), with a "‹ Home" button back; paging and
"how it works" inside a screen stay in that message too. Each screen is the command's
own step, so the card and the typed command never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from domain.members import members
from domain.points import ledger
from handlers.engine.routing import Ctx, Outcome, Router, Step
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import local, number, tier_name
from handlers.members import profile, referrals, rules
from handlers.points import checkin, points
from handlers.rewards import coupons, rewards
from handlers.tiers import tier

router = Router()
HOME = "home"
# What each card button shows: the command's own step.
SCREENS: dict[str, Step] = {
    "checkin": checkin.check_in, "points": points.points, "rewards": rewards.catalogue,
    "coupons": coupons.list_coupons, "tier": tier.tier, "rules": rules.rules,
    "invite": referrals.invite, "profile": profile.profile,
}
# Buttons inside a screen that move within it (paging, the tier's rules): pressed from
# the card, they keep to the card's message and its way home.
WITHIN: dict[str, Step] = {
    "points:page": points.page, "rewards:page": rewards.page, rules.SHOW: rules.show,
}


@router.command("menu")
async def menu(ctx: Ctx) -> Outcome:
    return Outcome([await card(ctx, [_title(ctx)])])


async def card(ctx: Ctx, head: Sequence[Text]) -> Reply:
    """The member card under `head` (a greeting, a word about an invitation)."""
    member = ctx.member
    ladder = ctx.programme.tiers
    current = ladder.by_code(member.tier) or ladder.levels[0]
    balance = await ledger.settle(ctx.uow, member, ctx.now)  # expired points are gone
    params = {"head": list(head), "number": number(member.id), "tier": tier_name(current),
              "points": balance}
    following = await points.next_expiry(ctx)
    # An unfinished profile is asked for at once, in messages of its own (a flow).
    you = (button("home.profile", f"{HOME}:profile") if members.profile_complete(member)
           else button("start.complete_profile", "profile:walk"))
    rows = (
        (button("home.checkin", f"{HOME}:checkin"), button("home.points", f"{HOME}:points")),
        (button("home.rewards", f"{HOME}:rewards"), button("home.coupons", f"{HOME}:coupons")),
        (button("home.tier", f"{HOME}:tier"), button("home.invite", f"{HOME}:invite")),
        (you,),
    )
    if following is None:
        return Reply("home.card", params, rows)
    day, due = following
    return Reply("home.card_expiring", {**params, "count": due, "date": day}, rows)


@router.action(HOME)
async def home(ctx: Ctx) -> Outcome:
    """`home` is the card again; `home:SCREEN` a card button; `home:ACTION` a button
    that moves within a screen shown from the card."""
    wanted = (ctx.action or "").partition(":")[2]
    if not wanted:
        return Outcome([replace(await card(ctx, [_title(ctx)]), edit=True)])
    step = SCREENS.get(wanted)
    if step is None:
        step = WITHIN.get(wanted) or WITHIN.get(wanted.rpartition(":")[0])
        ctx = replace(ctx, action=wanted)
    if step is None:
        return Outcome([reply("error.button_expired")])
    return screen(await step(ctx))


def screen(outcome: Outcome) -> Outcome:
    """A screen shown in the card's message: its leading text replies become that one
    message, with a way home. Images and QR codes follow as messages of their own, and
    then the screen's buttons and the way home, so that home comes last; an
    error stays as it is (a stale button is answered with a notice, not an edit). A
    screen that opens with a picture (the invite's QR code) cannot replace the card's
    text: it comes as it is, its last message carrying the way home. Every screen has
    one, so a typed number answers the screen, never the card behind it."""
    replies = outcome.replies
    plain = 0
    while plain < len(replies) and _plain(replies[plain]):
        plain += 1
    if not replies or replies[0].key.startswith("error."):
        return outcome
    home = (button("home.back", HOME),)
    if plain == 0:
        if outcome.state is not None:
            return outcome
        last = replies[-1]
        kept = tuple(tuple(_kept(b) for b in row) for row in last.buttons)
        return Outcome([*replies[:-1], replace(last, buttons=(*kept, home))],
                       outcome.state, outcome.data)
    shown = replies[:plain]
    rows = [tuple(_kept(b) for b in row) for r in shown for row in r.buttons]
    if outcome.state is None:
        # Not while a flow waits: its step takes only its own buttons.
        rows.append(home)
    after = list(replies[plain:])
    if after and outcome.state is None:
        # Pictures follow (a coupon's code and QR). Every platform shows a message's
        # buttons before its picture, so the way home comes after them in a message of
        # its own: last on screen, and what a typed number answers.
        after.append(Reply("home.after_pictures", {}, tuple(rows)))
        rows = []
    if len(shown) == 1:
        body = shown[0]
        merged = Reply(body.key, body.params, tuple(rows), edit=True)
    else:
        parts: list[Text | str] = []
        for r in shown:
            parts += [Text(r.key, r.params), ""]
        merged = Reply("home.screen", {"parts": parts[:-1]}, tuple(rows), edit=True)
    return Outcome([merged, *after], outcome.state, outcome.data)


def _title(ctx: Ctx) -> Text:
    return Text("home.title", {"programme": local(ctx.programme.name)})


def _plain(message: Reply) -> bool:
    return message.image is None and message.file is None and message.scene is None


def _kept(b: Button) -> Button:
    """A button that moves within the screen keeps to the card (`home:` + its action)."""
    inner = b.action.rpartition(":")[0]
    if b.action in WITHIN or inner in WITHIN:
        return replace(b, action=f"{HOME}:{b.action}")
    return b
