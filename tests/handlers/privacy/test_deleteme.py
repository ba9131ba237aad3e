"""/deleteme: two confirmations, then the cooling-off with its cancel; the erasure job
erases when it is due; staff are sent to have their role taken back first; both
languages; the owner erases at a member's request at once, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.members.tables import Member
from domain.privacy import erasure
from tests.handlers.privacy.test_privacy import NOW
from tests.support.transcript import Clock, member, owner


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def status(db, member_id: int) -> str:
    async with db.uow() as uow:
        return (await uow.session.get(Member, member_id)).status


async def test_two_confirmations_then_the_cooling_off_then_the_job(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    out = await alice.say("/deleteme")
    assert out.startswith("🗑 Erase your account?")
    assert "Your points are forfeited (balance: 0)" in out
    assert "you have 7 days to change your mind" in out
    assert "[1] Continue" in out and "[2] Keep my account" in out
    assert await alice.say("maybe") == "Please answer with 1–2, yes or no, or send /cancel."
    out = await alice.say("1")
    assert out.startswith("Last check: erase your account and personal data?")
    out = await alice.say("1")
    assert out == ("Understood. Your account will be erased at 2026-06-08 12:00. Until then, "
                   "/deleteme cancel keeps it.")
    assert (await alice.say("/deleteme")).startswith(
        "Your account is to be erased at 2026-06-08 12:00.")
    assert await erasure.run(db, programme, NOW + timedelta(days=6)) == {
        "erased": 0, "points": 0}
    assert await status(db, 1) == "active"
    assert await erasure.run(db, programme, NOW + timedelta(days=7)) == {
        "erased": 1, "points": 0}
    assert await status(db, 1) == "erased"


async def test_cancelled_in_time_nothing_is_erased(db, programme, clock):
    li = member(db, programme, clock, user="li", locale="zh_Hans")
    await li.say("/start")
    assert (await li.say("/deleteme")).startswith("🗑 确定注销账户吗？")
    await li.say("1")
    assert (await li.say("1")).startswith("已收到。您的账户将于 2026-06-08 12:00 注销。")
    assert await li.say("/deleteme cancel") == "已撤回：您的账户将保留。"
    assert await li.say("/deleteme cancel") == "没有待撤回的注销申请，您的账户保持不变。"
    assert await erasure.run(db, programme, NOW + timedelta(days=30)) == {
        "erased": 0, "points": 0}
    assert await status(db, 1) == "active"


async def test_keep_my_account_at_either_step(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    await alice.say("/deleteme")
    assert await alice.say("2") == "Good: your account stays as it is."
    await alice.say("/deleteme")
    await alice.say("1")
    assert await alice.say("2") == "Good: your account stays as it is."
    assert await alice.press("deleteme:yes") == (
        "This button has expired. Send /help to see what I can do.")
    async with db.uow() as uow:
        assert await erasure.pending(uow, 1) is None


async def test_staff_are_sent_to_have_their_role_taken_back(db, programme, clock):
    boss = await owner(db, programme, clock)
    assert (await boss.say("/deleteme")).startswith("You hold a staff role here.")


async def test_the_owner_erases_at_a_members_request_at_once(db, programme, clock):
    boss = await owner(db, programme, clock)
    sam = member(db, programme, clock, user="sam")
    await sam.say("/start")
    out = await boss.say("/member erase 2")
    assert out.startswith("Erase member #00000002 now, at their request?")
    assert "[1] Erase now" in out and "[2] Keep them" in out
    assert await boss.say("2") == "Nothing was erased."
    assert await status(db, 2) == "active"
    await boss.say("/member erase 2")
    assert await boss.say("1") == ("Member #00000002 is erased: points forfeited: 0; coupons "
                                   "voided: 0. It is in the audit log.")
    assert await status(db, 2) == "erased"
    assert "erased member 00000002" in await boss.say("/audit")
    assert (await boss.say("/member erase 2")).startswith("Member #00000002 was erased: nothing")
    assert (await boss.say("/member export 2")).startswith("Member #00000002 was erased")
    assert (await boss.say("/member erase 1")).startswith("Member #00000001 holds a staff role")
    # Sam's account is a stranger's now: a first message makes a new member.
    await sam.say("/start")
    assert await status(db, 3) == "active"


@pytest.mark.parametrize(("locale", "yes", "no", "kept"), [
    ("en", "yes", "no", "Good: your account stays as it is."),
    ("zh_Hans", "是", "否", None),
])
async def test_yes_and_no_typed_answer_either_question(db, programme, clock, locale, yes, no,
                                                        kept):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    await alice.say("/deleteme")
    first_no = await alice.say(no)
    assert kept is None or first_no == kept
    await alice.say("/deleteme")
    await alice.say(yes)  # Continue
    assert await alice.say(no) == first_no  # the last question takes "no" as well
    async with db.uow() as uow:
        assert await erasure.pending(uow, 1) is None
    await alice.say("/deleteme")
    await alice.say(yes)
    await alice.say(yes)
    async with db.uow() as uow:
        assert await erasure.pending(uow, 1) is not None
