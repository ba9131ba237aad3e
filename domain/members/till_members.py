"""The member a till names: by member number, phone, or platform account."""

from __future__ import annotations

from sqlalchemy import select

from domain.members.tables import Identity, Member
from domain.points.purchases import PurchaseRefused
from domain.storage.database import UnitOfWork


async def find_member(uow: UnitOfWork, number: str | None = None, phone: str | None = None,
                      platform: str | None = None, external_id: str | None = None) -> Member:
    """The member a till names, by exactly one of: number, phone, platform account."""
    stmt = None
    if number is not None and number.isascii() and number.isdigit() and len(number) <= 18:
        stmt = select(Member).where(Member.id == int(number))
    elif phone is not None:
        stmt = select(Member).where(Member.phone == phone).limit(2)
    elif platform is not None and external_id is not None:
        stmt = (select(Member).join(Identity, Identity.member_id == Member.id)
                .where(Identity.platform == platform, Identity.external_id == external_id))
    found = list(await uow.session.scalars(stmt)) if stmt is not None else []
    if len(found) > 1:
        raise PurchaseRefused("ambiguous_member")
    if not found or found[0].status == "erased":
        raise PurchaseRefused("unknown_member")
    return found[0]


async def member_id_for(uow: UnitOfWork, ref: dict[str, str]) -> int:
    """A member number needs no lookup: `record` refuses one that does not exist."""
    number = ref.get("number")
    if number is not None and number.isascii() and number.isdigit() and len(number) <= 18:
        return int(number)
    return (await find_member(uow, **ref)).id


async def lock_members(uow: UnitOfWork, member_ids: list[int]) -> None:
    """Lock several members at once, in id order: transactions that share members then
    queue behind one another instead of each holding one and waiting for the other
    (PostgreSQL's deadlock). A member locked here is locked again for free later."""
    if len(member_ids) > 1 and uow.dialect == "postgresql":
        await uow.session.execute(
            select(Member.id).where(Member.id.in_(sorted(set(member_ids))))
            .order_by(Member.id).with_for_update(key_share=True))


async def lock_member(uow: UnitOfWork, member_id: int) -> Member:
    """Serialises one member's points changes (refunds, purchases) on PostgreSQL."""
    member = await uow.session.scalar(
        select(Member).where(Member.id == member_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True))
    if member is None:
        raise PurchaseRefused("unknown_member")
    return member
