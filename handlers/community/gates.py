"""/gate and /gates: operators gate a chat at a tier, and see every gate.

`/gate TIER [GRACE]` typed in a group gates that group; a channel takes no commands,
so `/gate CHAT_ID TIER [GRACE]` does the same from the private chat. The same forms
take `off`, `dryrun on|off` and `lapse remove|warn` in place of the tier.

Asking the platform (does the chat exist, does the bot hold the rights, a new join
link, revoking it at `off`) goes through `Ctx.read`, so no request to the platform
happens while the engine's transaction holds the database for other members' messages.

What /gate says in a group is said to the group, so it is in the group's language
(/grouplang, else the programme's), as moderation's replies are, not the sender's.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from domain.community import durations, gates, group_settings, removals
from domain.config import Tier, Tiers
from domain.identifiers import MEMBER_NUMBER, valid
from domain.staff import roles
from domain.staff.audit import member_actor
from domain.storage.database import UnitOfWork
from handlers.community.words import length as spoken_length
from handlers.engine.rooms import GATE_RIGHTS, ROOM_KINDS, Room, RoomError, Rooms
from handlers.engine.routing import Arrival, Arrived, Ctx, Outcome, Router
from handlers.engine.types import Inbound, Reply, Text, reply
from handlers.engine.words import number, tier_called, tier_name
from handlers.staff.roles import denied

router = Router()
# Commands that act on the group chat they are typed in; the platform's side passes
# these to the engine from a group, and points every other command to the private chat.
GROUP_COMMANDS = frozenset({"gate"})
# A chat as an operator names it from the private chat: its numeric id (Telegram's fit
# in 52 bits: 16 digits at most, never a leading zero), or a public channel's @username.
CHAT_REF = re.compile(r"-?[1-9][0-9]{0,15}|@[A-Za-z][A-Za-z0-9_]{3,31}")
SWITCH = {"on": True, "off": False}
DONE = "done"  # /gate CODE done NUMBER…: staff took them out of a chat kept by hand
LINK_NAME = 32  # characters Telegram allows in an invite link's name
SHOWN_REMOVALS = 10
QUOTED = 32  # characters of a mistyped tier or grace quoted back


@runtime_checkable
class RevokesLinks(Protocol):
    """Rooms whose platform can revoke a join link (Telegram's revokeChatInviteLink);
    elsewhere a gate has no link of ours to revoke."""

    async def revoke_link(self, chat_id: str, link: str) -> None: ...


@router.arrival("gate")
async def gate_on_arrival(arrival: Arrival) -> Arrived | None:
    """Someone with no member types /gate in a group: refused as any non-operator is,
    and nobody is made a member of a chat they only passed through. (In the private
    chat a first message makes a member as usual, then the refusal follows.)"""
    if arrival.inbound.chat_kind == "private":
        return None
    refusal = reply("staff.denied", command="/gate",
                    roles=Text(f"staff.needs.{roles.least('gates')}"))
    return Arrived(None, [refusal], locale=await _group_locale(
        arrival.uow, arrival.programme.default_locale, arrival.inbound))


@dataclass(frozen=True)
class Order:
    """What a /gate asks, read and checked before the platform is asked anything."""

    action: str  # "open", "off", "dryrun" or "lapse"
    tier: Tier | None = None
    grace: timedelta | None = None  # None: the programme's
    value: str = ""  # dryrun: on|off; lapse: remove|warn


@router.command("gate", role="operator")
async def gate(ctx: Ctx) -> Outcome:
    outcome = await _gate(ctx)
    if ctx.in_group:  # said to the group: in its language
        outcome.locale = await _group_locale(ctx.uow, ctx.programme.default_locale,
                                             ctx.inbound)
    return outcome


async def _group_locale(uow: UnitOfWork, default: str, inbound: Inbound) -> str:
    rules = await group_settings.read(uow, inbound.platform, inbound.chat_id)
    return rules.language or default


async def _gate(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "gates")
    if refusal is not None:
        return refusal
    words = ctx.arg.split()
    if not ctx.in_group and len(words) >= 2 and words[1].lower() == DONE:
        return await _taken_out(ctx, words[0], words[2:])
    if ctx.rooms is None:
        return Outcome([reply("community.no_rooms")])
    rooms = ctx.rooms
    known: Room | None = None
    if ctx.in_group:
        chat_id = ctx.inbound.chat_id
        known = Room(chat_id, ctx.inbound.chat_kind, ctx.inbound.chat_title or "")
    elif words and CHAT_REF.fullmatch(words[0]):
        chat_id, words = words[0], words[1:]
    else:
        return Outcome([reply("community.gate_usage")])
    order = _order(ctx.programme.tiers, words)
    if not isinstance(order, Order):
        return Outcome([order])
    if chat_id.startswith("@"):
        # A public channel by its name: its gate is kept under the numeric id that join
        # requests and removals name it by.
        found = await ctx.read(f"gate:{rooms.platform}:{chat_id}", _looker(rooms, chat_id))
        if found.room is None:
            return Outcome([reply(found.problem or "community.chat_unknown", chat=chat_id)])
        known, chat_id = found.room, found.room.chat_id
    if order.action == "open":
        return await _open(ctx, rooms, chat_id, known, order)
    if order.action == "off":
        return await _close(ctx, rooms, chat_id)
    return await _configure(ctx, chat_id, order)


def _order(ladder: Tiers, words: list[str]) -> Order | Reply:
    """`words` after the chat: TIER [GRACE], off, dryrun on|off or lapse remove|warn."""
    if not words or len(words) > 2:
        return reply("community.gate_usage")
    head, rest = words[0].lower(), words[1:]
    if head == "off":
        return reply("community.gate_usage") if rest else Order("off")
    if head in ("dryrun", "lapse"):
        value = rest[0].lower() if rest else ""
        allowed = SWITCH if head == "dryrun" else gates.LAPSE_MODES
        return Order(head, value=value) if value in allowed else reply("community.gate_usage")
    tier = find_tier(ladder, words[0])
    if tier is None:
        return reply("community.gate_unknown_tier", typed=shown(words[0]),
                     tiers=", ".join(t.code for t in ladder.levels))
    grace = durations.parse(rest[0]) if rest else None
    if rest and grace is None:
        return reply("community.gate_bad_grace", typed=shown(rest[0]))
    return Order("open", tier, grace)


def shown(typed: str) -> str:
    """What someone typed, to quote back, not much of it: an invisible or control
    character shows as �, so "“gold” is not a tier" never hides why."""
    return "".join(c if c.isprintable() else "\ufffd" for c in typed[:QUOTED])


async def _open(ctx: Ctx, rooms: Rooms, chat_id: str, known: Room | None,
                order: Order) -> Outcome:
    tier = order.tier
    assert tier is not None
    link_name = f"{tier.code} · memberbot"[:LINK_NAME]

    async def prepare(snapshot: UnitOfWork) -> Prepared:
        return await _prepare(snapshot, rooms, chat_id, known, link_name)

    ready = await ctx.read(f"gate:{rooms.platform}:{chat_id}:{tier.code}", prepare)
    if ready.room is None:
        return Outcome([reply(ready.problem or "community.chat_unknown", chat=chat_id,
                              rights=[_right(r) for r in ready.missing])])
    room = ready.room
    before = await gates.find(ctx.uow, rooms.platform, room.chat_id)
    kept = before is not None and before.join_link is not None and ready.link is None
    done = await gates.open_gate(ctx.uow, ctx.programme, rooms.platform, room.chat_id,
                                 room.kind, room.title, tier.code, order.grace,
                                 ready.link, _actor(ctx), ctx.now)
    # A change keeps the link: it is not posted again (members find it in /groups).
    return Outcome([reply("community.regated" if kept else "community.gated",
                          chat=done.title, tier=tier_name(tier),
                          grace=_grace(done.grace_s), link=done.join_link or "",
                          lapse=_lapse(done.kind, done.on_lapse))])


@dataclass(frozen=True)
class Prepared:
    """What the platform said: the chat, or the wording key of why not."""

    room: Room | None = None
    link: str | None = None
    problem: str | None = None
    missing: tuple[str, ...] = ()


def _looker(rooms: Rooms, chat_id: str) -> Callable[[UnitOfWork], Awaitable[Prepared]]:
    async def look(_: UnitOfWork) -> Prepared:
        try:
            return await _look(rooms, chat_id)
        except RoomError:
            return Prepared(problem="community.platform_silent")
    return look


async def _look(rooms: Rooms, chat_id: str) -> Prepared:
    """The chat, if the bot is in it and it is a group or a channel."""
    room = await rooms.look_up(chat_id)
    if room is None:
        return Prepared(problem="community.chat_unknown")
    if room.kind not in ROOM_KINDS:
        return Prepared(problem="community.not_a_room")
    return Prepared(room)


async def _prepare(snapshot: UnitOfWork, rooms: Rooms, chat_id: str, known: Room | None,
                   link_name: str) -> Prepared:
    """The chat, the bot's rights there, and a join link unless its gate has one."""
    try:
        room = known
        if room is None:
            found = await _look(rooms, chat_id)
            if found.room is None:
                return found
            room = found.room
        missing = await rooms.missing_rights(room, GATE_RIGHTS)
        if missing:
            return Prepared(problem="community.missing_rights", missing=tuple(missing))
        existing = await gates.find(snapshot, rooms.platform, room.chat_id)
        link = None if existing and existing.join_link else \
            await rooms.join_link(room, link_name)
    except RoomError:
        return Prepared(problem="community.platform_silent")
    return Prepared(room, link)


async def _close(ctx: Ctx, rooms: Rooms, chat_id: str) -> Outcome:
    """The gate goes, and its join link with it: a join request through a live link of
    ours to a chat with no gate would wait for the chat's admins, who did not ask for
    it. When the platform will not revoke it, the gate goes all the same (the operator
    asked for that) and the operator is told to revoke the link by hand."""
    found = await gates.find(ctx.uow, rooms.platform, chat_id)
    if found is None:
        return Outcome([reply("community.not_gated", chat=chat_id)])
    title, link = found.title, found.join_link
    revoked: bool | None = None  # None: no link of ours to revoke
    if link and isinstance(rooms, RevokesLinks):
        revoked = await ctx.read(f"gate:{rooms.platform}:{chat_id}:revoke:{link}",
                                 _revoker(rooms, chat_id, link))
    await gates.close_gate(ctx.uow, found, _actor(ctx), ctx.now)
    if revoked is False:
        return Outcome([reply("community.ungated_link_live", chat=title, link=link)])
    return Outcome([reply("community.ungated_revoked" if revoked else "community.ungated",
                          chat=title)])


def _revoker(rooms: RevokesLinks, chat_id: str,
             link: str) -> Callable[[UnitOfWork], Awaitable[bool]]:
    async def revoke(_: UnitOfWork) -> bool:
        try:
            await rooms.revoke_link(chat_id, link)
        except RoomError:
            return False
        return True
    return revoke


async def _configure(ctx: Ctx, chat_id: str, order: Order) -> Outcome:
    assert ctx.rooms is not None
    found = await gates.find(ctx.uow, ctx.rooms.platform, chat_id)
    if found is None:
        return Outcome([reply("community.not_gated", chat=chat_id)])
    if order.action == "dryrun":
        await gates.configure(ctx.uow, found, _actor(ctx), ctx.now,
                              dry_run=SWITCH[order.value])
    else:
        await gates.configure(ctx.uow, found, _actor(ctx), ctx.now, on_lapse=order.value)
    lapse = _lapse(found.kind, found.on_lapse)
    if found.dry_run:  # nobody is removed or warned: "is removed" would say otherwise
        return Outcome([reply("community.configured_dry_run", chat=found.title,
                              lapse=lapse)])
    return Outcome([reply("community.configured", chat=found.title,
                          dry_run=Text("community.dry_run_off"), lapse=lapse)])


async def _taken_out(ctx: Ctx, code: str, typed: list[str]) -> Outcome:
    """`/gate CODE done NUMBER…`: staff took these members out of a hand-kept chat."""
    found = await gates.hand_kept(ctx.uow, code)
    if found is None:
        return Outcome([reply("community.hand_unknown", chat=shown(code))])
    if not typed or not all(valid(MEMBER_NUMBER, t) for t in typed):
        return Outcome([reply("community.done_usage", code=found.chat_id)])
    ids = list(dict.fromkeys(int(t) for t in typed))
    outcome = await removals.by_hand(ctx.uow, found, ids, _actor(ctx), ctx.now)
    lines = [Text(f"community.done_{kind}", {"who": ", ".join(
        number(m) for m in ids if outcome[m] == kind)})
        for kind in ("removed", "qualifies", "unknown") if kind in outcome.values()]
    return Outcome([reply("community.done", chat=found.title, lines=lines)])


@router.command("gates", role="operator")
async def list_gates(ctx: Ctx) -> Outcome:
    refusal = await denied(ctx, "gates")
    if refusal is not None:
        return refusal

    async def read(snapshot: Any) -> list[dict[str, Any]]:
        out = []
        for summary in await gates.listing(snapshot, ctx.now):
            g = summary.gate
            out.append({"title": g.title, "chat": g.chat_id, "tier": g.min_tier,
                        "grace_s": g.grace_s, "on_lapse": g.on_lapse, "dry_run": g.dry_run,
                        "seated": summary.seated, "lapsed": summary.lapsed,
                        "due": summary.due, "failing": summary.failing,
                        "refusal": summary.refusal,
                        "by_hand": g.kind == gates.BY_HAND and g.on_lapse == "remove",
                        "would": await removals.would_remove(
                            snapshot, g, ctx.now, SHOWN_REMOVALS)
                        if g.dry_run or g.kind == gates.BY_HAND else []})
        return out

    shown = await ctx.read("gates:listing", read)
    if not shown:
        return Outcome([reply("community.gates_none")])
    ladder = ctx.programme.tiers
    lines = [Text("community.gates_line", {
        "chat": g["title"], "id": g["chat"], "tier": tier_called(ladder, g["tier"]),
        "grace": _grace(g["grace_s"]),
        "lapse": Text("community.lapse_mode.by_hand" if g["by_hand"]
                      else f"community.lapse_mode.{g['on_lapse']}"),
        "seated": g["seated"], "lapsed": g["lapsed"], "due": g["due"],
        "dry_run": Text("community.gates_notes", {"dry_run": Text(
            "community.gates_by_hand" if g["by_hand"] else "community.gates_dry_run", {
                "many": g["due"] if g["by_hand"] else len(g["would"]), "code": g["chat"],
                "who": ", ".join(number(m) if m else u for u, m in g["would"]) or "—"})
            if g["dry_run"] or (g["by_hand"] and g["would"]) else "",
            "refused": _refused(g["failing"], g["refusal"])})}) for g in shown]
    return Outcome([reply("community.gates", lines=lines)])


def _refused(failing: int, refusal: removals.Refusal | None) -> Text | str:
    """Removals the platform refuses, and why: otherwise only the log would know."""
    if not failing:
        return ""
    why = refusal.why if refusal is not None else "other"
    return Text("community.gates_refused", {"count": failing, "why": Text(
        f"community.refused_why.{why}",
        {"reason": _printable(refusal.reason) if refusal else "—"})})


def _printable(said: str) -> str:
    return "".join(c if c.isprintable() else "\ufffd" for c in said[:removals.REASON_KEPT])


def find_tier(ladder: Tiers, typed: str) -> Tier | None:
    """A tier by its code or by its name in any language, ignoring case."""
    wanted = typed.strip().casefold()
    for tier in ladder.levels:
        names = tier.name.model_dump().values()
        if wanted == tier.code.casefold() or wanted in (n.casefold() for n in names if n):
            return tier
    return None


def _grace(seconds: int) -> Text:
    if seconds <= 0:
        return Text("community.grace_none")
    return Text("community.grace", {"length": spoken_length(timedelta(seconds=seconds))})


def _lapse(kind: str, on_lapse: str) -> Text:
    """What happens to who no longer qualifies; a channel is named as one."""
    if on_lapse == "remove" and kind == "channel":
        return Text("community.lapse_mode.remove_channel")
    return Text(f"community.lapse_mode.{on_lapse}")


def _actor(ctx: Ctx) -> str:
    return member_actor(ctx.member.id)


def _right(name: str) -> Text:
    """A right as the platform's own settings screen calls it, one line each."""
    shown: Text | str = Text(f"community.right.{name}") if name in GATE_RIGHTS else name
    return Text("community.right_line", {"right": shown})

