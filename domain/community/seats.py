"""Seats: who is in a gated chat, and whether they still qualify.

Someone qualifies while they are an active member whose tier opens the gate, hold a
staff role, or administer the chat. Who stops qualifying lapses: warned in private at
once, removed once the gate's grace is over (`due`, which the platform's side acts on),
kept when they qualify again first. The grace is given once per lapse, counted from
when they stopped qualifying (`lapsed_at`, kept while they are out): someone removed,
or gone while lapsed, who comes back still not qualifying (re-added by a friend, an
old link) has no new grace and no new warning, or every re-add would be days free.
A tier change re-checks that member's seats in the same transaction (`recheck`);
`sweep` re-checks every seat, a page at a time, as the safety net for whatever changed
without a tier change (a member erased, a role revoked, a gate's tier raised).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from domain.community.tables import Gate, Seat
from domain.config import Programme, Tiers
from domain.members.tables import Identity, Member
from domain.membership import passes
from domain.notices import announce
from domain.staff.tables import StaffRole
from domain.storage.database import Database, UnitOfWork

IN, LAPSED, REMOVED, LEFT = "in", "lapsed", "removed", "left"
PRESENT = (IN, LAPSED)
SWEEP_PAGE = 200  # seats judged by one set of statements
# The first slice judged in one transaction; later ones are sized by how long it took
# (Database.in_slices). On SQLite a slice holds the loop and the write lock.
SWEEP_SLICE = {"sqlite": 25, "postgresql": SWEEP_PAGE}
SWEEP_READ = 2000  # seat ids read from a snapshot at a time


def opens(ladder: Tiers, gate: Gate, tier: str | None) -> bool:
    """Whether a member of `tier` may be in the gate's chat (no tier: the lowest)."""
    return max(ladder.rank(tier), 0) >= ladder.rank(gate.min_tier)


async def member_of(uow: UnitOfWork, platform: str, user_id: str) -> int | None:
    return await uow.session.scalar(select(Identity.member_id).where(
        Identity.platform == platform, Identity.external_id == user_id))


async def arrived(uow: UnitOfWork, ladder: Tiers, gate: Gate, user_id: str, chat_admin: bool,
                  now: datetime) -> str:
    """They are in the chat now (joined, promoted or demoted): their seat's status.
    Whoever came in without qualifying (an old link, added by a friend) lapses; one
    whose earlier lapse never ended (removed, or left while lapsed) goes on from it."""
    member_id = await member_of(uow, gate.platform, user_id)
    seat = await find(uow, gate, user_id)
    if seat is None or seat.status not in PRESENT:
        since = seat.lapsed_at if seat is not None else None
        seat = await put(uow, gate, user_id, member_id, IN, now)
        seat.lapsed_at = since  # judged at once below: a lapse that goes on, or cleared
    seat.member_id = member_id
    seat.chat_admin = chat_admin
    await _judge_all(uow, ladder, [(seat, gate)], now)
    return seat.status


async def shown(uow: UnitOfWork, gate: Gate, user_id: str, member_id: int,
                now: datetime) -> None:
    """A qualifying member was shown a hand-kept chat's join picture: from now on they
    count as in it, and are listed for staff to take out if they stop qualifying."""
    seat = await find(uow, gate, user_id)
    if seat is None or seat.status not in PRESENT:
        await put(uow, gate, user_id, member_id, IN, now)


async def departed(uow: UnitOfWork, gate: Gate, user_id: str, now: datetime) -> None:
    """They left or were taken out: a removal we made stays recorded as ours. When
    their lapse began is kept, so leaving and coming back does not start a new grace."""
    await uow.session.execute(update(Seat).where(
        Seat.gate_id == gate.id, Seat.user_id == user_id, Seat.status.in_(PRESENT))
        .values(status=LEFT, remove_after=None, updated_at=now))


async def reopen(uow: UnitOfWork, gate: Gate, now: datetime) -> None:
    """The gate's terms changed (its tier, its grace, a dry run ended, warn-only turned
    to remove): whoever had lapsed under the old ones is judged afresh, so nobody is
    removed without a warning that names the new terms and a full grace (those out
    of the chat too, should they come back)."""
    await uow.session.execute(update(Seat).where(
        Seat.gate_id == gate.id, Seat.status == LAPSED)
        .values(status=IN, lapsed_at=None, remove_after=None, attempts=0, updated_at=now))
    await uow.session.execute(update(Seat).where(
        Seat.gate_id == gate.id, Seat.status.in_((REMOVED, LEFT)), Seat.lapsed_at.is_not(None))
        .values(lapsed_at=None, updated_at=now))


