"""Shared by the scheduler and lifecycle job tests: members made to measure, what they
were told, and the clock of the moment (time-machine)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import time_machine
from sqlalchemy import func, select, update

from domain.members import members
from domain.members.tables import Member
from domain.notices import notices
from domain.notices.tables import Notice
from domain.points.tables import LedgerEntry
from domain.rewards.tables import Coupon


async def a_member(db, programme, joined: datetime, user: str, **fields: Any) -> int:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "telegram", user, joined)).member
        await uow.flush()
        if fields:
            await uow.session.execute(update(Member).where(Member.id == member.id)
                                      .values(**fields))
        await uow.commit()
        return member.id


async def told(db, member_id: int) -> list[Notice]:
    async with db.uow() as uow:
        return _kept(uow, await notices.of_member(uow, member_id))


async def told_keys(db, member_id: int) -> list[str]:
    return [n.key for n in await told(db, member_id)]


async def entries(db, member_id: int, reason: str) -> list[LedgerEntry]:
    async with db.uow() as uow:
        return _kept(uow, list(await uow.session.scalars(select(LedgerEntry).where(
            LedgerEntry.member_id == member_id, LedgerEntry.reason == reason)
            .order_by(LedgerEntry.id))))


async def coupons_of(db, member_id: int) -> list[Coupon]:
    async with db.uow() as uow:
        return _kept(uow, list(await uow.session.scalars(select(Coupon).where(
            Coupon.member_id == member_id).order_by(Coupon.id))))


def _kept(uow, rows: list) -> list:
    """Rows to read after the unit of work ends (its rollback would expire them)."""
    uow.session.expunge_all()
    return rows


async def count(db, model) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def at(moment: datetime, job: Callable[..., Awaitable[Any]], db, programme,
             **kwargs: Any) -> Any:
    """Run a job as the scheduler would at `moment`: its clock is the wall clock."""
    with time_machine.travel(moment, tick=False):
        return await job(db, programme, datetime.now(UTC), **kwargs)


def with_(programme, **sections: dict[str, Any]):
    """The programme with some sections changed, e.g. with_(p, birthday={"points": 5})."""
    update_ = {name: getattr(programme, name).model_copy(update=values)
               for name, values in sections.items()}
    return programme.model_copy(update=update_)
