"""Coupons the programme gives away (birthday gifts, win-back offers) rather than sells.

A gift takes one from the reward's live stock like a redemption does, so giving away
a limited item can never hand out more than there is, and a reward switched off with
/stock is not given either. No points move.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from domain.config import Programme
from domain.rewards import catalogue, coupons, rewards
from domain.rewards.tables import Coupon, RewardStock
from domain.storage.database import UnitOfWork


async def give_coupon(uow: UnitOfWork, programme: Programme, member_id: int, code: str,
                      now: datetime) -> Coupon | None:
    """The coupon given, or None when the reward is out of stock or switched off."""
    item = next((i for i in await catalogue.refresh(uow, programme) if i.code == code), None)
    if item is None:
        return None
    await rewards.ensure_stock(uow, item, now)
    took = await uow.session.scalar(
        update(RewardStock).where(
            RewardStock.code == code, RewardStock.enabled.is_(True),
            RewardStock.remaining.is_(None) | (RewardStock.remaining > 0))
        .values(remaining=case((RewardStock.remaining.is_(None), None),
                               else_=RewardStock.remaining - 1), updated_at=now)
        .returning(RewardStock.code))
    if took is None:
        return None
    return await coupons.issue(uow, member_id, item, None, now)


async def give_coupons(uow: UnitOfWork, programme: Programme, member_ids: list[int],
                       code: str, now: datetime) -> dict[int, tuple[int, datetime]]:
    """`give_coupon` for many members at once (a win-back slice): (coupon id, expiry) by
    member, for as many of them, in the order given, as the live stock allows."""
    item = next((i for i in await catalogue.refresh(uow, programme) if i.code == code), None)
    if item is None or not member_ids:
        return {}
    await rewards.ensure_stock(uow, item, now)
    stock = select(RewardStock.remaining).where(RewardStock.code == code,
                                                RewardStock.enabled.is_(True))
    if uow.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE already holds the lock
        stock = stock.with_for_update()
    row = (await uow.session.execute(stock)).first()
    if row is None:
        return {}
    taking = member_ids if row.remaining is None else member_ids[:max(row.remaining, 0)]
    if not taking:
        return {}
    await uow.session.execute(update(RewardStock).where(RewardStock.code == code).values(
        remaining=case((RewardStock.remaining.is_(None), None),
                       else_=RewardStock.remaining - len(taking)), updated_at=now))
    issued = await coupons.issue_many(uow, taking, item, now)
    until = now + timedelta(days=item.coupon_days)
    return {m: (cid, until) for m, (cid, _) in zip(taking, issued, strict=True)}
