"""Coupons: what a redemption hands the member, checked and consumed at the till.

Codes are 16 characters from a 31-letter alphabet without look-alikes (about 79 bits),
drawn from the OS's CSPRNG. Consuming is one conditional UPDATE, so two tills at once
give one success; a failed guess is written down and counted per actor.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from domain.config import RewardItem
from domain.errors import Refused
from domain.members.members import CODE_ALPHABET
from domain.rewards.tables import Coupon, CouponFailure
from domain.storage.database import UnitOfWork

CODE_LENGTH = 16
GUESSES = 5  # failed codes allowed per actor per window
GUESS_WINDOW = timedelta(minutes=15)


class CouponRefused(Refused):
    pass


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch not in " -_")


def display(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


async def issue(uow: UnitOfWork, member_id: int, item: RewardItem, redemption_id: int | None,
                now: datetime) -> Coupon:
    coupon = Coupon(code=new_code(), member_id=member_id, reward=item.code, kind=item.kind,
                    value=item.value, status="issued", issued_at=now,
                    expires_at=now + timedelta(days=item.coupon_days),
                    redemption_id=redemption_id)
    uow.session.add(coupon)
    await uow.flush()
    return coupon


async def issue_many(uow: UnitOfWork, member_ids: list[int], item: RewardItem,
                     now: datetime) -> list[tuple[int, str]]:
    """`issue` for many members in one statement, outside any redemption: (coupon id,
    code) for each member, in the order given."""
    if not member_ids:
        return []
    codes = [new_code() for _ in member_ids]
    until = now + timedelta(days=item.coupon_days)
    values = [dict(code=code, member_id=m, reward=item.code, kind=item.kind, value=item.value,
                   status="issued", issued_at=now, expires_at=until)
              for m, code in zip(member_ids, codes, strict=True)]
    ids = list(await uow.session.scalars(
        Coupon.__table__.insert().returning(Coupon.id, sort_by_parameter_order=True), values))
    return list(zip(ids, codes, strict=True))


async def of_member(uow: UnitOfWork, member_id: int, limit: int = 20) -> list[Coupon]:
    rows = await uow.session.scalars(select(Coupon).where(Coupon.member_id == member_id)
                                     .order_by(Coupon.id.desc()).limit(limit))
    return list(rows)


def usable(coupon: Coupon, now: datetime) -> bool:
    return coupon.status == "issued" and coupon.expires_at > now


async def consume(uow: UnitOfWork, text: str, actor: str, now: datetime) -> Coupon:
    """Use a coupon once. The caller commits even on refusal, so failures are counted."""
    failures = (await uow.session.execute(
        select(func.count()).select_from(CouponFailure).where(
            CouponFailure.actor == actor, CouponFailure.created_at > now - GUESS_WINDOW)
    )).scalar_one()
    if failures >= GUESSES:
        raise CouponRefused("too_many_attempts", minutes=GUESS_WINDOW.seconds // 60)
    code = normalize(text)
    if len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code):
        used = await uow.session.scalar(
            update(Coupon).where(Coupon.code == code, Coupon.status == "issued",
                                 Coupon.expires_at > now)
            .values(status="used", used_at=now, used_by=actor[:64]).returning(Coupon.id))
        if used is not None:
            coupon = await uow.session.get(Coupon, used, populate_existing=True)
            assert coupon is not None  # this transaction's UPDATE just returned its id
            return coupon
        found = await uow.session.scalar(select(Coupon).where(Coupon.code == code))
        if found is not None and found.status == "used":
            raise CouponRefused("coupon_used", used_at=found.used_at)
        if found is not None:
            raise CouponRefused("coupon_expired", expired_at=found.expires_at)
    uow.session.add(CouponFailure(actor=actor[:64], created_at=now))
    await uow.flush()
    raise CouponRefused("coupon_unknown")


async def open_count(uow: UnitOfWork, member_id: int, now: datetime) -> int:
    """How many of the member's coupons may still be used."""
    return int(await uow.session.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.member_id == member_id, Coupon.status == "issued", Coupon.expires_at > now))
        or 0)
