"""Erasure, as the Official Account's own state sees it: what we keep of a member
outside the domain's tables goes with them (domain/privacy/erasure.py calls `forget`
in the erasing transaction, once the composition root has `register`ed it).

- service windows are keyed by the member's openid: deleted;
- membership cards carry the card's code, which names the member's card in WeChat:
  deleted, so nothing syncs to it again.
Tokens, QR scenes and uploaded images name no member and stay.
"""

from __future__ import annotations

from sqlalchemy import delete, tuple_

from bot.wechat.store.tables import MemberCard, ServiceWindow
from domain.privacy import erasure
from domain.storage.database import UnitOfWork

NAME = "wechat"
TABLES = ("service_windows", "member_cards")


async def forget(uow: UnitOfWork, member_id: int, accounts: list[tuple[str, str]]) -> None:
    if accounts:
        await uow.execute(delete(ServiceWindow).where(
            tuple_(ServiceWindow.platform, ServiceWindow.user_id).in_(accounts)))
    await uow.execute(delete(MemberCard).where(MemberCard.member_id == member_id))


def register() -> None:
    erasure.register(NAME, forget, TABLES)
