"""The rewards catalogue and redemption.

A redemption is one savepoint: claim the tap's key, check the member may have it,
take one from stock with a conditional UPDATE, debit the points through the ledger
and issue the coupon. Any refusal takes all of it back; a repeated tap returns the
coupon the first one issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update

from domain.config import Programme, RewardItem
from domain.errors import Refused, UnknownMember
from domain.members.tables import Member
from domain.points import ledger
from domain.rewards import catalogue as edits
from domain.rewards import coupons
from domain.rewards.tables import Coupon, Redemption, RewardStock
from domain.storage.database import UnitOfWork


class RewardRefused(Refused):
    pass


@dataclass(frozen=True)
class Offer:
    item: RewardItem
    locked: str | None  # None: redeemable; else tier, points, stock, limit, dates, off
    needed: int = 0  # points still missing when locked by points
    remaining: int | None = None


@dataclass(frozen=True)
class Redeemed:
    coupon: Coupon
    balance: int
    duplicate: bool


async def stock_of(uow: UnitOfWork, programme: Programme) -> dict[str, RewardStock]:
    rows = await uow.session.scalars(select(RewardStock))
    return {row.code: row for row in rows}


async def counts(uow: UnitOfWork, member_id: int) -> dict[str, int]:
    rows = await uow.session.execute(
        select(Redemption.reward, func.count()).where(Redemption.member_id == member_id)
        .group_by(Redemption.reward))
    return dict(rows.all())


def judge(programme: Programme, item: RewardItem, member: Member, balance: int,
          taken: int, stock: RewardStock | None, now: datetime) -> Offer:
    """Why this member cannot have this item now, or None. Pure, so the list and the
    redemption refuse for the same reasons."""
    day = now.astimezone(programme.zone).date()
    remaining = stock.remaining if stock is not None else item.stock
    ladder = programme.tiers
    if stock is not None and not stock.enabled:
        return Offer(item, "off", remaining=remaining)
    if (item.starts and day < item.starts) or (item.ends and day > item.ends):
        return Offer(item, "dates", remaining=remaining)
    if item.min_tier and ladder.rank(member.tier) < ladder.rank(item.min_tier):
        return Offer(item, "tier", remaining=remaining)
    if remaining is not None and remaining <= 0:
        return Offer(item, "stock", remaining=remaining)
    if item.per_member is not None and taken >= item.per_member:
        return Offer(item, "limit", remaining=remaining)
    if balance < item.cost:
        return Offer(item, "points", needed=item.cost - balance, remaining=remaining)
    return Offer(item, None, remaining=remaining)


async def catalogue(uow: UnitOfWork, programme: Programme, member: Member, balance: int,
                    now: datetime) -> list[Offer]:
    stock, taken = await stock_of(uow, programme), await counts(uow, member.id)
    return [judge(programme, item, member, balance, taken.get(item.code, 0),
                  stock.get(item.code), now) for item in await edits.refresh(uow, programme)]


def redemption_key(member_id: int, code: str, tap: str) -> str:
    """A tap is one confirmation of one item for one member: all three name it."""
    return f"redeem:{member_id}:{code}:{tap}"


async def tapped(uow: UnitOfWork, member_id: int, code: str, tap: str) -> bool:
    """Whether this confirmation was redeemed already."""
    return await uow.session.scalar(select(Redemption.id).where(
        Redemption.key == redemption_key(member_id, code, tap))) is not None


async def redeem(uow: UnitOfWork, programme: Programme, member_id: int, code: str, tap: str,
                 now: datetime, cost: int | None = None) -> Redeemed:
    """`cost`: what the member was shown; an operator's change since then is refused
    (`changed`) rather than charged unseen. A repeated tap is answered even so."""
    # Read in this transaction: the cost charged is the one current as it commits.
    item = next((i for i in await edits.refresh(uow, programme) if i.code == code), None)
    if item is None:
        raise RewardRefused("unknown")
    key = redemption_key(member_id, code, tap)
    async with uow.savepoint():
        claimed = await uow.session.scalar(
            uow.upsert(Redemption).values(
                key=key, member_id=member_id, reward=code, cost=item.cost, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(Redemption.id))
        if claimed is None:
            return await _repeat(uow, key, member_id)
        if cost is not None and cost != item.cost:
            raise RewardRefused("changed", cost=item.cost)
        member = await uow.session.scalar(
            select(Member).where(Member.id == member_id).with_for_update(key_share=True)
            .execution_options(populate_existing=True))
        if member is None:
            raise UnknownMember(member_id=member_id)
        balance = await ledger.settle(uow, member, now)
        await ensure_stock(uow, item, now)
        taken = (await counts(uow, member_id)).get(code, 0) - 1  # less this one
        stock = await uow.session.get(RewardStock, code, populate_existing=True)
        offer = judge(programme, item, member, balance, taken, stock, now)
        if offer.locked is not None and offer.locked != "stock":
            raise RewardRefused(offer.locked, needed=offer.needed)
        took = await uow.session.scalar(
            update(RewardStock).where(
                RewardStock.code == code, RewardStock.enabled.is_(True),
                (RewardStock.remaining.is_(None)) | (RewardStock.remaining > 0))
            .values(remaining=case((RewardStock.remaining.is_(None), None),
                                   else_=RewardStock.remaining - 1), updated_at=now)
            .returning(RewardStock.code))
        if took is None:
            raise RewardRefused("stock")
        posted = await ledger.post(uow, ledger.Post(
            member_id=member_id, delta=-item.cost, kind="redeem", reason="redeemed",
            key=key, source="rewards", params={"reward": code}), now)
        coupon = await coupons.issue(uow, member_id, item, claimed, now)
    return Redeemed(coupon, posted.balance, duplicate=False)


async def ensure_stock(uow: UnitOfWork, item: RewardItem, now: datetime) -> None:
    """The live stock row starts from the programme's figure the first time it is needed."""
    await uow.session.execute(
        uow.upsert(RewardStock).values(
            code=item.code, remaining=item.stock, enabled=True, updated_at=now)
        .on_conflict_do_nothing(index_elements=["code"]))


async def set_stock(uow: UnitOfWork, item: RewardItem, remaining: int | None,
                    enabled: bool, now: datetime) -> None:
    await ensure_stock(uow, item, now)
    await uow.session.execute(update(RewardStock).where(RewardStock.code == item.code)
                              .values(remaining=remaining, enabled=enabled, updated_at=now))


async def _repeat(uow: UnitOfWork, key: str, member_id: int) -> Redeemed:
    coupon = await uow.session.scalar(
        select(Coupon).join(Redemption, Redemption.id == Coupon.redemption_id)
        .where(Redemption.key == key))
    if coupon is None:  # the key belongs to a redemption still in flight elsewhere
        raise RewardRefused("busy")
    return Redeemed(coupon, await ledger.balance_of(uow, member_id), duplicate=True)
