"""The support inbox in chat (the console, as WeChat renders it: numbered buttons), in
both languages: /support opens and closes, what the member types reaches staff, staff
list, read, answer and close by number, the rating lands in /survey results support,
and bad input is refused in our own words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.staff import roles
from domain.support.tables import SupportMessage
from handlers.engine.types import Inbound, Rendered
from handlers.notices.notices import render_notice
from handlers.routers import build_engine
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)




async def told(db, programme, member_id: int, locale: str = "en") -> list[str]:
    """What the notices queued for a member say, rendered as they will be sent."""
    async with db.uow() as uow:
        rows = list(await uow.session.scalars(
            select(Notice).where(Notice.member_id == member_id).order_by(Notice.id)))
        return [render_notice(n.key, n.params, locale, programme).text for n in rows]


async def test_a_member_writes_staff_read_answer_and_close_in_english(db, programme, clock,
                                                                      kept):
    olga = await owner(db, programme, clock)  # member 1
    alice = member(db, programme, clock)
    await alice.say("/start")  # member 2
    async with db.uow() as uow:  # a name and a phone staff must never see in /tickets
        await uow.session.execute(update(Member).where(Member.id == 2).values(
            display_name="Alice Wong", phone="+8613800138000"))
        await uow.commit()
    out = await alice.say("/support")
    # Buttons are numbered lines here: a number typed is words, so Close is no line.
    assert out.startswith("💬 You are talking to us now (#1).") and "[1]" not in out
    assert "Send /support close when you are done." in out
    assert await alice.say("Do you open on Sundays?") == "✓ Sent. We will answer here."
    assert await alice.say("1") == "✓ Sent. We will answer here."  # typed: text, not Close
    assert await told(db, programme, 1) == [
        "✉️ Support #1: member 00000002 writes:\nDo you open on Sundays?\n\n"
        "Answer with /reply 1 TEXT; /tickets lists every open one."]

    listing = await olga.say("/tickets")
    assert "#1 member 00000002 (Member) · waiting since 2026-03-10 10:00: 1" in listing
    assert "Alice" not in listing and "138" not in listing
    shown = await olga.say("/tickets 1")
    assert "10:00 member: Do you open on Sundays?" in shown
    assert await olga.say("/reply 1 Yes, from 10 to 18.") == "✓ Sent to #1."
    assert await told(db, programme, 2) == [
        "👀 We have read your message (#1) and will answer soon.",
        "💬 Our answer (#1):\nYes, from 10 to 18.\n\nReply with /support."]
    assert "Olga" not in "".join(await told(db, programme, 2))

    # /support, as the answer says, comes back to the conversation; /support close ends it.
    assert (await alice.say("/support")).startswith("💬 Your conversation #1 is still open")
    closing = await alice.say("/support close")
    assert closing.startswith("Conversation #1 is closed. How well did we help?")
    assert "[1] 1  [2] 2  [3] 3  [4] 4  [5] 5" in closing
    assert await alice.say("4") == "Thank you for rating us 4!"
    assert await alice.tap("spr:1:5") == "You have rated this conversation already. Thank you!"
    results = await olga.say("/survey results support")
    assert "Sent 1 · opened 1 (100%) · completed 1 (100%)" in results
    assert "Average 4.0 from 1 answer\n1: 0%  2: 0%  3: 0%  4: 100%  5: 0%" in results
    assert await olga.say("/tickets") == "No support conversation is open."


async def test_staff_close_and_the_member_is_told_in_chinese(db, programme, clock, kept):
    olga = await owner(db, programme, clock, locale="zh_Hans")
    li = member(db, programme, clock, user="li", locale="zh_Hans")
    await li.say("/start")
    assert (await li.say("/support")).startswith("💬 已为您接通客服（#1）")
    assert await li.say("积分怎么用？") == "✓ 已发送，我们会在这里回复您。"
    assert await olga.say("/close 1") == "✓ #1 已结束，已请会员评分。"
    assert await told(db, programme, 2, "zh_Hans") == [
        "您的客服会话 #1 已结束。我们的服务如何？请选择 1（很不满意）到 5（非常满意）。"]
    assert await li.say("还在吗？") == "本次会话已结束。发送 /support 可开始新的会话。"
    survey = await li.say("/survey")  # the rating waits there too, as any survey does
    assert "我们的解答让您满意吗" in survey
    assert await olga.say("/close 1") == "客服会话 #1 已经结束。"
    assert (await li.say("/support")).startswith("💬 已为您接通客服（#2）")


async def test_priority_tiers_come_first_and_are_marked(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    for user, tier in (("plain", None), ("gold", "gold")):
        who = member(db, programme, clock, user=user)
        await who.say("/start")
        if tier:
            async with db.uow() as uow:
                await uow.session.execute(update(Member).where(Member.id == 3)
                                          .values(tier=tier))
                await uow.commit()
        clock.advance(minutes=5)
        await who.say("/support")
        await who.say(f"hello from {user}")
    listing = (await olga.say("/tickets")).splitlines()
    lines = [line for line in listing if line.startswith("#")]
    assert lines[0].startswith("#2 ⭐ member 00000003 (Gold)")
    assert lines[1].startswith("#1 member 00000002 (Member)")


async def test_bad_input_is_refused_in_our_own_words(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await alice.say("/support")
    assert await alice.say("x" * 2001) == \
        "That message is too long: 2,001 characters, at most 2,000. Please send it in parts."
    assert await alice.say("ring\x07") == ("That message holds control characters, which "
                                          "cannot be sent. Please type it again as plain text.")
    assert await olga.say("/reply 99 hello") == \
        "There is no support conversation #99. /tickets lists the open ones."
    assert await olga.say("/tickets 99") == \
        "There is no support conversation #99. /tickets lists the open ones."
    assert await olga.say("/tickets abc") == \
        "There is no support conversation abc. /tickets lists the open ones."
    assert await olga.say("/reply 1") == \
        "Answer a support conversation: /reply N TEXT (N from /tickets)."
    assert await olga.say("/reply 1 " + "y" * 2001) == \
        "That message is too long: 2,001 characters, at most 2,000. Please send it in parts."
    assert await olga.say("/close x") == \
        "Close a support conversation: /close N (N from /tickets)."
    async with db.uow() as uow:
        assert list(await uow.session.scalars(select(SupportMessage.text))) == []


async def test_members_and_moderators_may_not_answer(db, programme, clock, kept):
    await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await alice.say("/support")
    await alice.say("help")
    mo = member(db, programme, clock, user="mo")
    await mo.say("/start")
    async with db.uow() as uow:
        await roles.grant(uow, 1, "moderator", 3, clock.now)
        await uow.commit()
    for who in (alice, mo):
        for line in ("/reply 1 hi", "/tickets", "/close 1"):
            assert (await who.say(line)).startswith("Sorry, /"), line
    assert await told(db, programme, 2) == []


async def test_setsupport_only_in_a_supergroup(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    assert await olga.say("/setsupport") == ("Type /setsupport in the Telegram supergroup "
                                            "with topics that staff answer from.")


async def test_where_buttons_are_real_close_is_a_button_and_typed_digits_are_words(
        db, programme, clock):
    """Telegram shows Close as a button: pressing it ends the conversation, and a
    typed "1" is still a message to staff."""
    alice = member(db, programme, clock)
    await alice.say("/start")
    engine = build_engine(db, programme, clock=clock)

    async def send(text: str | None = None, action: str | None = None) -> Rendered:
        answer = await engine.handle(Inbound(
            platform="console", user_id="alice", chat_id="alice", text=text or "",
            action=action, buttons=True, locale="en"))
        return answer.rendered()[0]

    opened = await send("/support")
    [[(label, close)]] = opened.buttons
    assert label == "Close" and close == "spc:1"
    assert (await send("1")).text == "✓ Sent. We will answer here."
    assert (await send(action=close)).text.startswith("Conversation #1 is closed.")
    async with db.uow() as uow:
        said = list(await uow.session.scalars(select(SupportMessage.text)))
    assert said == ["1"]