async def recheck(uow: UnitOfWork, ladder: Tiers, member_ids: Iterable[int],
                  now: datetime) -> None:
    """Their tier (or standing) changed: judge every seat of theirs again."""
    ids = list(set(member_ids))
    if not ids:
        return
    rows = (await uow.session.execute(
        select(Seat, Gate).join(Gate, Gate.id == Seat.gate_id)
        .where(Seat.member_id.in_(ids), Seat.status.in_(PRESENT)))).all()
    if rows:  # usually none: one indexed lookup and nothing else
        await _judge_all(uow, ladder, rows, now)


@dataclass(frozen=True)
class Present:
    """A seat the platform may be asked about: is this account still in that chat?"""

    seat_id: int
    chat_id: str
    user_id: str
    chat_admin: bool


async def present_on(uow: UnitOfWork, platform: str, after: int, limit: int) -> list[Present]:
    """Present seats on the platform's gates, in seat order after seat `after`."""
    rows = await uow.session.execute(
        select(Seat.id, Gate.chat_id, Seat.user_id, Seat.chat_admin)
        .join(Gate, Gate.id == Seat.gate_id)
        .where(Gate.platform == platform, Seat.status.in_(PRESENT), Seat.id > after)
        .order_by(Seat.id).limit(limit))
    return [Present(*row) for row in rows]


async def sweep(db: Database, programme: Programme, now: datetime,
                page: int | None = None) -> dict[str, int]:
    """Judge every present seat again: their ids read a page at a time from a snapshot
    (on SQLite off the loop), walking the primary key,
    then judged `page` seats at a time in short transactions (Database.in_turns)."""
    size = page or SWEEP_SLICE.get(db.dialect, SWEEP_PAGE)
    after, judged, lapsed = 0, 0, 0
    while True:
        async with db.snapshot() as snap:
            # By primary key alone: with the status in the query SQLite takes the index
            # on status and sorts every present seat, for each page.
            read = (await snap.session.execute(
                select(Seat.id, Seat.status).where(Seat.id > after)
                .order_by(Seat.id).limit(SWEEP_READ))).all()
        if not read:
            break
        after = read[-1].id
        ids = [row.id for row in read if row.status in PRESENT]
        for seen, gone in await db.in_slices(
                ids, lambda uow, chunk: _sweep_slice(uow, programme.tiers, chunk, now),
                size, most=page or None):
            judged, lapsed = judged + seen, lapsed + gone
    return {"judged": judged, "lapsed": lapsed}


async def _sweep_slice(uow: UnitOfWork, ladder: Tiers, ids: Sequence[int],
                       now: datetime) -> tuple[int, int]:
    """Judge these seats (those still present): how many, and how many lapsed."""
    found = (await uow.session.execute(
        select(Seat, Gate).join(Gate, Gate.id == Seat.gate_id)
        .where(Seat.id.in_(ids)).order_by(Seat.id))).all()  # by key alone, as above
    rows = [(seat, gate) for seat, gate in found if seat.status in PRESENT]
    seated = {seat.id for seat, _ in rows if seat.status == IN}
    await _judge_all(uow, ladder, rows, now)
    # Counted per seat: one coming back must not hide another lapsing.
    return len(rows), sum(seat.id in seated and seat.status == LAPSED for seat, _ in rows)


# ------------------------------------------------------------------ inside

async def find(uow: UnitOfWork, gate: Gate, user_id: str) -> Seat | None:
    return await uow.session.scalar(select(Seat).where(Seat.gate_id == gate.id,
                                                       Seat.user_id == user_id))


async def put(uow: UnitOfWork, gate: Gate, user_id: str, member_id: int | None, status: str,
               now: datetime) -> Seat:
    seat = await find(uow, gate, user_id)
    if seat is None:
        seat = Seat(gate_id=gate.id, user_id=user_id, chat_admin=False, attempts=0)
        uow.session.add(seat)
    seat.member_id, seat.status, seat.updated_at = member_id, status, now
    seat.lapsed_at = seat.remove_after = None
    seat.attempts = 0
    await uow.flush()
    return seat


