"""Members and their platform identities."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.elements import ColumnElement

from domain.config import LOCALES, Programme
from domain.errors import LinkRefused, UnknownMember
from domain.members.profile import Birthday
from domain.members.tables import Identity, LinkCode, Member
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.storage.database import UnitOfWork
from domain.tiers import tiers

# No 0/O, 1/I/L: codes are read aloud and typed from screens.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LINK_CODE_TTL = timedelta(minutes=10)
NUMBER_WIDTH = 8


def new_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def member_number(member_id: int) -> str:
    return str(member_id).zfill(NUMBER_WIDTH)


@dataclass(frozen=True)
class Registration:
    member: Member
    created: bool


_NEW_MEMBER = insert(Member.__table__).returning(*Member.__table__.c)
_NEW_IDENTITY = insert(Identity.__table__)
_BY_IDENTITY = (select(Member, Identity.external_id)
                .join(Identity, Identity.member_id == Member.id)
                .where(Identity.platform == bindparam("b_platform"),
                       Identity.external_id.in_(bindparam("b_ids", expanding=True))))


async def by_identity(uow: UnitOfWork, platform: str, external_id: str) -> Member | None:
    return (await by_identities(uow, platform, [external_id])).get(external_id)


async def by_identities(uow: UnitOfWork, platform: str,
                        external_ids: list[str]) -> dict[str, Member]:
    """The members behind many accounts of one platform, in one query."""
    rows = await uow.session.execute(_BY_IDENTITY, {"b_platform": platform,
                                                    "b_ids": list(set(external_ids))})
    return {external_id: member for member, external_id in rows}


async def get(uow: UnitOfWork, member_id: int) -> Member:
    member = await uow.session.get(Member, member_id)
    if member is None:
        raise UnknownMember(member_id=member_id)
    return member


async def register(uow: UnitOfWork, programme: Programme, platform: str, external_id: str,
                   now: datetime, referral_code: str | None = None,
                   known: Member | None = None, looked_up: bool = False) -> Registration:
    """Zero-friction sign-up: an identity we have not seen becomes a member at once.
    `known`: the member already looked up for this identity (a batch loads them at once);
    `looked_up`: that lookup was made in this transaction, so None means nobody."""
    existing = known if known is not None or looked_up else \
        await by_identity(uow, platform, external_id)
    if existing is not None:
        return Registration(existing, created=False)
    referrer = None
    if referral_code:
        referrer = await uow.session.scalar(
            select(Member.id).where(Member.referral_code == referral_code.upper())
        )
    valid_until = (now + timedelta(days=programme.tiers.validity_days)
                   if programme.tiers.mode == "up_and_down" else None)
    # Core, with the whole new row returned: a first message of 1,000 new members at
    # once spent most of its time in ORM flushes. The row becomes the loaded member.
    row = (await uow.execute(_NEW_MEMBER, {
        "joined_at": now, "last_active_at": now, "referral_code": new_code(8),
        "referred_by_id": referrer, "tier": programme.tiers.levels[0].code,
        "tier_valid_until": valid_until})).one()
    await uow.execute(_NEW_IDENTITY, {"member_id": row.id, "platform": platform,
                                      "external_id": external_id, "linked_at": now})
    member = Member(**row._mapping)
    make_transient_to_detached(member)
    uow.session.add(member)
    return Registration(member, created=True)


ACTIVITY_GRAIN = timedelta(minutes=1)


async def touch(uow: UnitOfWork, member: Member, now: datetime,
                hint: str | None = None) -> None:
    """Activity is kept to the minute: lapse detection thinks in days, and skipping the
    write spares a row update on most messages of a conversation. `hint`: the language
    the message's platform suggests (a code we speak, else ignored), kept when it
    changed, so campaigns and notices sent later speak it too."""
    if now - member.last_active_at >= ACTIVITY_GRAIN or now < member.last_active_at:
        member.last_active_at = now
    if member.status == "unreachable":
        member.status = "active"
    if hint in LOCALES and member.language_hint != hint:
        member.language_hint = hint


def language(member: Member, programme: Programme) -> str:
    """The language a member reads: their choice, else their platform's hint, else the
    programme's default. `language_column` is the same rule in SQL."""
    return member.locale or member.language_hint or programme.default_locale


def language_column(programme: Programme) -> ColumnElement[str]:
    """`language` as a column of `members`, for segments and counts."""
    m = Member.__table__.c
    return func.coalesce(m.locale, m.language_hint, programme.default_locale)


