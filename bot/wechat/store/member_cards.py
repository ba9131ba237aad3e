"""Membership cards (会员卡) kept in step with the ledger and the tier.

A card shows the member's balance and tier. Each linked card carries cursors: the
last ledger entry and tier change it shows. `due` lists cards behind their member
and leases them so only one worker pushes an update; `synced` moves the cursors
forward (never back). The update itself carries absolute values, so pushing the same
one twice after a crash leaves the card right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from bot.wechat.store.tables import MemberCard
from domain.members.tables import Member
from domain.points.tables import LedgerEntry
from domain.storage.database import UnitOfWork
from domain.tiers.tables import TierChange

LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class CardUpdate:
    card_id: str
    code: str
    member_id: int
    bonus: int
    added: int | None  # change since the card last showed a balance; None at first
    tier: str | None
    entry_id: int
    tier_change_id: int


async def activate(uow: UnitOfWork, card_id: str, code: str, member_id: int,
                   now: datetime) -> bool:
    """Link a card to a member; False when this card was linked already."""
    if await uow.session.get(MemberCard, (card_id, code)) is not None:
        return False
    uow.session.add(MemberCard(card_id=card_id, code=code, member_id=member_id,
                               activated_at=now, synced_entry_id=0, synced_tier_change_id=0))
    await uow.flush()
    return True


async def of_member(uow: UnitOfWork, card_id: str, member_id: int) -> MemberCard | None:
    return await uow.session.scalar(select(MemberCard).where(
        MemberCard.card_id == card_id, MemberCard.member_id == member_id))


async def due(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[CardUpdate]:
    """Cards whose member changed since they were last updated; leased to the caller."""
    last_entry = (select(func.max(LedgerEntry.id)).where(LedgerEntry.member_id == Member.id)
                  .scalar_subquery())
    last_change = (select(func.max(TierChange.id)).where(TierChange.member_id == Member.id)
                   .scalar_subquery())
    entry, change = func.coalesce(last_entry, 0), func.coalesce(last_change, 0)
    rows = (await uow.session.execute(
        select(MemberCard, Member.points_balance, Member.tier, entry.label("entry"),
               change.label("change"))
        .join(Member, Member.id == MemberCard.member_id)
        .where(or_(MemberCard.lease_until.is_(None), MemberCard.lease_until <= now),
               or_(entry > MemberCard.synced_entry_id,
                   change > MemberCard.synced_tier_change_id))
        .order_by(MemberCard.activated_at).limit(limit)
    )).all()
    found = []
    for card, balance, tier, entry_id, change_id in rows:
        leased = await uow.changed(
            update(MemberCard).where(
                MemberCard.card_id == card.card_id, MemberCard.code == card.code,
                or_(MemberCard.lease_until.is_(None), MemberCard.lease_until <= now))
            .values(lease_until=now + LEASE))
        if leased != 1:
            continue  # another worker took it between our read and our update
        added = None if card.synced_bonus is None else balance - card.synced_bonus
        found.append(CardUpdate(card.card_id, card.code, card.member_id, balance, added, tier,
                                entry_id, change_id))
    return found


async def synced(uow: UnitOfWork, done: CardUpdate) -> None:
    """The card shows this update now; cursors only move forward."""
    card = MemberCard
    greatest = func.max if uow.dialect == "sqlite" else func.greatest  # SQLite's 2-arg max
    await uow.session.execute(
        update(card).where(card.card_id == done.card_id, card.code == done.code)
        .values(synced_entry_id=greatest(card.synced_entry_id, done.entry_id),
                synced_tier_change_id=greatest(card.synced_tier_change_id,
                                               done.tier_change_id),
                synced_bonus=done.bonus, lease_until=None))


async def release(uow: UnitOfWork, failed: CardUpdate) -> None:
    """Sending failed: let the next pass try again."""
    await uow.session.execute(update(MemberCard).where(
        MemberCard.card_id == failed.card_id, MemberCard.code == failed.code)
        .values(lease_until=None))
