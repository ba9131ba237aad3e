"""Points given or taken back by staff (/award): one adjustment in the ledger with the
staff member's note, under a key fixed when the confirmation was shown (a double tap
moves points once), and a notice telling the member why.

Given points expire as earned ones do. They do not count towards a tier: a tier says
what a member bought, and a goodwill gesture is not a purchase. Taking back more than
the member holds is refused, never left negative.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domain.config import Programme
from domain.errors import InsufficientPoints
from domain.members.tables import Member
from domain.notices import announce
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.points.tables import LedgerEntry
from domain.storage.database import UnitOfWork

MOST = 1_000_000  # points one award may move, either way
NOTE_LONGEST = 200


class AwardRefused(ValueError):
    def __init__(self, code: str, **params: int) -> None:
        super().__init__(code)
        self.code = code  # "member", "range", "note", "short"
        self.params = params


@dataclass(frozen=True)
class Awarded:
    balance: int
    duplicate: bool  # this key moved points before: nothing moved now


def clean_note(text: str) -> str:
    """The note as kept: one line, no control or format characters, spaces squeezed."""
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" else c
                   for c in unicodedata.normalize("NFKC", text))
    return " ".join(kept.split())


def check(points: int, note: str) -> str:
    """The note to keep, or why the award cannot be made."""
    if not 1 <= abs(points) <= MOST:
        raise AwardRefused("range", most=MOST)
    kept = clean_note(note)
    if not kept or len(kept) > NOTE_LONGEST:
        raise AwardRefused("note", longest=NOTE_LONGEST)
    return kept


async def award(uow: UnitOfWork, programme: Programme, staff_id: int, member_id: int,
                points: int, note: str, key: str, now: datetime) -> Awarded:
    """Give (`points` > 0) or take back points, once for `key`."""
    kept = check(points, note)
    member = await uow.session.get(Member, member_id)
    if member is None or member.status == "erased":
        raise AwardRefused("member")
    try:
        posted = await ledger.post(uow, ledger.Post(
            member_id, points, "adjust", "adjusted", key=f"award:{key}", source="staff",
            params={"note": kept, "by": staff_id},
            expires_at=expires_at(programme.expiry, programme, now) if points > 0 else None),
            now)
    except InsufficientPoints as short:
        raise AwardRefused("short", balance=int(short.params.get("balance", 0))) from None
    if not posted.duplicate:
        await announce.tell(uow, member_id, "notice.points_given" if points > 0
                            else "notice.points_taken",
                            {"points": abs(points), "note": kept, "balance": posted.balance},
                            f"award:{key}", now)
    return Awarded(posted.balance, posted.duplicate)


async def made(uow: UnitOfWork, key: str) -> bool:
    """Whether the award confirmed under `key` moved points."""
    return await uow.scalar(select(LedgerEntry.id).where(
        LedgerEntry.idempotency_key == f"award:{key}")) is not None
