"""/award as staff use it: points given or taken back with a note the member sees in
their statement and a notice, confirmed once however often Yes is pressed, audited,
refused in our own words when it cannot be, and only for operators and up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.notices.tables import Notice
from domain.points import ledger
from domain.points.tables import LedgerEntry
from domain.staff.tables import AuditEntry
from tests.support.transcript import Clock, member, owner, second_member


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))


async def entries(db) -> list[LedgerEntry]:
    async with db.uow() as uow:
        found = list(await uow.session.scalars(select(LedgerEntry).where(
            LedgerEntry.reason == "adjusted").order_by(LedgerEntry.id)))
        uow.session.expunge_all()
        return found


async def test_points_given_once_with_a_note_the_member_reads(db, programme, clock):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    out = await olga.say("/award 00000002 120 sorry for the long wait")
    assert ("Give 120 points to #00000002?\nBalance: 0 → 120\nNote shown to the member: "
            "sorry for the long wait") in out
    out = await olga.say("1")  # Yes
    assert "Done: +120 points for #00000002; balance now 120." in out
    (entry,) = await entries(db)
    assert (entry.member_id, entry.delta, entry.kind, entry.qualifying) == (2, 120, "adjust", 0)
    assert entry.params == {"note": "sorry for the long wait", "by": 1}
    assert entry.expires_at is not None  # given points expire as earned ones do
    assert "+120  Adjustment by staff: sorry for the long wait" in await alice.say("/points")
    async with db.uow() as uow:
        notice = (await uow.session.execute(select(Notice.key, Notice.params).where(
            Notice.member_id == 2))).one()
        audited = (await uow.session.execute(select(AuditEntry.target, AuditEntry.params)
                                             .where(AuditEntry.action == "points.award"))).one()
    assert notice == ("notice.points_given", {
        "points": 120, "note": "sorry for the long wait", "balance": 120})
    assert audited == ("00000002", {"points": 120, "note": "sorry for the long wait"})


async def test_a_double_tap_moves_points_once(db, programme, clock):
    olga = await owner(db, programme, clock)
    await member(db, programme, clock).say("/start")
    await olga.say("/award 00000002 50 welcome gift")
    assert "Cancelled: no points moved." in await olga.tap("award:no")
    await olga.say("/award 00000002 50 welcome gift")
    async with db.uow() as uow:
        from domain.conversations.tables import Conversation
        state = await uow.session.scalar(select(Conversation.data).where(
            Conversation.user_id == "olga", Conversation.state == "award.confirm"))
    yes = f"award:yes:{state['code']}"
    assert "Done: +50 points" in await olga.press(yes)
    assert "Already done: those points moved once" in await olga.press(yes)
    assert len(await entries(db)) == 1
    async with db.uow() as uow:
        assert await ledger.balance_of(uow, 2) == 50


async def test_taking_back_more_than_held_changes_nothing(db, programme, clock):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await member(db, programme, clock).say("/start")
    out = await olga.say("/award 00000002 -30 订单重复录入")
    assert out == "该会员仅有 0 积分，无法扣回这么多。未做任何更改。"
    await olga.say("/award 00000002 100 补发")
    await olga.say("1")
    assert "从 #00000002 扣回 80 积分？\n余额：100 → 20" in await olga.say(
        "/award 00000002 -80 订单重复录入")
    async with db.uow() as uow:  # the member spends 50 before Yes is pressed
        await ledger.post(uow, ledger.Post(2, -50, "redeem", "redeemed", key="spent"),
                          clock.now)
        await uow.commit()
    assert "该会员仅有 50 积分，无法扣回这么多。未做任何更改。" in await olga.say("1")
    assert [e.delta for e in await entries(db)] == [100]
    await olga.say("/award 00000002 -30 订单重复录入")
    assert "积分 -30，现余额 20" in await olga.say("1")
    async with db.uow() as uow:
        params = await uow.session.scalar(select(Notice.params).where(
            Notice.key == "notice.points_taken"))
        assert await ledger.balance_of(uow, 2) == 20
    assert params == {"points": 30, "note": "订单重复录入", "balance": 20}


@pytest.mark.parametrize(("typed", "said"), [
    ("", "Write it as /award MEMBER POINTS NOTE"),
    ("00000002", "Write it as /award MEMBER POINTS NOTE"),
    ("abc 100 hi", "Write it as /award MEMBER POINTS NOTE"),
    ("00000002 1e3 hi", "Write it as /award MEMBER POINTS NOTE"),
    ("00000002 12.5 hi", "Write it as /award MEMBER POINTS NOTE"),
    ("00000002 0 hi", "Points are a whole number from 1 to 1,000,000"),
    ("00000002 99999999 hi", "Points are a whole number from 1 to 1,000,000"),
    ("00000002 -99999999999999999999 hi", "Points are a whole number from 1 to 1,000,000"),
    ("00000002 " + "9" * 300 + " hi", "Points are a whole number from 1 to 1,000,000"),
    ("00000002 100", "Add a note of up to 200 characters"),
    ("00000002 100 \u0000\u200b ", "Add a note of up to 200 characters"),
    ("00000002 100 " + "x" * 201, "Add a note of up to 200 characters"),
    ("00000099 100 hi", "There is no member #00000099."),
])
async def test_bad_awards_are_refused_in_our_words(db, programme, clock, typed, said):
    olga = await owner(db, programme, clock)
    await member(db, programme, clock).say("/start")
    out = await olga.say(f"/award {typed}")
    assert said in out
    assert "Give" not in out and await entries(db) == []


async def test_full_width_digits_and_control_characters(db, programme, clock):
    olga = await owner(db, programme, clock)
    await member(db, programme, clock).say("/start")
    out = await olga.say("/award ００００００02 ＋１００ thanks\tfor\u0007 coming")
    assert "Give 100 points to #00000002?" in out
    assert "Note shown to the member: thanks for coming" in out


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_only_operators_and_up(db, programme, clock, role):
    await owner(db, programme, clock)
    sam = await second_member(db, programme, clock, role)
    out = await sam.say("/award 00000002 100 for me")
    assert "Sorry, /award is for the owner, admins and operators." in out
    assert await sam.press("award:yes:abcdefghij") != ""
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.reason == "adjusted")) == 0
