"""Members for campaign tests and benchmarks, written in bulk with the traits a segment
can pick on (tier, locale, consent, purchases, identities, tags)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, text

from domain.members.tables import Identity, Member, MemberTag


@dataclass
class Person:
    tier: str | None = "member"
    locale: str | None = None
    consent: bool = True
    status: str = "active"
    points: int = 0
    birth_month: int | None = None
    joined_days_ago: int = 400
    idle_days: int = 1
    purchases: int = 0
    first_purchase_days_ago: int | None = None
    last_purchase_days_ago: int | None = None
    accounts: tuple[tuple[str, str], ...] | None = None  # default: one Telegram account
    tags: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


def row(member_id: int, person: Person, now: datetime) -> dict:
    def ago(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    return dict(
        id=member_id, referral_code=f"R{member_id:011d}", joined_at=ago(person.joined_days_ago),
        last_active_at=ago(person.idle_days), tier=person.tier, locale=person.locale,
        marketing_consent=person.consent, status=person.status,
        points_balance=person.points, birth_month=person.birth_month,
        birth_day=1 if person.birth_month else None, purchase_count=person.purchases,
        first_purchase_at=ago(person.first_purchase_days_ago),
        last_purchase_at=ago(person.last_purchase_days_ago), phone_verified=False,
        **person.extra)


async def add(db, people: Iterable[Person], now: datetime, first_id: int = 1) -> list[int]:
    """Write the people as members numbered from `first_id`; returns their ids."""
    rows, accounts, tags = [], [], []
    for offset, person in enumerate(people):
        member_id = first_id + offset
        rows.append(row(member_id, person, now))
        for platform, external in (person.accounts if person.accounts is not None
                                   else (("telegram", str(50_000 + member_id)),)):
            accounts.append(dict(member_id=member_id, platform=platform, external_id=external,
                                 linked_at=now))
        tags += [dict(member_id=member_id, tag=t, created_at=now) for t in person.tags]
    async with db.uow() as uow:
        for table, values in ((Member.__table__, rows), (Identity.__table__, accounts),
                              (MemberTag.__table__, tags)):
            for start in range(0, len(values), 5_000):
                if values[start:start + 5_000]:
                    await uow.session.execute(insert(table), values[start:start + 5_000])
        if uow.dialect == "postgresql":  # ids were given: move the sequence past them
            await uow.session.execute(text(
                "SELECT setval(pg_get_serial_sequence('members', 'id'), "
                "(SELECT max(id) FROM members))"))
        await uow.commit()
    return [r["id"] for r in rows]


async def plain(db, count: int, now: datetime, first_id: int = 1, **traits) -> list[int]:
    """`count` alike members who agreed to marketing, each with a Telegram account."""
    return await add(db, (Person(**traits) for _ in range(count)), now, first_id)
