"""Gates: which chats a tier opens, set up by operators, listed for everyone.

A gate belongs to one chat of one platform. Opening it again changes its tier and
grace and keeps everyone already seated; closing it forgets its seats, since nobody
will be removed from an open chat. Its join link is the platform's to revoke, before
the gate is closed (handlers.community.gates), or join requests through it would wait
for an answer that no gate gives.

Where a platform cannot let a bot run a group, the programme file names the groups
staff keep by hand instead, each joined by scanning its QR picture (kind "qr",
`keep_by_hand`). Their seats are the members shown the picture; who stops qualifying
is listed for staff to take out (removals.by_hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select

from domain.community import durations, removals, seats
from domain.community.tables import Gate, Seat
from domain.config import Programme
from domain.errors import UnknownTier
from domain.staff import audit, jobs
from domain.storage.database import UnitOfWork

LAPSE_MODES = ("remove", "warn")
BY_HAND = "qr"  # the kind of a gate whose chat staff keep by hand, joined by a picture
PROGRAMME = "programme"  # the audit log's actor for gates the programme file sets
SWEEP_JOB = "community"  # scheduler/registry.py: seats.sweep


def default_grace(programme: Programme) -> timedelta:
    grace = durations.parse(programme.community.grace)
    assert grace is not None  # the programme file checks it
    return grace


async def find(uow: UnitOfWork, platform: str, chat_id: str) -> Gate | None:
    return await uow.session.scalar(select(Gate).where(Gate.platform == platform,
                                                       Gate.chat_id == chat_id))


async def by_id(uow: UnitOfWork, gate_id: int) -> Gate | None:
    return await uow.session.get(Gate, gate_id)


async def open_gate(uow: UnitOfWork, programme: Programme, platform: str, chat_id: str,
                    kind: str, title: str, tier: str, grace: timedelta | None,
                    join_link: str | None, actor: str, now: datetime) -> Gate:
    """Gate the chat at `tier` (or change its gate), the programme's grace if None."""
    ladder = programme.tiers
    if ladder.by_code(tier) is None:
        raise UnknownTier(code=tier)
    grace = default_grace(programme) if grace is None else grace
    gate = await find(uow, platform, chat_id)
    if gate is None:
        gate = Gate(platform=platform, chat_id=chat_id, created_by=actor, created_at=now,
                    on_lapse=programme.community.on_lapse, dry_run=False)
        uow.session.add(gate)
    terms = (gate.min_tier, gate.grace_s)
    gate.kind, gate.title, gate.min_tier = kind, title[:128], tier
    gate.grace_s = int(grace.total_seconds())
    gate.updated_at = now
    if gate.id is not None and terms != (gate.min_tier, gate.grace_s):
        await _judge_soon(uow, gate, actor, now)
    if join_link is not None:
        gate.join_link = join_link
    await uow.flush()
    await audit.record(uow, actor, "gate.open", _target(gate),
                       {"tier": tier, "grace": durations.spell(grace), "title": gate.title},
                       now)
    return gate


@dataclass(frozen=True)
class HandKept:
    """A chat kept by hand, as the programme file gives it: `code` names it."""

    code: str
    title: str
    tier: str
    grace: timedelta | None  # None: the programme's
    image: bytes


async def keep_by_hand(uow: UnitOfWork, programme: Programme, platform: str,
                       chats: list[HandKept], now: datetime) -> None:
    """Make the platform's hand-kept gates what the programme file says: new ones
    opened, changed ones updated, those it no longer names closed. Unchanged ones are
    left alone, so starting again audits nothing."""
    existing = {g.chat_id: g for g in await on_platform(uow, platform) if g.kind == BY_HAND}
    for chat in chats:
        gate = existing.pop(chat.code, None)
        grace = default_grace(programme) if chat.grace is None else chat.grace
        same = gate is not None and (gate.title, gate.min_tier, gate.grace_s) == (
            chat.title, chat.tier, int(grace.total_seconds()))
        if gate is not None and same and await join_image(uow, gate) == chat.image:
            continue
        gate = await open_gate(uow, programme, platform, chat.code, BY_HAND, chat.title,
                               chat.tier, grace, None, PROGRAMME, now)
        gate.join_image = chat.image
        await uow.flush()
    for gone in existing.values():
        await close_gate(uow, gone, PROGRAMME, now)


