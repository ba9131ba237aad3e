"""/tier: where the member stands, what the next tier needs, and the benefits; a
button opens the programme's rules (/rules)."""

from __future__ import annotations

from dataclasses import replace

from domain.community import gates
from domain.tiers import tiers
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Local, Money, Reply, Text, button, reply
from handlers.engine.words import bar, local, multiplier, tier_name

router = Router()
RULES = "rules:show"  # handlers/members/rules.py answers it
GROUPS = "groups:show"  # handlers/community/groups.py answers it


@router.command("tier")
async def tier(ctx: Ctx) -> Outcome:
    ladder = ctx.programme.tiers
    progress = await tiers.progress(ctx.uow, ladder, ctx.member, ctx.now)
    by_spend = ladder.basis == "spend"
    unit = Text("tier.unit_spend" if by_spend else "tier.unit_points")

    def amount(value: int) -> int | Money:
        return Money(value, ctx.programme.currency) if by_spend else value

    benefits: list[Local | Text] = [local(ctx.programme.benefits[code])
                                    for code in progress.tier.benefits]
    replies: list[Reply] = [reply(
        "tier.current", tier=tier_name(progress.tier),
        multiplier=multiplier(progress.tier.multiplier_percent),
        total=amount(progress.total), unit=unit, days=ladder.window_days,
        benefits=benefits or [Text("tier.no_benefits")],
    )]
    if progress.next_tier is None:
        replies.append(reply("tier.top"))
    else:
        replies.append(reply("tier.next", tier=tier_name(progress.next_tier),
                             needed=amount(progress.needed), unit=unit,
                             bar=bar(progress.percent),
                             percent=progress.percent))
    # The lowest tier cannot be lost, so how long it lasts means nothing.
    lowest = progress.tier.code == ladder.levels[0].code
    if ladder.mode == "up_and_down" and progress.valid_until is not None and not lowest:
        until = ctx.local(progress.valid_until).date()
        if progress.in_grace:
            replies.append(reply("tier.grace", until=until, days=ladder.grace_days))
        else:
            replies.append(reply("tier.valid_until", until=until))
    row = [button("rules.button", RULES)]
    if await gates.on_platform(ctx.uow, ctx.inbound.platform):
        row.append(button("community.groups_button", GROUPS))
    replies[-1] = replace(replies[-1], buttons=(tuple(row),))
    return Outcome(replies)
