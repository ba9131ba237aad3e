"""The inbox: every platform delivery is written down before it is acknowledged.

A platform forgets a delivery as soon as we answer it (a polled offset is confirmed,
a callback stops being retried); a process that dies after that would lose it. So a
delivery is recorded first (`receive`), handled in one transaction that also stores
its answer (`claim`, `record`, for a whole batch of deliveries at once), and its answer
is sent under a lease (`lease`, `delivered`). Whatever is left undelivered after a crash is found
again by `unfinished`.

Where the platform's callback waits to carry the answer back itself (a passive
reply), the row says so (`passive`), and a crash cannot lead to a second copy: once
the answer is recorded, the callback is taken to have carried its first message
(AWAITED), unless it declined first (RELEASED: it answered without it, and the whole
answer is sent once, as usual). A platform retry of the callback carries the recorded
answer again (GIVEN); that retry is how an answer recorded just before a crash still
reaches the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, true, tuple_, update

from domain.conversations.tables import InboxItem
from domain.storage.database import DIALECTS, UnitOfWork, upsert
from domain.storage.tables import UTCDateTime

LEASE = timedelta(seconds=30)
AWAITED, GIVEN, RELEASED = "awaited", "given", "released"  # InboxItem.passive
_I = InboxItem.__table__
_AT = UTCDateTime()
_RECEIVE = {name: upsert(name, _I).on_conflict_do_nothing(index_elements=["platform", "key"])
            for name in DIALECTS}


@dataclass(frozen=True)
class Pending:
    key: str
    payload: dict[str, Any] | None
    handled: bool


async def receive(uow: UnitOfWork, platform: str, items: list[tuple[str, dict[str, Any]]],
                  now: datetime, passive: bool = False) -> None:
    """Record deliveries; one already recorded is left as it is. `passive`: a callback
    waits to carry each answer back (AWAITED)."""
    if items:
        state = AWAITED if passive else None
        await uow.execute(_RECEIVE[uow.dialect], [
            {"platform": platform, "key": key, "payload": payload, "received_at": now,
             "passive": state} for key, payload in items])


_CLAIM = (select(_I.c.key, _I.c.handled_at, _I.c.answer)
          .where(_I.c.platform == bindparam("b_platform"),
                 _I.c.key.in_(bindparam("b_keys", expanding=True)))
          .order_by(_I.c.key).with_for_update())
_RECORD = (update(_I).where(_I.c.platform == bindparam("b_platform"),
                            _I.c.key == bindparam("b_key"))
           .values(handled_at=bindparam("b_now", type_=_AT),
                   answer=bindparam("b_answer", type_=_I.c.answer.type),
                   lease_until=bindparam("b_lease", type_=_AT)))


async def claim(uow: UnitOfWork, platform: str, keys: list[str],
                now: datetime) -> dict[str, dict[str, Any] | None]:
    """Lock these deliveries for handling; the stored answer of each one handled before.

    The row locks make a second worker with the same delivery wait for the first to
    commit, and then see its answer instead of acting again. Adapters record deliveries
    first, so the rows are usually there and one SELECT does for a whole batch."""
    wanted = sorted(set(keys))
    found: dict[str, dict[str, Any] | None] = {}
    for attempt in range(2):
        rows = await uow.execute(_CLAIM, {"b_platform": platform, "b_keys": wanted})
        for key, handled_at, answer in rows:
            if handled_at is not None:
                found[key] = answer
            else:
                found.setdefault(key, None)
        missing = [k for k in wanted if k not in found]
        if not missing:
            return found
        if attempt == 0:
            await uow.execute(
                uow.upsert(_I).values(
                    [{"platform": platform, "key": k, "received_at": now} for k in missing])
                .on_conflict_do_nothing(index_elements=["platform", "key"]))
            wanted = missing
    raise AssertionError("an inbox row vanished while it was being claimed")


async def record(uow: UnitOfWork, platform: str,
                 answers: list[tuple[str, dict[str, Any], datetime]]) -> None:
    """Store each (key, answer, handled at), and take the lease to send it: whoever
    handled a delivery sends its answer."""
    if answers:
        await uow.execute(_RECORD, [
            {"b_platform": platform, "b_key": key, "b_now": now, "b_answer": answer,
             "b_lease": now + LEASE} for key, answer, now in answers])


async def lease(uow: UnitOfWork, platform: str, key: str, now: datetime) -> bool:
    """Win the right to send this delivery's answer; False if it was sent or is being sent."""
    return await uow.changed(
        update(InboxItem)
        .where(InboxItem.platform == platform, InboxItem.key == key,
               InboxItem.delivered_at.is_(None),
               or_(InboxItem.lease_until.is_(None), InboxItem.lease_until <= now))
        .values(lease_until=now + LEASE)
    ) == 1


