"""What an active paid plan gives that other capabilities read: the plan, whose
multiplier domain/points adds to purchase points, and the gated chats it opens to its
member whatever their tier, which domain/community reads when it judges who may be in
a chat. Kept apart from the subscriptions, which re-judge seats themselves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from domain.membership.tables import Subscription
from domain.storage.database import UnitOfWork

ACTIVE = "active"


def active_plan(member_id: Any) -> Any:
    """The code of the member's active plan, as a scalar subquery (NULL for none)."""
    return (select(Subscription.plan).where(Subscription.member_id == member_id,
                                            Subscription.status == ACTIVE)
            .order_by(Subscription.id).limit(1).scalar_subquery())


async def passes(uow: UnitOfWork, member_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(member, chat id) for every gated chat an active plan opens to these members."""
    ids = set(member_ids)
    if not ids:
        return set()
    rows = await uow.session.execute(select(Subscription.member_id, Subscription.chats).where(
        Subscription.member_id.in_(ids), Subscription.status == ACTIVE))
    found: set[tuple[int, str]] = set()
    for row in rows:
        found.update((int(row.member_id), str(chat)) for chat in row.chats or ())
    return found


async def holds_pass(uow: UnitOfWork, member_id: int, chat_id: str) -> bool:
    return (member_id, chat_id) in await passes(uow, [member_id])
