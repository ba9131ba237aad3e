"""Retention (GDPR Art. 5(1)(e), PIPL Art. 19): members inactive longer than the
programme keeps data (`[privacy] retention_days`; 0, the default, is off) are erased as
/deleteme erases them (domain/privacy/erasure.py), after a warning.

Inactive means no activity of the member's own, as the lifecycle stages read it:
`members.last_active_at`, which moves when they write to the bot or press one of its
buttons (any message: /points, a check-in), when a purchase of theirs is recorded, and
when they unblock the bot. What staff or the programme do to them (points given, a
campaign or a notice sent) is not their activity.

The daily job, in short transactions:
1. members warned who were active since (their last activity is no longer the one they
   were warned for) keep their account: the warning is over, and a later silence is
   counted from its own last activity;
2. members warned whose date came while they stayed inactive are erased
   (erasure.erase, actor "retention": points forfeited with their ledger entry, coupons
   voided, audited as every erasure is);
3. members inactive longer than retention minus `retention_warning_days` who were not
   warned get a notice: they will be erased on a date that many days ahead unless they
   come back, and any activity keeps the account (RetentionWarning).
Staff (anyone holding a role) are never erased this way, as /deleteme refuses them,
a member whose own /deleteme waits is left to it, and one paying for a plan is a
customer still (and only the platform can stop its renewal), until the plan ends.
Off, the job warns and erases nobody, and the warnings given before are called off.
What it did, and how many warned members and points wait for their date, show in
/jobs, so operators see the points to be forfeited before they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update

from domain.config import Programme
from domain.members.tables import Member
from domain.membership.passes import ACTIVE
from domain.membership.tables import Subscription
from domain.notices import announce, notices
from domain.notices.tables import Notice as _Notice
from domain.privacy import erasure
from domain.privacy.tables import ErasureRequest, RetentionWarning
from domain.staff import roles
from domain.staff.tables import StaffRole
from domain.storage.database import Database, UnitOfWork

ACTOR = "retention"  # the audit log's actor for its erasures
KEY, KEY_NO_POINTS = "privacy.retention_warning", "privacy.retention_warning_plain"
WINDOW = 1000  # member ids read from a snapshot at a time
# Members warned by a first set of statements; later slices are sized by how long it
# took (Database.in_slices). On SQLite a slice holds the loop while it runs.
SLICE = {"sqlite": 20, "postgresql": 100}
READ = 2000  # warnings read at a time from a snapshot
_W = RetentionWarning


def _idle(programme: Programme, now: datetime) -> list[Any]:
    """Members to warn: inactive past retention minus the warning, not warned, not
    erased, holding no staff role and with no /deleteme of their own waiting."""
    rules = programme.privacy
    since = now - timedelta(days=rules.retention_days - rules.retention_warning_days)
    return [Member.last_active_at < since, Member.status != "erased",
            ~exists().where(_W.member_id == Member.id),
            ~exists().where(StaffRole.member_id == Member.id),
            ~exists().where(Subscription.member_id == Member.id, Subscription.status == ACTIVE),
            ~exists().where(ErasureRequest.member_id == Member.id,
                            ErasureRequest.state == erasure.WAITING)]


def erase_at(programme: Programme, now: datetime) -> datetime:
    """When a member warned now is erased: the start of the day (in the programme's
    zone) `retention_warning_days` ahead, so the daily run of that day erases them and
    the date the notice names is the day it happens."""
    day = now.astimezone(programme.zone).date() + timedelta(
        days=programme.privacy.retention_warning_days)
    return datetime.combine(day, time(0), programme.zone)


async def warn(uow: UnitOfWork, programme: Programme, ids: Sequence[int],
               now: datetime) -> int:
    """Warn those of `ids` still to be warned (read again here: one may have come back
    since the snapshot); the members warned."""
    stmt = (select(Member.id, Member.last_active_at, Member.points_balance)
            .where(Member.id.in_(list(ids)), *_idle(programme, now)).order_by(Member.id))
    if uow.dialect == "postgresql":  # a message of theirs now waits for this to commit
        stmt = stmt.with_for_update(of=Member)
    found = {row.id: row for row in await uow.session.execute(stmt)}
    if not found:
        return 0
    when = erase_at(programme, now)
    warned = list(await uow.session.scalars(
        uow.upsert(_W).values([dict(member_id=m, idle_since=r.last_active_at, warned_at=now,
                                    erase_at=when) for m, r in found.items()])
        .on_conflict_do_nothing(index_elements=["member_id"]).returning(_W.member_id)))
    date = {"$date": when.date().isoformat()}
    await announce.tell_many(uow, [
        (m, KEY if found[m].points_balance > 0 else KEY_NO_POINTS,
         {"date": date, "points": found[m].points_balance},
         f"retention:{m}:{found[m].last_active_at.isoformat()}:{date['$date']}")
        for m in sorted(warned)], now)
    return len(warned)


async def expire(uow: UnitOfWork, programme: Programme, member_id: int,
                 now: datetime) -> erasure.Erased | None:
    """Erase the member if their warning's date has come and they stayed inactive; a
    warning they outlived by coming back is over. None when nobody was erased."""
    member = await uow.session.scalar(select(Member).where(Member.id == member_id)
                                      .with_for_update())
    warning = await uow.session.get(_W, member_id)
    if warning is None:
        return None
    if member is None or member.status == "erased" \
            or member.last_active_at != warning.idle_since:
        await uow.execute(delete(_W).where(_W.member_id == member_id))
        await _withdraw(uow, _Notice.member_id == member_id)
        return None
    if warning.erase_at > now or await roles.held(uow, member_id):
        return None  # not yet; staff since the warning wait until their role goes
    await uow.execute(delete(_W).where(_W.member_id == member_id))
    return await erasure.erase(uow, programme, member_id, now, actor=ACTOR)


async def _came_back(uow: UnitOfWork, ids: Sequence[int]) -> int:
    """End the warnings of these members that they outlived, or that an erasure made
    moot (their own /deleteme), read again here; the members who came back."""
    await uow.execute(delete(_W).where(_W.member_id.in_(list(ids)), exists().where(
        Member.id == _W.member_id, Member.status == "erased")))
    moved = exists().where(Member.id == _W.member_id,
                           Member.last_active_at != _W.idle_since, Member.status != "erased")
    ended = list(await uow.session.scalars(
        delete(_W).where(_W.member_id.in_(list(ids)), moved).returning(_W.member_id)))
    await _withdraw(uow, _Notice.member_id.in_(ended))
    return len(ended)


async def _withdraw(uow: UnitOfWork, *where: Any) -> None:
    """A warning called off: its notice, if it has not gone out yet, never does."""
    await uow.execute(update(_Notice).where(
        *where, _Notice.key.in_((KEY, KEY_NO_POINTS)),
        _Notice.status.in_(("pending", "deferred"))).values(status=notices.WITHDRAWN))


async def _read(db: Database, *where: Any) -> list[int]:
    """Warned members matching `where`, in id order, read a page at a time from
    snapshots (neither the loop nor the write lock is held)."""
    found: list[int] = []
    while True:
        async with db.snapshot() as snap:
            page = list(await snap.session.scalars(
                select(_W.member_id).join(Member, Member.id == _W.member_id)
                .where(_W.member_id > (found[-1] if found else 0), *where)
                .order_by(_W.member_id).limit(READ)))
        found += page
        if len(page) < READ:
            return found


async def run(db: Database, programme: Programme, now: datetime) -> dict[str, int]:
    """The job (the module's rule): what it did, and what waits."""
    done = {"warned": 0, "returned": 0, "erased": 0, "points": 0}
    if not programme.privacy.retention_days:
        while True:  # off: no warning given before holds any more
            async with db.uow() as uow:
                ids = select(_W.member_id).order_by(_W.member_id).limit(READ)
                ended = list(await uow.session.scalars(
                    delete(_W).where(_W.member_id.in_(ids)).returning(_W.member_id)))
                await _withdraw(uow, _Notice.member_id.in_(ended))
                await uow.commit()
            if len(ended) < READ:
                return {**done, "waiting": 0, "at_stake": 0}
    back = await _read(db, or_(Member.last_active_at != _W.idle_since,
                               Member.status == "erased"))
    done["returned"] = sum(await db.in_slices(back, _came_back, READ))
    # One member a transaction, as erasure.run: an erasure takes about a slice itself.
    erased = [e for e in await db.in_turns(
        await _read(db, _W.erase_at <= now),
        lambda uow, m: expire(uow, programme, m, now), most=1) if e is not None]
    done["erased"], done["points"] = len(erased), sum(e.forfeited for e in erased)
    if erased:
        await db.scrub(erasure.touched())
    async with db.snapshot() as snap:
        top = await snap.scalar(select(func.max(Member.id))) or 0
    # A window of member ids at a time (as win-back reads): the selection's
    # last_active_at range is served by the lifecycle index within each window.
    for low in range(0, top, WINDOW):
        async with db.snapshot() as snap:
            page = list(await snap.session.scalars(
                select(Member.id).where(Member.id > low, Member.id <= low + WINDOW,
                                        *_idle(programme, now)).order_by(Member.id)))
        done["warned"] += sum(await db.in_slices(
            page, lambda uow, ids: warn(uow, programme, ids, now), SLICE.get(db.dialect, 20)))
    async with db.snapshot() as snap:
        waiting, at_stake = (await snap.session.execute(
            select(func.count(), func.coalesce(func.sum(Member.points_balance), 0))
            .select_from(_W).join(Member, Member.id == _W.member_id))).one()
    return {**done, "waiting": int(waiting), "at_stake": int(at_stake)}