# What judging reads of a member: a plain row, so a member object loaded earlier in the
# transaction (its tier just changed with Core) is never read stale.
_PERSON = (Member.id, Member.tier, Member.status)


async def _judge_all(uow: UnitOfWork, ladder: Tiers, rows: Iterable[Any],
                     now: datetime) -> None:
    """Judge seats (with their gates) in one pass: one read of their members and staff
    roles, one flush of the seats that moved, one statement for the warnings."""
    rows = list(rows)
    await _owners(uow, rows)
    ids = {seat.member_id for seat, _ in rows if seat.member_id is not None}
    people = {p.id: p for p in await uow.session.execute(
        select(*_PERSON).where(Member.id.in_(ids)))} if ids else {}
    staff = set(await uow.session.scalars(select(StaffRole.member_id).distinct()
                                          .where(StaffRole.member_id.in_(ids)))) if ids else set()
    paid = await passes.passes(uow, ids)  # chats a paid plan opens, whatever the tier
    warnings = []
    for seat, gate in rows:
        person = people.get(seat.member_id)
        let_in = seat.member_id in staff or (seat.member_id, gate.chat_id) in paid
        # A dry run only reports: nobody is told of a removal that will not happen.
        if _judge(ladder, gate, seat, person, let_in, now) \
                and not gate.dry_run:
            assert person is not None  # only a member is ever warned
            key, params = _warning(gate, timedelta(seconds=gate.grace_s), now)
            warnings.append((person.id, key, params,
                             f"community:lapse:{seat.id}:{now.isoformat()}"))
    await uow.flush()
    await announce.tell_many(uow, warnings, now)


async def _owners(uow: UnitOfWork, rows: list[Any]) -> None:
    """Point each seat at the member its account belongs to now: an account changes
    hands when it is linked to another member (the old one erased), and a stranger may
    have become a member since arriving. One query per platform."""
    accounts: dict[str, set[str]] = {}
    for seat, gate in rows:
        accounts.setdefault(gate.platform, set()).add(seat.user_id)
    owner: dict[tuple[str, str], int] = {}
    for platform, users in accounts.items():
        owner.update({(platform, external_id): member_id
                      for external_id, member_id in await uow.session.execute(
                          select(Identity.external_id, Identity.member_id).where(
                              Identity.platform == platform,
                              Identity.external_id.in_(users)))})
    for seat, gate in rows:
        found = owner.get((gate.platform, seat.user_id))
        if found != seat.member_id:
            seat.member_id = found


def _judge(ladder: Tiers, gate: Gate, seat: Seat, person: Any, staff: bool,
           now: datetime) -> bool:
    """Move the seat as `person` (its member: id, tier, status; None for none) now
    stands; True when a member is to be warned. `staff`: let in whatever the tier (a
    staff role, or a paid plan that opens this chat). An "in" seat with `lapsed_at` is one
    just back in the chat (arrived) whose earlier lapse never ended: it goes on, with
    what is left of its grace (often none) and no second warning."""
    # Blocking the bot ("unreachable") only stops notices: only erasure ends membership.
    active = person is not None and person.status != "erased"
    qualifies = seat.chat_admin or (active and (staff or opens(ladder, gate, person.tier)))
    if qualifies and (seat.status == LAPSED or seat.lapsed_at is not None):
        seat.status, seat.lapsed_at, seat.remove_after, seat.attempts = IN, None, None, 0
        seat.updated_at = now
    elif not qualifies and seat.status == IN:
        fresh = seat.lapsed_at is None
        since = seat.lapsed_at or now
        seat.status, seat.lapsed_at = LAPSED, since
        seat.remove_after = since + timedelta(seconds=gate.grace_s)
        seat.updated_at = now
        return active and fresh
    return False


def _warning(gate: Gate, grace: timedelta, now: datetime) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"chat": gate.title, "tier": {"$tier": gate.min_tier}}
    if gate.on_lapse == "warn":
        return "community.lapse_kept", params
    # A channel is no group: its warning names it as what it is.
    where = "_channel" if gate.kind == "channel" else ""
    if grace <= timedelta(0):
        return f"community.lapse_now{where}", params
    return f"community.lapse_until{where}", {
        **params, "until": {"$moment": (now + grace).isoformat()}}
