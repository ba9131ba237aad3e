"""The support inbox's rules: one open conversation per member, staff answer through
the notice queue, reads and closes are told and audited, the queue puts higher tiers
first and the oldest first, and bad text is refused with a code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.feedback import surveys
from domain.feedback.responses import SurveyRefused
from domain.feedback.tables import SurveyAnswer, SurveyResponse
from domain.members import members
from domain.notices.tables import Notice
from domain.staff import roles
from domain.staff.tables import AuditEntry
from domain.support import conversations as support
from domain.support import ratings, staff_chat
from domain.support.conversations import SupportRefused
from domain.support.tables import SupportPost
from tests.support.lifecycle_helpers import a_member

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


async def people(db, programme) -> tuple[int, int]:
    """(the owner, who answers; a member)."""
    boss = await a_member(db, programme, NOW, "boss")
    alice = await a_member(db, programme, NOW, "alice")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "telegram:boss", NOW)
        await surveys.keep_from_file(uow, programme, NOW)
        await uow.commit()
    return boss, alice


async def opened(db, programme, member_id: int, at: datetime = NOW) -> int:
    async with db.uow() as uow:
        member = await members.get(uow, member_id)
        found = await support.open_(uow, programme, member, at)
        await uow.commit()
        return found.conversation.id


async def says(db, programme, member_id: int, text: str, at: datetime = NOW) -> None:
    async with db.uow() as uow:
        await support.member_says(uow, programme, await members.get(uow, member_id), text, at)
        await uow.commit()


async def notices_of(db, member_id: int) -> list[tuple[str, dict]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(Notice).where(Notice.member_id == member_id)
                                         .order_by(Notice.id))
        return [(n.key, n.params) for n in rows]


async def actions(db) -> list[str]:
    async with db.uow() as uow:
        return list(await uow.session.scalars(select(AuditEntry.action)
                                              .order_by(AuditEntry.id)))


async def test_a_second_open_finds_the_first_until_it_is_closed(db, programme):
    boss, alice = await people(db, programme)
    first = await opened(db, programme, alice)
    assert await opened(db, programme, alice) == first
    async with db.uow() as uow:
        await support.close(uow, programme, alice, first, NOW, by_staff=False)
        await uow.commit()
    assert await opened(db, programme, alice) != first
    assert (await actions(db)).count("support.open") == 2


async def test_a_staff_reply_reaches_the_member_as_a_notice_without_the_staff_name(
        db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    await says(db, programme, alice, "Is the shop open on Sunday?")
    async with db.uow() as uow:
        conv = await support.get(uow, cid)
        assert conv.status == support.OPEN and conv.waiting_since == NOW
        await support.reply(uow, programme, boss, cid, "Yes, 10 to 18.", NOW)
        await uow.commit()
    assert await notices_of(db, alice) == [
        ("support.reply", {"conversation": cid, "text": "Yes, 10 to 18."})]
    named = programme.model_copy(update={"support": programme.support.model_copy(
        update={"show_staff_names": True})})
    async with db.uow() as uow:
        (await members.get(uow, boss)).display_name = "Olga"
        await support.reply(uow, named, boss, cid, "See you!", NOW)
        conv = await support.get(uow, cid)
        assert conv.status == support.ANSWERED and conv.waiting_since is None
        await uow.commit()
    assert (await notices_of(db, alice))[-1] == (
        "support.reply_named", {"conversation": cid, "text": "See you!", "staff": "Olga"})
    assert (await actions(db)).count("support.reply") == 2


async def test_only_staff_may_answer_read_or_close_others(db, programme):
    boss, alice = await people(db, programme)
    bob = await a_member(db, programme, NOW, "bob")
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        for attempt in (support.reply(uow, programme, bob, cid, "hi", NOW),
                        support.mark_read(uow, bob, cid, NOW),
                        support.close(uow, programme, bob, cid, NOW, by_staff=True)):
            with pytest.raises(SupportRefused) as refused:
                await attempt
            assert refused.value.code == "not_staff"
        with pytest.raises(SupportRefused) as refused:  # a member closes their own only
            await support.close(uow, programme, bob, cid, NOW, by_staff=False)
        assert refused.value.code == "unknown"
    assert await notices_of(db, alice) == []


@pytest.mark.parametrize(("text", "code"), [
    ("", "empty"), ("   \n ", "empty"), ("x" * (support.MAX_TEXT + 1), "too_long"),
    ("bell\x07", "control"), ("esc\x1b[31m", "control")])
async def test_bad_text_is_refused_with_a_code(db, programme, text, code):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        with pytest.raises(SupportRefused) as member_refused:
            await support.member_says(uow, programme, await members.get(uow, alice), text, NOW)
        with pytest.raises(SupportRefused) as staff_refused:
            await support.reply(uow, programme, boss, cid, text, NOW)
    assert member_refused.value.code == staff_refused.value.code == code


async def test_unknown_and_closed_conversations_are_refused(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        with pytest.raises(SupportRefused) as refused:
            await support.reply(uow, programme, boss, cid + 99, "hello", NOW)
        assert refused.value.code == "unknown" and refused.value.params["number"] == \
            f"#{cid + 99}"
        await support.close(uow, programme, boss, cid, NOW, by_staff=True)
        for attempt in (support.reply(uow, programme, boss, cid, "late", NOW),
                        support.close(uow, programme, boss, cid, NOW, by_staff=True)):
            with pytest.raises(SupportRefused) as refused:
                await attempt
            assert refused.value.code == "closed"
        with pytest.raises(SupportRefused) as refused:
            await support.member_says(uow, programme, await members.get(uow, alice), "hi", NOW)
        assert refused.value.code == "none_open"


async def test_reading_tells_the_member_once_for_what_was_new(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    await says(db, programme, alice, "one")
    async with db.uow() as uow:
        assert await support.mark_read(uow, boss, cid, NOW + timedelta(minutes=1))
        assert not await support.mark_read(uow, boss, cid, NOW + timedelta(minutes=2))
        await uow.commit()
    await says(db, programme, alice, "two", NOW + timedelta(minutes=3))
    async with db.uow() as uow:
        assert await support.mark_read(uow, boss, cid, NOW + timedelta(minutes=4))
        await uow.commit()
    assert [k for k, _ in await notices_of(db, alice)] == ["support.read", "support.read"]
    assert (await actions(db)).count("support.read") == 2


async def test_the_queue_puts_priority_tiers_first_then_the_oldest(db, programme):
    await people(db, programme)
    gold = await a_member(db, programme, NOW, "gold", tier="gold")
    silver = await a_member(db, programme, NOW, "silver", tier="silver")
    plain = await a_member(db, programme, NOW, "plain")
    for member_id, minutes in ((plain, 0), (silver, 1), (gold, 5)):
        await opened(db, programme, member_id, NOW + timedelta(minutes=minutes))
    late_plain = await a_member(db, programme, NOW, "late")
    await opened(db, programme, late_plain, NOW + timedelta(minutes=9))
    async with db.uow() as uow:
        found = [(w.conversation.member_id, w.conversation.priority, w.tier)
                 for w in await support.queue(uow)]
    assert found == [(gold, 3, "gold"), (plain, 0, "member"), (silver, 0, "silver"),
                     (late_plain, 0, "member")]
    assert support.priority(programme, "gold") == 3 and support.priority(programme, None) == 0


async def test_overdue_conversations_are_those_waiting_past_the_configured_time(
        db, programme):
    boss, alice = await people(db, programme)
    bob = await a_member(db, programme, NOW, "bob")
    waiting = await opened(db, programme, alice)
    await says(db, programme, alice, "hello?")
    answered = await opened(db, programme, bob)
    await says(db, programme, bob, "hi")
    async with db.uow() as uow:
        await support.reply(uow, programme, boss, answered, "Hello!", NOW)
        late = NOW + timedelta(minutes=programme.support.remind_after_minutes)
        assert await support.overdue(uow, programme, late - timedelta(seconds=1)) == []
        assert [c.id for c in await support.overdue(uow, programme, late)] == [waiting]


async def test_closing_asks_a_rating_that_is_recorded_as_a_survey_answer_once(
        db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        closed = await support.close(uow, programme, boss, cid, NOW, by_staff=True)
        assert closed.rating is not None
        await uow.commit()
    assert [k for k, _ in await notices_of(db, alice)] == ["support.closed_by_staff_rate"]
    async with db.uow() as uow:
        with pytest.raises(SurveyRefused):
            await ratings.rate(uow, programme, alice, cid, 9, NOW)  # not a 1-5 rating
    async with db.uow() as uow:
        done = await ratings.rate(uow, programme, alice, cid, 4, NOW)
        assert done.progress.completed
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(SurveyRefused) as refused:
            await ratings.rate(uow, programme, alice, cid, 5, NOW)
        assert refused.value.code == "answered"
        rows = (await uow.session.execute(
            select(SurveyResponse.occasion, SurveyAnswer.question, SurveyAnswer.value)
            .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id))).all()
    assert [tuple(r) for r in rows] == [(f"support:{cid}", "rating", 4)]


async def test_a_rating_is_refused_for_someone_elses_or_an_open_conversation(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    async with db.uow() as uow:
        for who in (alice, boss):  # still open; and not boss's
            with pytest.raises(SurveyRefused):
                await ratings.rate(uow, programme, who, cid, 5, NOW)


async def test_with_a_staff_chat_each_step_is_posted_once_in_the_members_topic(
        db, programme):
    boss, alice = await people(db, programme)
    async with db.uow() as uow:
        assert await staff_chat.set_chat(uow, boss, "telegram", "-1001", NOW)
        assert not await staff_chat.set_chat(uow, boss, "telegram", "-1001", NOW)
        await uow.commit()
    cid = await opened(db, programme, alice)
    await says(db, programme, alice, "hello")
    async with db.uow() as uow:
        await support.reply(uow, programme, boss, cid, "hi there", NOW)
        await support.reply(uow, programme, boss, cid, "again", NOW, from_staff_chat=True)
        await uow.commit()
    async with db.uow() as uow:
        posts = (await uow.session.execute(select(
            SupportPost.key, SupportPost.member_id, SupportPost.chat_id)
            .order_by(SupportPost.id))).all()
    assert [tuple(p) for p in posts] == [
        (staff_chat.OPEN_TOPIC, alice, "-1001"),  # once, before the first message
        ("support.staff.member_said", alice, "-1001"),
        ("support.staff.answered", alice, "-1001")]
    assert await notices_of(db, boss) == []  # the chat told staff; no private notices


async def test_without_a_staff_chat_staff_hear_once_per_wait_in_private(db, programme):
    boss, alice = await people(db, programme)
    cid = await opened(db, programme, alice)
    await says(db, programme, alice, "first")
    await says(db, programme, alice, "second")
    assert [k for k, _ in await notices_of(db, boss)] == ["support.staff.waiting"]
    async with db.uow() as uow:
        await support.reply(uow, programme, boss, cid, "ok", NOW)
        await uow.commit()
    await says(db, programme, alice, "third")
    assert [k for k, _ in await notices_of(db, boss)] == ["support.staff.waiting"] * 2
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(SupportPost)) == 0


async def test_setting_the_staff_chat_needs_an_operator(db, programme):
    boss, alice = await people(db, programme)
    async with db.uow() as uow:
        await roles.grant(uow, boss, "staff", alice, NOW)
        with pytest.raises(roles.RoleRefused):
            await staff_chat.set_chat(uow, alice, "telegram", "-1002", NOW)
