"""/privacy: the programme's privacy notice, what the member agreed to and since when,
and one button per purpose to change it (domain/privacy/consents.py).

The stop button under every marketing message and on /profile withdraws marketing
consent in one tap (STOP_MARKETING), as does "TD" / "退订" typed on any platform
(/unsubscribe): it answers with a line of its own and leaves the message it sits under
as it was. Pressed twice, it changes nothing twice.
"""

from __future__ import annotations

from domain.privacy import consents
from domain.privacy.consents import Standing
from handlers.engine.routing import Ctx, Outcome, Router
from handlers.engine.types import Button, Reply, Text, button, reply
from handlers.engine.words import local

SET = "privacy:set"  # privacy:set:PURPOSE:on|off, from the /privacy card
STOP_MARKETING = "privacy:stop"  # under marketing messages and on /profile
router = Router()


@router.command("privacy")
async def privacy(ctx: Ctx) -> Outcome:
    return Outcome([await card(ctx)])


@router.action(SET)
async def set_purpose(ctx: Ctx) -> Outcome:
    parts = (ctx.action or "").split(":")
    if len(parts) != 4 or parts[2] not in consents.PURPOSES or parts[3] not in ("on", "off"):
        return Outcome([reply("error.button_expired")])
    purpose, grant = parts[2], parts[3] == "on"
    changed = await consents.choose(ctx.uow, ctx.programme, ctx.member, purpose, grant,
                                    ctx.inbound.platform, ctx.now)
    said = f"privacy.{purpose}_{'on' if grant else 'off'}" if changed else "privacy.unchanged"
    shown = await card(ctx)
    return Outcome([reply(said), Reply(shown.key, shown.params, shown.buttons, edit=True)])


@router.command("unsubscribe", listed=False)  # "TD" / "退订" typed under an offer
@router.action(STOP_MARKETING)
async def stop_marketing(ctx: Ctx) -> Outcome:
    changed = await consents.choose(ctx.uow, ctx.programme, ctx.member, "marketing", False,
                                    ctx.inbound.platform, ctx.now)
    return Outcome([reply("privacy.marketing_stopped" if changed
                          else "privacy.marketing_stopped_already")])


async def card(ctx: Ctx) -> Reply:
    standing = await consents.standing(ctx.uow, ctx.member)
    rows: list[tuple[Button, ...]] = [
        (button(f"privacy.turn_{'off' if s.granted else 'on'}.{s.purpose}",
                f"{SET}:{s.purpose}:{'off' if s.granted else 'on'}"),) for s in standing]
    return Reply("privacy.card", {
        "notice": local(ctx.programme.privacy.notice),
        "version": ctx.programme.privacy.version,
        "lines": [line(ctx, s) for s in standing]}, tuple(rows))


def line(ctx: Ctx, s: Standing) -> Text:
    state = Text(f"privacy.state_{'on' if s.granted else 'off'}")
    if s.at is None:
        since: Text = Text("privacy.since_default")
    elif s.version is None:
        since = Text("privacy.since", {"day": s.at.astimezone(ctx.programme.zone).date()})
    else:
        since = Text("privacy.since_version", {
            "day": s.at.astimezone(ctx.programme.zone).date(), "version": s.version})
    return Text("privacy.line", {"purpose": Text(f"privacy.purpose.{s.purpose}"),
                                 "state": state, "since": since})