async def set_reachable(uow: UnitOfWork, platform: str, external_id: str, reachable: bool,
                        now: datetime) -> bool:
    """The member blocked or unblocked us (or unfollowed): notices stop or resume.
    False when nobody has that account; no member is made for a block."""
    member = await by_identity(uow, platform, external_id)
    if member is None or member.status == "erased":
        return False
    member.status = "active" if reachable else "unreachable"
    if reachable:
        member.last_active_at = now
    return True


def profile_complete(member: Member) -> bool:
    return bool(member.display_name and member.phone and member.birth_month
                and member.consent_at is not None)


async def award_profile_completion(uow: UnitOfWork, programme: Programme, member: Member,
                                   now: datetime) -> int:
    """Points once per member, the first time every field is filled in."""
    points = programme.earning.profile_completion
    if not points or not profile_complete(member):
        return 0
    posted = await ledger.post(uow, ledger.Post(
        member_id=member.id, delta=points, kind="earn", reason="profile_completed",
        key=f"profile:{member.id}", expires_at=expires_at(programme.expiry, programme, now),
        qualifying=points,
    ), now)
    if posted.duplicate:
        return 0
    await tiers.reevaluate(uow, programme.tiers, member.id, now)
    await uow.session.refresh(member)
    return points


def set_birthday(member: Member, birthday: Birthday) -> None:
    member.birth_month, member.birth_day, member.birth_year = (
        birthday.month, birthday.day, birthday.year)


async def many(uow: UnitOfWork, member_ids: Iterable[int]) -> dict[int, Member]:
    """Many members in one query (and in the session after it, so `get` finds them
    without another)."""
    found = await uow.session.scalars(select(Member).where(Member.id.in_(set(member_ids))))
    return {member.id: member for member in found}


async def accounts_of(uow: UnitOfWork, member_ids: Iterable[int],
                      ) -> dict[int, dict[str, str]]:
    """Each member's accounts, platform -> id on it, for many members in one query."""
    found: dict[int, dict[str, str]] = {}
    for member_id, platform, external_id in await uow.session.execute(
            select(Identity.member_id, Identity.platform, Identity.external_id)
            .where(Identity.member_id.in_(set(member_ids))).order_by(Identity.id)):
        found.setdefault(member_id, {})[platform] = external_id
    return found


async def identities(uow: UnitOfWork, member_id: int) -> list[Identity]:
    rows = await uow.session.scalars(select(Identity).where(Identity.member_id == member_id)
                                     .order_by(Identity.id))
    return list(rows)


async def issue_link_code(uow: UnitOfWork, member_id: int, now: datetime) -> LinkCode:
    code = LinkCode(code=new_code(8), member_id=member_id, expires_at=now + LINK_CODE_TTL)
    uow.session.add(code)
    await uow.flush()
    return code


async def link(uow: UnitOfWork, code: str, platform: str, external_id: str,
               now: datetime) -> Member:
    """Attach this platform account to the member who issued `code`.

    The code is spent with a conditional UPDATE, so two accounts racing for one
    code cannot both win. An account that already has history is refused rather
    than merged: merging would rewrite the append-only ledger.
    """
    link_code = await uow.session.get(LinkCode, code.strip().upper())
    if link_code is None:
        raise LinkRefused("link_unknown")
    if link_code.used_at is not None:
        raise LinkRefused("link_used")
    if link_code.expires_at <= now:
        raise LinkRefused("link_expired")
    target = await get(uow, link_code.member_id)
    if target.status == "erased":  # its accounts moved on; its codes died with it
        raise LinkRefused("link_unknown")
    current = await by_identity(uow, platform, external_id)
    if current is not None and current.id == target.id:
        raise LinkRefused("link_same_member")
    moving = await identities(uow, current.id) if current is not None else []
    taken = {i.platform for i in await identities(uow, target.id)}
    if platform in taken or any(i.platform in taken for i in moving):
        raise LinkRefused("link_platform_taken", platform=platform)
    if current is not None and (await ledger.count(uow, current.id) or current.points_balance):
        raise LinkRefused("link_has_history")
    spent = await uow.changed(
        update(LinkCode).where(LinkCode.code == link_code.code, LinkCode.used_at.is_(None))
        .values(used_at=now)
    )
    if spent != 1:
        raise LinkRefused("link_used")
    if current is None:
        uow.session.add(Identity(member_id=target.id, platform=platform, external_id=external_id,
                                 linked_at=now))
    else:
        # A fresh member brings every account it has, so none is left on an erased member.
        for identity in moving:
            identity.member_id, identity.linked_at = target.id, now
        current.status = "erased"
    await uow.flush()
    return target
