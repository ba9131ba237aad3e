"""Member tags: short labels operators put on members ("vip", "wholesale") so that
campaigns can pick them out. A tag is lower-case letters, digits, "_" and "-"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select

from domain.errors import DomainError
from domain.members.tables import MemberTag
from domain.storage.database import UnitOfWork

TAG = re.compile(r"[a-z0-9][a-z0-9_\-]{0,31}")  # checked whole: fullmatch
MAX_PER_MEMBER = 30
MAX_AT_ONCE = 10


class TagRefused(DomainError):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        super().__init__(**params)


def normalize(raw: str) -> str:
    """'#VIP' -> 'vip'; TagRefused("tag_invalid") when it cannot be a tag."""
    tag = raw.strip().lstrip("#").lower()
    if not TAG.fullmatch(tag):
        raise TagRefused("tag_invalid", tag=raw.strip()[:32])
    return tag


def parse(raw: Iterable[str]) -> tuple[str, ...]:
    """Distinct valid tags in the order given."""
    tags = tuple(dict.fromkeys(normalize(t) for t in raw if t.strip()))
    if len(tags) > MAX_AT_ONCE:
        raise TagRefused("tag_too_many", max=MAX_AT_ONCE)
    return tags


async def of_member(uow: UnitOfWork, member_id: int) -> list[str]:
    return list(await uow.session.scalars(
        select(MemberTag.tag).where(MemberTag.member_id == member_id).order_by(MemberTag.tag)))


async def add(uow: UnitOfWork, member_id: int, tags: Iterable[str], now: datetime) -> list[str]:
    """The tags that were new; one the member has already is left as it is."""
    wanted = [t for t in tags if t not in set(await of_member(uow, member_id))]
    held = await uow.session.scalar(select(func.count()).select_from(MemberTag)
                                    .where(MemberTag.member_id == member_id)) or 0
    if held + len(wanted) > MAX_PER_MEMBER:
        raise TagRefused("tag_limit", max=MAX_PER_MEMBER)
    if wanted:
        await uow.session.execute(
            uow.upsert(MemberTag).on_conflict_do_nothing(
                index_elements=["member_id", "tag"]),
            [{"member_id": member_id, "tag": t, "created_at": now} for t in wanted])
    return wanted


async def remove(uow: UnitOfWork, member_id: int, tags: Iterable[str]) -> list[str]:
    """The tags the member had and no longer has."""
    gone = list(await uow.session.scalars(
        delete(MemberTag).where(MemberTag.member_id == member_id,
                                MemberTag.tag.in_(list(tags))).returning(MemberTag.tag)))
    return sorted(gone)
