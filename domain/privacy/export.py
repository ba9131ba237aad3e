"""Everything the programme holds about one member, for /mydata (GDPR Art. 15 and 20,
PIPL Art. 45): their profile, accounts, consents, points, purchases, coupons,
referrals, survey answers, support messages and tier history.

Only their own: a referral says when and how it ended, not who the friend is; a
support message says whether staff wrote it, not which staff member. Values are as
stored (moments in UTC, money in minor units with its currency); wording for the
member's language is added by the conversation that sends it. One export a member may
ask for a day (LIMIT), kept in data_exports, as are staff's on a member's behalf.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members.tables import Identity, Member, MemberTag, ReferralReward
from domain.membership.tables import Payment, Subscription
from domain.points.tables import Checkin, LedgerEntry, Purchase
from domain.privacy import consents
from domain.privacy.tables import DataExport, ErasureRequest, RetentionWarning
from domain.rewards.tables import Coupon, Redemption
from domain.storage.database import UnitOfWork
from domain.support.tables import SupportConversation, SupportMessage
from domain.tiers.tables import TierChange

LIMIT = timedelta(days=1)
Row = dict[str, Any]


async def last_asked(uow: UnitOfWork, member_id: int) -> datetime | None:
    """When the member last asked for their data themselves (staff's don't count)."""
    return await uow.session.scalar(select(func.max(DataExport.at)).where(
        DataExport.member_id == member_id, DataExport.staff_id.is_(None)))


def next_allowed(last: datetime) -> datetime:
    return last + LIMIT


async def record(uow: UnitOfWork, member_id: int, channel: str, now: datetime,
                 staff_id: int | None = None) -> None:
    uow.session.add(DataExport(member_id=member_id, at=now, channel=channel,
                               staff_id=staff_id))
    await uow.flush()


async def gather(uow: UnitOfWork, member: Member) -> dict[str, Any]:
    """Every record of `member`, section by section, oldest first."""
    mid = member.id

    async def rows(stmt: Any) -> list[Row]:
        return [dict(r._mapping) for r in await uow.session.execute(stmt)]

    standing = await consents.standing(uow, member)
    return {
        "profile": {
            "member_number": mid, "name": member.display_name, "phone": member.phone,
            "phone_verified": member.phone_verified,
            "birthday": {"year": member.birth_year, "month": member.birth_month,
                         "day": member.birth_day} if member.birth_month else None,
            "language": member.locale, "time_zone": member.timezone,
            "status": member.status, "joined_at": member.joined_at,
            "last_active_at": member.last_active_at, "tier": member.tier,
            "tier_valid_until": member.tier_valid_until,
            "points_balance": member.points_balance, "referral_code": member.referral_code,
            "referred": member.referred_by_id is not None,
        },
        "accounts": await rows(select(Identity.platform, Identity.external_id,
                                      Identity.linked_at).where(Identity.member_id == mid)
                               .order_by(Identity.id)),
        "consents": {
            "now": [{"purpose": s.purpose, "granted": s.granted, "since": s.at,
                     "notice_version": s.version} for s in standing],
            "history": [{"purpose": r.purpose, "granted": r.granted,
                         "notice_version": r.version, "channel": r.channel, "at": r.at}
                        for r in await consents.records(uow, mid)],
        },
        "tags": await rows(select(MemberTag.tag, MemberTag.created_at).where(
            MemberTag.member_id == mid).order_by(MemberTag.created_at, MemberTag.tag)),
        "points": await rows(select(
            LedgerEntry.id, LedgerEntry.delta, LedgerEntry.kind, LedgerEntry.reason,
            LedgerEntry.params, LedgerEntry.created_at, LedgerEntry.expires_at)
            .where(LedgerEntry.member_id == mid).order_by(LedgerEntry.id)),
        "checkins": await rows(select(Checkin.day, Checkin.streak, Checkin.points).where(
            Checkin.member_id == mid).order_by(Checkin.id)),
        "purchases": await rows(select(
            Purchase.order_id, Purchase.amount, Purchase.refunded, Purchase.currency,
            Purchase.items, Purchase.points, Purchase.created_at)
            .where(Purchase.member_id == mid).order_by(Purchase.id)),
        "redemptions": await rows(select(Redemption.reward, Redemption.cost,
                                         Redemption.created_at)
                                  .where(Redemption.member_id == mid).order_by(Redemption.id)),
        "coupons": await rows(select(
            Coupon.code, Coupon.reward, Coupon.status, Coupon.issued_at, Coupon.expires_at,
            Coupon.used_at).where(Coupon.member_id == mid).order_by(Coupon.id)),
        "referrals": await rows(select(ReferralReward.outcome, ReferralReward.created_at)
                                .where(ReferralReward.referrer_id == mid)
                                .order_by(ReferralReward.created_at)),
        "surveys": await _surveys(uow, mid),
        "support_messages": await rows(select(
            SupportMessage.conversation_id, SupportMessage.direction, SupportMessage.text,
            SupportMessage.picture_url, SupportMessage.created_at)
            .join(SupportConversation,
                  SupportConversation.id == SupportMessage.conversation_id)
            .where(SupportConversation.member_id == mid).order_by(SupportMessage.id)),
        "erasure_requests": await rows(select(
            ErasureRequest.state, ErasureRequest.asked_at, ErasureRequest.due_at,
            ErasureRequest.channel, ErasureRequest.done_at)
            .where(ErasureRequest.member_id == mid)),
        "retention_warning": await rows(select(
            RetentionWarning.warned_at, RetentionWarning.erase_at)
            .where(RetentionWarning.member_id == mid)),
        "paid_membership": {
            "subscriptions": await rows(select(
                Subscription.plan, Subscription.status, Subscription.renews,
                Subscription.started_at, Subscription.expires_at, Subscription.ended_at)
                .where(Subscription.member_id == mid).order_by(Subscription.id)),
            "payments": await rows(select(
                Payment.charge_id, Payment.plan, Payment.amount, Payment.currency,
                Payment.expires_at, Payment.recurring, Payment.refunded_at, Payment.created_at)
                .where(Payment.member_id == mid).order_by(Payment.id)),
        },
        "tier_history": await rows(select(
            TierChange.from_tier, TierChange.to_tier, TierChange.reason, TierChange.created_at)
            .where(TierChange.member_id == mid).order_by(TierChange.id)),
    }


async def _surveys(uow: UnitOfWork, member_id: int) -> list[Row]:
    responses = (await uow.session.execute(
        select(SurveyResponse.id, Survey.code, SurveyResponse.status, SurveyResponse.sent_at,
               SurveyResponse.completed_at)
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.member_id == member_id).order_by(SurveyResponse.id))).all()
    answers: dict[int, list[Row]] = {}
    for row in await uow.session.execute(
            select(SurveyAnswer.response_id, SurveyAnswer.question, SurveyAnswer.value,
                   SurveyAnswer.answered_at)
            .where(SurveyAnswer.response_id.in_([r.id for r in responses]))
            .order_by(SurveyAnswer.id)):
        answers.setdefault(int(row.response_id), []).append(
            {"question": row.question, "answer": row.value, "answered_at": row.answered_at})
    return [{"survey": r.code, "status": r.status, "sent_at": r.sent_at,
             "completed_at": r.completed_at, "answers": answers.get(r.id, [])}
            for r in responses]
