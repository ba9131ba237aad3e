"""Trial findings of the support inbox in chat (the console, as WeChat renders it):
"stop" or /cancel while writing to us says what happened (the conversation stays
open, and how to write again or close it), in both languages; a staff close asks the
member for the rating with the 1-5 buttons, answered by a tap, a number typed back
to the notice, or a score typed while still in the conversation, once; /close says
whether the member was asked; /setsupport off leaves no staff chat, audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.console import ConsoleChat
from bot.console_outbox import Outbox
from bot.notifier import Notifier
from domain.feedback import surveys
from domain.feedback.tables import SurveyResponse
from domain.support import staff_chat
from handlers.routers import build_engine
from tests.handlers.support.test_inbox import told
from tests.support.transcript import Clock, Member, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
LEFT = ("You have stopped writing to us: what you type now is no longer sent. "
        "Conversation #1 stays open and our answer will still reach you. Send /support "
        "to write again, or /support close to end it.")
LEFT_ZH = ("您已停止给我们留言：现在输入的内容不会再发送给客服。"
           "会话 #1 仍然保留，我们的回复照常送达。"
           "发送 /support 可继续留言，发送 /support close 可结束会话。")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def rated(olga: Member) -> str:
    return await olga.say("/survey results support")


@pytest.mark.parametrize("word", ["stop", "/cancel", "never mind"])
async def test_stop_leaves_the_writing_not_the_conversation(db, programme, clock, kept,
                                                            word):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await alice.say("/support")
    assert await alice.say("Do you deliver?") == "✓ Sent. We will answer here."
    assert await alice.say(word) == LEFT
    assert await alice.say("hello") != "✓ Sent. We will answer here."  # not sent on
    listing = await olga.say("/tickets")
    assert "#1 member 00000002" in listing and listing.count("\n#") == 1
    assert "Do you deliver?" in listing and "hello" not in listing
    assert (await alice.say("/support")).startswith("💬 Your conversation #1 is still open")
    assert await alice.say("And on Sundays?") == "✓ Sent. We will answer here."


async def test_stop_in_chinese_and_after_staff_closed_it(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    li = member(db, programme, clock, user="li", locale="zh_Hans")
    await li.say("/start")
    await li.say("/support")
    await li.say("你好")
    assert await li.say("取消") == LEFT_ZH
    await li.say("/support")
    await olga.say("/close 1")
    assert await li.say("停止") == "本次会话已结束。发送 /support 可开始新的会话。"


async def test_a_staff_close_asks_the_rating_answered_once(db, programme, clock, kept,
                                                           tmp_path):
    """Alice answers the notice's buttons by typing a number (as on WeChat); Bob, who
    left the conversation meanwhile, by tapping; a second answer is refused."""
    olga = await owner(db, programme, clock)
    outbox = Outbox(tmp_path)
    alice = Member(ConsoleChat(build_engine(db, programme, clock=clock), user="alice",
                               locale="en", outbox=outbox))
    bob = member(db, programme, clock, user="bob")
    for who in (alice, bob):
        await who.say("/start")
        await who.say("/support")
        await who.say("Is the shop open?")
    assert await bob.say("stop") == LEFT.replace("#1", "#2")
    assert await olga.say("/close 1") == "✓ #1 is closed; the member is asked for a rating."
    assert await olga.say("/close 2") == "✓ #2 is closed; the member is asked for a rating."

    async def push(user: str, message) -> str:
        outbox.put(user, message)
        return "sent"

    await Notifier(db, programme, {"console": push}).run_once()
    (shown,) = alice.chat.arrived()
    assert "How well did we help? Tap 1 (poorly) to 5 (very well)." in shown
    assert "[1] 1  [2] 2  [3] 3  [4] 4  [5] 5" in shown
    assert await alice.say("4") == "Thank you for rating us 4!"
    assert await bob.tap("spr:2:5") == "Thank you for rating us 5!"
    assert await bob.tap("spr:2:1") == "You have rated this conversation already. Thank you!"
    results = await rated(olga)
    assert "Sent 2 · opened 2 (100%) · completed 2 (100%)" in results
    assert "4: 50%  5: 50%" in results


async def test_a_score_typed_while_still_writing_answers_the_staff_close(db, programme,
                                                                        clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    await alice.say("/support")
    await alice.say("Thanks, that is all")
    await olga.say("/close 1")
    assert (await told(db, programme, 2))[-1].endswith("Tap 1 (poorly) to 5 (very well).")
    assert await alice.say("５") == "Thank you for rating us 5!"  # a Chinese keyboard's 5
    assert "5: 100%" in await rated(olga)


async def test_close_says_whether_the_member_was_asked(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        await surveys.opt_out(uow, 2, clock.now)
        await uow.commit()
    await alice.say("/support")
    assert await olga.say("/close 1") == "✓ #1 is closed; the member is told."
    assert await told(db, programme, 2) == [
        "Your support conversation #1 has been closed. Send /support any time to write "
        "to us again."]


async def test_setsupport_off(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert await olga.say("/setsupport off") == ("There is no staff chat to unset: staff "
                                                "answer with /tickets and /reply already.")
    async with db.uow() as uow:
        await staff_chat.set_chat(uow, 1, "console", "desk", clock.now)
        await uow.commit()
    assert (await alice.say("/setsupport off")).startswith("Sorry, /setsupport")
    assert await olga.say("/setsupport off") == (
        "✓ There is no staff chat now: staff hear of members' messages in private, list "
        "them with /tickets and answer with /reply N TEXT. /setsupport in a forum group "
        "makes one again.")
    async with db.uow() as uow:
        assert await staff_chat.chats(uow) == []
    assert "unset the staff chat for support (console:desk)" in await olga.say("/audit")


async def test_a_low_rating_is_thanked_without_cheer(db, programme, clock, kept):
    olga = await owner(db, programme, clock)
    alice = member(db, programme, clock, locale="zh_Hans")
    await alice.say("/start")
    await alice.say("/support")
    await alice.say("还是没解决")
    assert "#1" in await olga.say("/reply １ 请再试一次")  # a Chinese keyboard's digits
    await olga.say("/close ＃１")
    out = await alice.say("2")
    assert out.startswith("感谢您的评分（2 分，满分 5 分）。很抱歉没能更好地帮到您")
    assert "2: 100%" in await rated(olga)


async def test_a_rating_answers_its_own_conversation_and_a_second_tap_changes_nothing(
        db, programme, clock, kept):
    """An earlier conversation left unrated does not take the next one's rating."""
    olga = await owner(db, programme, clock)
    dave = member(db, programme, clock, user="dave")
    await dave.say("/start")
    await dave.say("/support")
    await dave.say("First question")
    await olga.say("/close 1")  # dave is asked to rate #1, and does not
    await dave.say("/support")
    await dave.say("Second question")
    assert "Conversation #2 is closed. How well did we help?" in \
        await dave.say("/support close")
    assert await dave.say("5") == "Thank you for rating us 5!"
    assert await dave.say("5") != "Thank you for rating us 5!"
    async with db.uow() as uow:
        given = dict((await uow.session.execute(
            select(SurveyResponse.occasion, SurveyResponse.status)
            .where(SurveyResponse.member_id == 2))).all())
    assert given == {"support:1": "sent", "support:2": "completed"}
    assert "5: 100%" in await rated(olga)
