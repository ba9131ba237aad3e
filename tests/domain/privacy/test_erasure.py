"""Erasure: personal data gone from the database file itself, points and purchase
history still true (the ledger sums to the balances), coupons void, accounts unlinked,
gated chats left; the same person back earns no first-purchase or referral bonus."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from domain.community.tables import Gate, GroupCaptcha, GroupReport, GroupRestriction, Seat
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members.tables import Identity, Member, MemberTag, ReferralReward
from domain.points import ledger, purchases
from domain.points.tables import LedgerEntry, Purchase
from domain.privacy import erasure, export
from domain.rewards import rewards
from domain.rewards.tables import Coupon
from domain.staff.tables import AuditEntry
from domain.support.tables import SupportConversation, SupportMessage
from tests.domain.privacy.test_consents import NOW
from tests.support import crowd
from tests.support.crowd import Person

PHONE, NAME, SECRET = "+8613912345678", "Zhang Weiqiang", "my very private words"


async def someone(db, programme) -> int:
    """A member with a bit of everything: a phone and a name, a purchase (its first
    bonus), a coupon, a tag, a survey's written answer, a support message, a seat in a
    gated chat, a Telegram account."""
    [mid] = await crowd.add(db, [Person(accounts=(("telegram", "555"),), tags=("vip",))], NOW)
    async with db.uow() as uow:
        member = await uow.session.get(Member, mid)
        member.phone, member.display_name, member.birth_month = PHONE, NAME, 3
        await purchases.record(uow, programme, mid, purchases.Order("Z-1", 50_000, "CNY"), NOW)
        await rewards.redeem(uow, programme, mid, "ten_off", "tap-1", NOW)
        survey = Survey(code="s", source="chat", definition={"questions": [
            {"code": "why", "kind": "text"}, {"code": "score", "kind": "rating"}]},
            created_by="test", created_at=NOW, updated_at=NOW)
        uow.session.add(survey)
        await uow.flush()
        response = SurveyResponse(survey_id=survey.id, member_id=mid, via="staff",
                                  status="completed", sent_at=NOW, updated_at=NOW)
        uow.session.add(response)
        await uow.flush()
        uow.session.add_all([
            SurveyAnswer(response_id=response.id, question="why", value=SECRET,
                         answered_at=NOW),
            SurveyAnswer(response_id=response.id, question="score", value=5, answered_at=NOW)])
        conversation = SupportConversation(member_id=mid, open_member_id=mid, status="open",
                                           opened_at=NOW, updated_at=NOW)
        uow.session.add(conversation)
        await uow.flush()
        uow.session.add(SupportMessage(conversation_id=conversation.id, direction="in",
                                       text=SECRET + " again", created_at=NOW))
        gate = Gate(platform="telegram", chat_id="-100", kind="supergroup", title="Tea friends",
                    min_tier="member", grace_s=86_400, created_by="test", created_at=NOW,
                    updated_at=NOW)
        uow.session.add(gate)
        await uow.flush()
        uow.session.add(Seat(gate_id=gate.id, user_id="555", member_id=mid, status="in",
                             updated_at=NOW))
        await uow.commit()
    return mid


async def erased_now(db, programme, mid: int, at=NOW) -> dict:
    async with db.uow() as uow:
        await erasure.ask(uow, programme, mid, "console", at, staff_id=None)
        await uow.commit()
    return await erasure.run(db, programme, at + timedelta(days=7))


async def test_personal_data_goes_the_books_stay_true(db, programme):
    mid = await someone(db, programme)
    async with db.uow() as uow:
        held = (await uow.session.get(Member, mid)).points_balance
        revenue = await uow.session.scalar(select(func.sum(Purchase.amount)))
    assert held > 0
    assert await erased_now(db, programme, mid) == {"erased": 1, "points": held}
    async with db.uow() as uow:
        member = await uow.session.get(Member, mid)
        assert member.status == "erased" and member.points_balance == 0
        assert (member.phone, member.display_name, member.birth_month) == (None, None, None)
        assert await uow.session.scalar(select(func.count()).select_from(Identity)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(MemberTag)) == 0
        assert set(await uow.session.scalars(select(Coupon.status))) == {"void"}
        answers = dict((await uow.session.execute(
            select(SurveyAnswer.question, SurveyAnswer.value))).all())
        assert answers == {"why": None, "score": 5}  # only the written answer goes
        assert list(await uow.session.scalars(select(SupportMessage.text))) == [""]
        seat = (await uow.session.scalars(select(Seat))).one()
        assert seat.status == "lapsed" and seat.remove_after == NOW + timedelta(days=7)
        # The books: every member's entries sum to their balance; purchases all stay.
        sums = dict((await uow.session.execute(select(
            LedgerEntry.member_id, func.sum(LedgerEntry.delta))
            .group_by(LedgerEntry.member_id))).all())
        assert sums == {mid: 0}
        assert await uow.session.scalar(select(func.sum(Purchase.amount))) == revenue
        forfeit = (await uow.session.execute(select(LedgerEntry.delta, LedgerEntry.kind)
                                             .where(LedgerEntry.reason == "forfeited"))).one()
        assert tuple(forfeit) == (-held, "expire")
        assert await uow.session.scalar(select(AuditEntry.action)
                                        .where(AuditEntry.action == "privacy.erase"))
    assert await erased_now(db, programme, mid) == {"erased": 0, "points": 0}  # once


async def test_the_erased_phone_is_nowhere_in_the_sqlite_file(db, programme):
    if db.dialect != "sqlite":
        return  # PostgreSQL: the README says what VACUUM reclaims
    mid = await someone(db, programme)
    await erased_now(db, programme, mid)
    path = Path(db.checkpoints.path)
    files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
    content = b"".join(p.read_bytes() for p in files)
    assert content  # the file was read
    for gone in (PHONE[3:], NAME, SECRET):
        assert gone.encode() not in content, gone
    assert b"Z-1" in content  # the order stays, under the member's number


async def test_back_again_is_a_new_member_without_the_bonuses_twice(db, programme):
    mid = await someone(db, programme)
    await erased_now(db, programme, mid)
    [friend] = await crowd.add(db, [Person(accounts=(("telegram", "777"),))], NOW,
                               first_id=mid + 1)
    [back] = await crowd.add(db, [Person(accounts=(("telegram", "555"),),
                                         extra={"referred_by_id": friend})], NOW,
                             first_id=mid + 2)
    [fresh] = await crowd.add(db, [Person(accounts=(("telegram", "999"),),
                                          extra={"referred_by_id": friend})], NOW,
                              first_id=mid + 3)
    async with db.uow() as uow:
        again = await purchases.record(uow, programme, back,
                                       purchases.Order("B-1", 50_000, "CNY"), NOW)
        new = await purchases.record(uow, programme, fresh,
                                     purchases.Order("F-1", 50_000, "CNY"), NOW)
        await uow.commit()
    async with db.uow() as uow:
        outcomes = dict((await uow.session.execute(
            select(ReferralReward.referee_id, ReferralReward.outcome))).all())
        first_bonus = set(await uow.session.scalars(select(LedgerEntry.member_id).where(
            LedgerEntry.reason == "first_purchase")))
        friend_points = await ledger.balance_of(uow, friend)
    assert outcomes == {back: "returning", fresh: "rewarded"}
    assert first_bonus == {mid, fresh}  # the first time, and the newcomer: never twice
    assert again.points < new.points
    assert friend_points == programme.earning.referrer  # for the newcomer alone


async def test_seats_keep_the_account_only_until_the_removal(db, programme):
    from domain.community import removals
    from tests.domain.community.test_seats import a_gate
    account = "918273645500"
    [mid] = await crowd.add(db, [Person(accounts=(("telegram", account),))], NOW)
    removing = await a_gate(db, programme, tier="member", chat_id="-100")
    warning_only = await a_gate(db, programme, tier="member", chat_id="-200", on_lapse="warn")
    left_before = await a_gate(db, programme, tier="member", chat_id="-300")
    async with db.uow() as uow:
        for gate_id, status in ((removing, "in"), (warning_only, "in"), (left_before, "removed")):
            uow.session.add(Seat(gate_id=gate_id, user_id=account, member_id=mid, status=status,
                                 updated_at=NOW))
        await uow.commit()
    at = NOW + timedelta(days=7)
    await erased_now(db, programme, mid)
    async with db.uow() as uow:
        seats = (await uow.session.execute(select(Seat.gate_id, Seat.status,
                                                  Seat.remove_after))).all()
        assert seats == [(removing, "lapsed", at)]  # to be taken out; the others gone
        [removal] = await removals.due(uow, "telegram", at, 10)
        assert await removals.removed(uow, removal, at)
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Seat)) == 0
        logged = await uow.session.scalar(select(AuditEntry.params).where(
            AuditEntry.action == "gate.remove"))
        assert logged == {"user": removals.ERASED, "title": "member -100"}


async def test_the_staff_chat_keeps_none_of_their_words(db, programme):
    from domain.support import staff_chat
    from domain.support.tables import SupportPost, SupportStaffChat, SupportTopic
    mid = await someone(db, programme)
    said, waiting = "what I told the staff chat", "what was still to be posted"
    async with db.uow() as uow:
        conversation = await uow.session.scalar(select(SupportConversation.id))
        uow.session.add(SupportStaffChat(platform="telegram", chat_id="-999", set_by="test",
                                         set_at=NOW))
        uow.session.add(SupportTopic(platform="telegram", chat_id="-999", member_id=mid,
                                     topic_id="77", claimed_at=NOW, created_at=NOW,
                                     title="00000001 · Gold · telegram"))
        for text, state in ((said, "sent"), (waiting, "pending")):
            uow.session.add(SupportPost(
                platform="telegram", chat_id="-999", member_id=mid,
                key="support.staff.member_said", params={"text": text},
                idempotency_key=f"post:{state}", status=state, attempts=0, not_before=NOW,
                created_at=NOW))
        await uow.commit()
    at = NOW + timedelta(days=7)
    await erased_now(db, programme, mid)
    async with db.uow() as uow:
        posts = (await uow.session.execute(select(SupportPost.key, SupportPost.status,
                                                  SupportPost.params)
                                           .order_by(SupportPost.id))).all()
        assert posts == [("support.staff.member_said", "sent", {}),
                         ("support.staff.member_said", staff_chat.DROPPED, {}),
                         (staff_chat.CLOSE_TOPIC, "pending", {"conversation": conversation})]
        topic = await staff_chat.topic_of(uow, "telegram", "-999", mid)
        assert topic == staff_chat.Topic("77", None)  # closed at the relay's next pass
        closed = await uow.session.get(SupportConversation, conversation)
        assert (closed.status, closed.closed_at) == ("closed", at)
    if db.dialect == "sqlite":
        path = Path(db.checkpoints.path)
        content = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        for gone in (said, waiting, "Gold · telegram"):
            assert gone.encode() not in content, gone


async def test_what_staff_were_told_in_private_keeps_none_of_their_words(db, programme):
    from domain.notices.tables import Notice
    from domain.staff.tables import StaffRole
    mid = await someone(db, programme)
    [staff, other] = await crowd.add(db, [Person(), Person()], NOW, first_id=mid + 1)
    excerpt, answers, theirs = "a wait excerpt of mine", "my low score reasons", "not theirs"
    number, other_number = f"{mid:08d}", f"{other:08d}"
    told = [("support.staff.waiting", {"member": number, "text": excerpt}, "sent"),
            ("survey.low_score", {"number": number, "answers": answers}, "pending"),
            ("support.staff.waiting", {"member": other_number, "text": theirs}, "sent")]
    reply = "a staff reply sent to them"
    async with db.uow() as uow:
        uow.session.add(Notice(member_id=mid, key="support.reply", params={"text": reply},
                               status="sent", idempotency_key="reply", created_at=NOW,
                               not_before=NOW, attempts=0))
        uow.session.add(StaffRole(member_id=staff, role="staff", granted_by="test",
                                  granted_at=NOW))
        for n, (key, params, state) in enumerate(told):
            uow.session.add(Notice(member_id=staff, key=key, params=params, status=state,
                                   idempotency_key=f"told:{n}", created_at=NOW,
                                   not_before=NOW, attempts=0))
        await uow.commit()
    await erased_now(db, programme, mid)
    async with db.uow() as uow:
        notices = (await uow.session.execute(select(Notice.status, Notice.params)
                                             .where(Notice.member_id == staff)
                                             .order_by(Notice.id))).all()
        own = (await uow.session.execute(select(Notice.status, Notice.params)
                                         .where(Notice.member_id == mid))).all()
    assert notices == [("sent", {}), ("withdrawn", {}),
                       ("sent", {"member": other_number, "text": theirs})]
    assert own == [("sent", {})]
    if db.dialect == "sqlite":
        path = Path(db.checkpoints.path)
        content = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
        assert theirs.encode() in content
        for gone in (excerpt, answers, reply):
            assert gone.encode() not in content, gone


async def test_group_moderation_keeps_a_ban_in_force_and_forgets_the_rest(db, programme):
    mid = await someone(db, programme)
    other = "777"
    async with db.uow() as uow:
        def captcha(user):
            return GroupCaptcha(platform="telegram", chat_id="-100", user_id=user, answer=7,
                                status="pending", expires_at=NOW + timedelta(minutes=5),
                                created_at=NOW, updated_at=NOW)

        def report(reporter):
            return GroupReport(platform="telegram", chat_id="-100", reporter_id=reporter,
                               target_id="999", status="open", created_at=NOW)

        def restriction(user, kind, until):
            return GroupRestriction(platform="telegram", chat_id="-100", user_id=user,
                                    kind=kind, until=until, actor="telegram:1",
                                    created_at=NOW)

        uow.session.add_all([
            captcha("555"), captcha(other), report("555"), report(other),
            restriction("555", "ban", None), restriction("555", "mute", NOW + timedelta(hours=1)),
            restriction(other, "mute", NOW + timedelta(hours=1))])
        await uow.commit()
    await erased_now(db, programme, mid)  # a week later: the mute has ended, the ban not
    async with db.uow() as uow:
        captchas = list(await uow.session.scalars(select(GroupCaptcha.user_id)))
        reporters = sorted(await uow.session.scalars(select(GroupReport.reporter_id)))
        restrictions = sorted((r.user_id, r.kind) for r in await uow.session.scalars(
            select(GroupRestriction)))
    assert captchas == [other]
    assert reporters == ["", other]  # what was reported stays for the admins, not by whom
    assert restrictions == [("555", "ban"), (other, "mute")]


async def test_the_export_shows_a_waiting_erasure(db, programme):
    mid = await someone(db, programme)
    async with db.uow() as uow:
        await erasure.ask(uow, programme, mid, "console", NOW, staff_id=None)
        await uow.commit()
    async with db.uow() as uow:
        held = await export.gather(uow, await uow.session.get(Member, mid))
    [request] = held["erasure_requests"]
    assert request["state"] == erasure.WAITING and request["due_at"] > request["asked_at"]
    assert held["retention_warning"] == []
