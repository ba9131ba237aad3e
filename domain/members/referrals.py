"""Referrals (推荐): a member's link brings a friend; both are rewarded when the friend
makes a first purchase, never at sign-up. Decided once per friend and kept, with why
when nobody was paid: self-referral, a cycle, or the referrer's cap."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from domain.config import Programme
from domain.members.members import member_number
from domain.members.tables import Member, ReferralReward
from domain.notices import announce
from domain.points import ledger
from domain.points.expiry import expires_at
from domain.privacy import returning
from domain.storage.database import UnitOfWork

MAX_CHAIN = 100  # how far up the referral chain a cycle is looked for


async def rewarded_count(uow: UnitOfWork, referrer_id: int) -> int:
    return await uow.session.scalar(
        select(func.count()).select_from(ReferralReward).where(
            ReferralReward.referrer_id == referrer_id, ReferralReward.outcome == "rewarded")
    ) or 0


async def on_first_purchase(uow: UnitOfWork, programme: Programme, member: Member,
                            now: datetime) -> str | None:
    """Pay both sides, or record why not. The caller holds the member's lock."""
    referrer_id = member.referred_by_id
    if referrer_id is None or await uow.session.get(ReferralReward, member.id) is not None:
        return None
    # Locked so two friends' first purchases cannot both slip under the cap.
    referrer = await uow.session.scalar(
        select(Member).where(Member.id == referrer_id).with_for_update(key_share=True))
    outcome = await _judge(uow, programme, member, referrer)
    uow.session.add(ReferralReward(referee_id=member.id, referrer_id=referrer_id,
                                   outcome=outcome, created_at=now))
    await uow.flush()
    rules, expiry = programme.earning, expires_at(programme.expiry, programme, now)
    if outcome in ("rewarded", "capped") and rules.referee:
        await ledger.post(uow, ledger.Post(
            member_id=member.id, delta=rules.referee, kind="earn", reason="referral_welcome",
            key=f"referral:referee:{member.id}", source="referral", expires_at=expiry,
            qualifying=rules.referee), now)
    if outcome == "rewarded" and rules.referrer:
        await ledger.post(uow, ledger.Post(
            member_id=referrer_id, delta=rules.referrer, kind="earn", reason="referral",
            key=f"referral:referrer:{member.id}", source="referral",
            params={"friend": member_number(member.id)}, expires_at=expiry,
            qualifying=rules.referrer), now)
        await announce.tell(uow, referrer_id, "notice.referral_rewarded",
                            {"points": rules.referrer}, f"referral:{member.id}", now)
    return outcome


async def _judge(uow: UnitOfWork, programme: Programme, member: Member,
                 referrer: Member | None) -> str:
    if referrer is None or referrer.id == member.id:
        return "self"
    if member.phone and referrer.phone == member.phone:
        return "self"  # a second account of the same person
    if await returning.returning(uow, member.id):
        return "returning"  # erased once and back: rewarded the first time only
    seen, current = {referrer.id}, referrer.referred_by_id
    for _ in range(MAX_CHAIN):
        if current is None:
            break
        if current == member.id or current in seen:
            return "cycle"
        seen.add(current)
        current = await uow.session.scalar(select(Member.referred_by_id)
                                           .where(Member.id == current))
    cap = programme.earning.referral_cap
    if cap and await rewarded_count(uow, referrer.id) >= cap:
        return "capped"
    return "rewarded"