async def decline_passive(uow: UnitOfWork, platform: str, key: str) -> bool:
    """The waiting callback answers without the answer: it goes as customer-service
    messages, all of it. False if a retry's callback carried it already (GIVEN)."""
    where = (InboxItem.platform == platform, InboxItem.key == key)
    result = await uow.changed(
        update(InboxItem).where(*where, InboxItem.passive == AWAITED)
        .values(passive=RELEASED))
    if result == 1:
        return True
    return await uow.session.scalar(select(InboxItem.passive).where(*where)) != GIVEN


async def take_passive(uow: UnitOfWork, platform: str, key: str) -> bool:
    """A platform retry of the callback carries the recorded answer as its passive reply:
    True unless the answer goes as customer-service messages instead."""
    return await uow.changed(
        update(InboxItem).where(InboxItem.platform == platform, InboxItem.key == key,
                                InboxItem.passive.in_((AWAITED, GIVEN)))
        .values(passive=GIVEN)) == 1


async def passive_sent(uow: UnitOfWork, platform: str, key: str) -> bool:
    """For recovery, with no callback waiting: True if a callback carried the answer's
    first message (or was to, just before a crash), which must not be sent again. An
    unanswered delivery is released first, so an answer recorded from now on is sent
    whole."""
    where = (InboxItem.platform == platform, InboxItem.key == key)
    await uow.session.execute(
        update(InboxItem).where(*where, InboxItem.passive == AWAITED,
                                InboxItem.handled_at.is_(None))
        .values(passive=RELEASED))
    return await uow.session.scalar(select(InboxItem.passive).where(*where)) in (AWAITED, GIVEN)


async def take_over(uow: UnitOfWork, platform: str) -> int:
    """Void every lease on undelivered rows. Only for a process that knows it is alone
    (a long poller, which the platform serves one at a time), after its predecessor
    died sending."""
    return await uow.changed(
        update(InboxItem).where(InboxItem.platform == platform,
                                InboxItem.delivered_at.is_(None),
                                InboxItem.lease_until.is_not(None))
        .values(lease_until=None)
    )


_DELIVERED = (update(_I).where(_I.c.platform == bindparam("b_platform"),
                               _I.c.key.in_(bindparam("b_keys", expanding=True)))
              .values(delivered_at=bindparam("b_now", type_=_AT), lease_until=None,
                      handled_at=func.coalesce(_I.c.handled_at, bindparam("b_now", type_=_AT))))


async def delivered(uow: UnitOfWork, platform: str, key: str | list[str],
                    now: datetime) -> None:
    # A refusal (too long, someone else's command) is answered without a handling
    # transaction; delivering it is what finishes it.
    await uow.execute(_DELIVERED, {"b_platform": platform, "b_now": now,
                                           "b_keys": [key] if isinstance(key, str) else key})


async def unfinished(uow: UnitOfWork, platform: str, now: datetime,
                     limit: int = 500, received_before: datetime | None = None,
                     ) -> list[Pending]:
    """Deliveries not yet sent whose lease (if any) has run out, oldest first; only
    those received before `received_before`, if given (younger ones may still be in
    the hands of the process that received them)."""
    young = (InboxItem.received_at < received_before if received_before is not None
             else true())
    rows = await uow.session.execute(
        select(InboxItem.key, InboxItem.payload, InboxItem.handled_at)
        .where(InboxItem.platform == platform, InboxItem.delivered_at.is_(None),
               or_(InboxItem.lease_until.is_(None), InboxItem.lease_until <= now), young)
        .order_by(InboxItem.received_at, InboxItem.key).limit(limit)
    )
    return [Pending(r.key, r.payload, r.handled_at is not None) for r in rows]


async def prune(uow: UnitOfWork, before: datetime, limit: int | None = None) -> int:
    """Forget deliveries sent before `before` (at most `limit` of them); platforms stop
    redelivering within hours, and a delivery holds what the member wrote."""
    old = and_(InboxItem.delivered_at.is_not(None), InboxItem.delivered_at < before)
    if limit is None:
        return await uow.changed(delete(InboxItem).where(old))
    some = select(InboxItem.platform, InboxItem.key).where(old).limit(limit)
    return await uow.changed(delete(InboxItem).where(
        tuple_(InboxItem.platform, InboxItem.key).in_(some)))