async def hand_kept(uow: UnitOfWork, code: str) -> Gate | None:
    """A hand-kept gate by its code, whichever platform's members it serves."""
    return await uow.session.scalar(select(Gate).where(
        Gate.kind == BY_HAND, Gate.chat_id == code).order_by(Gate.id).limit(1))


async def join_image(uow: UnitOfWork, gate: Gate) -> bytes | None:
    return await uow.session.scalar(select(Gate.join_image).where(Gate.id == gate.id))


async def close_gate(uow: UnitOfWork, gate: Gate, actor: str, now: datetime) -> None:
    await uow.session.execute(delete(Seat).where(Seat.gate_id == gate.id))
    await uow.session.delete(gate)
    await audit.record(uow, actor, "gate.close", _target(gate), {"title": gate.title}, now)
    await uow.flush()


async def configure(uow: UnitOfWork, gate: Gate, actor: str, now: datetime, *,
                    dry_run: bool | None = None, on_lapse: str | None = None) -> None:
    changes: dict[str, object] = {}
    if dry_run is not None and dry_run != gate.dry_run:
        gate.dry_run = changes["dry_run"] = dry_run
    if on_lapse is not None and on_lapse != gate.on_lapse:
        if on_lapse not in LAPSE_MODES:
            raise ValueError(on_lapse)
        gate.on_lapse = changes["on_lapse"] = on_lapse
    if changes:
        gate.updated_at = now
        await audit.record(uow, actor, "gate.configure", _target(gate), changes, now)
    if changes.get("dry_run") is False or changes.get("on_lapse") == "remove":
        await _judge_soon(uow, gate, actor, now)


@dataclass(frozen=True)
class Summary:
    """A gate and who is in its chat: qualifying, lapsed (warned, awaiting removal),
    of those the ones whose grace is over, and the ones whose removal the platform
    refused (`failing`, with the latest refusal)."""

    gate: Gate
    seated: int
    lapsed: int
    due: int
    failing: int = 0
    refusal: removals.Refusal | None = None


async def listing(uow: UnitOfWork, now: datetime) -> list[Summary]:
    counts = {row.gate_id: row for row in await uow.session.execute(
        select(Seat.gate_id,
               func.count(case((Seat.status == "in", 1))).label("seated"),
               func.count(case((Seat.status == "lapsed", 1))).label("lapsed"),
               func.count(case(((Seat.status == "lapsed") & (Seat.remove_after <= now), 1)))
               .label("due"),
               func.count(case(((Seat.status == "lapsed") & (Seat.attempts > 0), 1)))
               .label("failing"))
        .where(Seat.status.in_(("in", "lapsed"))).group_by(Seat.gate_id))}
    gates = list(await uow.session.scalars(select(Gate).order_by(Gate.title, Gate.id)))
    out = []
    for gate in gates:
        row = counts.get(gate.id)
        failing = row.failing if row else 0
        out.append(Summary(gate, row.seated if row else 0, row.lapsed if row else 0,
                           row.due if row else 0, failing,
                           await removals.refused(uow, gate) if failing else None))
    return out


async def on_platform(uow: UnitOfWork, platform: str) -> list[Gate]:
    return list(await uow.session.scalars(
        select(Gate).where(Gate.platform == platform).order_by(Gate.title, Gate.id)))


async def _judge_soon(uow: UnitOfWork, gate: Gate, actor: str, now: datetime) -> None:
    """New terms: the lapsed are judged afresh by the sweep, asked to run now."""
    await seats.reopen(uow, gate, now)
    await jobs.request_run(uow, SWEEP_JOB, actor, now)


def _target(gate: Gate) -> str:
    return f"chat:{gate.platform}:{gate.chat_id}"
