"""Conversations as a newcomer and an operator meet them in the console: buttons
answered by number or by yes/no, /cancel at a confirmation, the step-by-step
/purchase, the first message of a newcomer, and greetings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from domain.conversations.tables import Conversation
from domain.members.tables import Member
from domain.points import ledger, purchases
from domain.points.tables import Purchase
from handlers.engine.types import Inbound
from handlers.points.purchase import parse_amount, read_amount
from handlers.routers import build_router
from tests.support import crowd
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Shanghai: Tea Tuesday
PROFILE_BUTTONS = 6  # Name, Phone, Birthday, Marketing consent, Fill in missing, Done
ANSWER_IT = "Please answer with 1–2, yes or no, or send /cancel."
NOTHING_TO_CHOOSE = ("There is nothing to choose right now. Send /menu for your card, or /help "
                     "to see what I can do.")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def operator(db, programme, clock, user: str = "boss", locale: str = "en"):
    """The owner, in the console (member 1)."""
    return await owner(db, programme, clock, user=user, locale=locale)


async def written_at(db, user: str) -> datetime:
    async with db.uow() as uow:
        found = await uow.session.get(Conversation, ("console", user))
        assert found is not None
        return found.updated_at


async def count(db, table) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(table))


# ------------------------------------------------------------------ numbers answer buttons

async def test_buttons_stay_answerable_after_other_messages(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "didn't understand" in await alice.say("what is this")
    assert "/points" in await alice.say("/help")
    assert "What should we call you?" in await alice.say("1")  # [1] Name, still offered


async def test_messages_that_offer_nothing_new_write_no_conversation_row(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    before = await written_at(db, "alice")
    clock.advance(minutes=5)
    await alice.say("what is this")
    await alice.say("/help")
    assert await written_at(db, "alice") == before


async def test_a_number_past_the_buttons_says_which_to_choose_en(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert await alice.say("9") == f"Choose 1–{PROFILE_BUTTONS}."
    assert await alice.say("0") == f"Choose 1–{PROFILE_BUTTONS}."
    assert "What should we call you?" in await alice.say("1")  # the set is still there


async def test_a_number_past_the_buttons_says_which_to_choose_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    assert await wang.say("7") == f"请回复 1–{PROFILE_BUTTONS} 之间的数字。"


async def test_a_full_width_digit_presses_a_button(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/profile")
    assert "请问怎么称呼您" in await wang.say("１")


async def test_a_digit_goes_to_the_flow_that_waits_for_text(db, programme, clock):
    boss = await operator(db, programme, clock)
    await boss.say("/profile")  # six buttons on screen
    assert "Which member?" in await boss.say("/purchase")
    assert "Member 00000001. How much was spent?" in await boss.say("1")
    assert "Record a purchase of ¥5.00 for member 00000001?" in await boss.say("5")


async def test_a_flow_left_takes_its_buttons_with_it(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("1")  # asks the name, with [1] Skip
    assert "Cancelled" in await alice.say("/cancel")
    assert await alice.say("1") == NOTHING_TO_CHOOSE  # no buttons are offered now


# ------------------------------------------------------------------ yes and no, typed

@pytest.mark.parametrize(("typed", "shown"), [("yes", "Yes"), ("Y", "Yes"), ("OK!", "Yes"),
                                              ("是的", "Yes"), ("no", "No"), ("否", "No"),
                                              ("不", "No")])
async def test_a_yes_no_step_understands_the_words(db, programme, clock, typed, shown):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "[1] Yes  [2] No  [3] Skip" in await alice.say("4")  # Marketing consent
    out = await alice.say(typed)
    assert "answer with the buttons" not in out and f"Marketing messages: {shown}" in out


async def test_yes_and_no_press_nothing_where_no_button_means_them(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "didn't understand" in await alice.say("yes")
    assert "What should we call you?" in await alice.say("1")  # nothing was pressed


async def test_a_confirmation_is_answered_by_a_word_in_either_language(db, programme, clock):
    boss = await operator(db, programme, clock)
    await boss.say("/purchase 1 50")
    assert "Cancelled; nothing was recorded." in await boss.say("否")
    await boss.say("/purchase 1 50")
    assert "Recorded order" in await boss.say("是")
    assert await count(db, Purchase) == 1
    # Answered once: the word (or its number) does not record it again.
    assert "Recorded" not in await boss.say("yes")
    assert "Recorded" not in await boss.say("1")
    assert await count(db, Purchase) == 1


async def test_save_and_discard_are_a_yes_and_a_no(db, programme, clock):
    own = programme.model_copy()  # the edit is kept on the programme: not on the shared one
    boss = await operator(db, own, clock, locale="zh_Hans")
    await boss.press("rwd:edit:ten_off:cost")
    await boss.say("250")
    assert "已保存" in await boss.say("确认")  # the confirmation's [1] Save
    await boss.press("rwd:edit:ten_off:cost")
    await boss.say("300")
    assert "已放弃" in await boss.say("不要")  # [2] Discard
    assert own.reward("ten_off").cost == 250


async def test_a_confirmation_is_answered_next_or_not_at_all(db, programme, clock):
    boss = await operator(db, programme, clock)
    await boss.say("/purchase 1 50")
    assert await boss.say("hmm") == ANSWER_IT  # text it cannot place: still there
    assert "Recorded order" in await boss.say("yes")
    await boss.say("/purchase 1 60")
    await boss.say("/points")  # moved on: the confirmation's figures were as of then
    assert "Recorded" not in await boss.say("1") and "Recorded" not in await boss.say("yes")
    assert await count(db, Purchase) == 1


# ------------------------------------------------------------ text a confirmation cannot place

@pytest.mark.parametrize("typed", ["maybe", "12,5", "9", "0", "hi", "/", "  "])
async def test_a_purchase_confirmation_says_how_to_answer_it(db, programme, clock, typed):
    boss = await operator(db, programme, clock)
    assert "[1] Record it  [2] Cancel" in await boss.say("/purchase 1 50")
    assert await boss.say(typed) == ANSWER_IT
    assert "Recorded order" in await boss.say("1")  # it stayed answerable
    assert await count(db, Purchase) == 1


async def test_the_reward_editors_confirmation_says_the_same_zh(db, programme, clock):
    own = programme.model_copy()
    boss = await operator(db, own, clock, locale="zh_Hans")
    await boss.press("rwd:edit:ten_off:cost")
    assert "[1] 保存  [2] 放弃" in await boss.say("250")
    out = await boss.say("不限")
    assert out == "请回复 1–2、“是”或“否”，或发送 /cancel 取消。"
    assert "请用按钮回答" not in out
    assert "已保存" in await boss.say("1")
    assert own.reward("ten_off").cost == 250


async def test_a_redeem_confirmation_says_the_same(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=1, delta=2000, kind="adjust",
                                           reason="adjusted", key="gift"), clock.now)
        await uow.commit()
    assert "Redeem ¥10 off for 200 points?" in await alice.press("rewards:pick:ten_off")
    assert await alice.say("perhaps later") == ANSWER_IT
    assert await alice.say("3") == ANSWER_IT
    assert await alice.say("no") == "OK, nothing was redeemed."


async def test_the_consent_question_says_the_same_with_its_three_buttons(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    assert "[1] Yes  [2] No  [3] Skip" in await alice.say("4")
    assert await alice.say("maybe later") == "Please answer with 1–3, yes or no, or send /cancel."
    assert "Marketing messages: Yes" in await alice.say("是")


async def test_a_campaign_confirmation_says_the_same(db, programme, clock):
    boss = await operator(db, programme, clock)
    await crowd.plain(db, 2, clock.now, first_id=2, locale="en")
    await boss.say("/campaign")
    assert "Step 2 of 5" in await boss.say("12")  # everyone
    assert "Step 3 of 5" in await boss.say("Hello")
    assert "Step 4 of 5" in await boss.say("1")  # no offer
    await boss.say("1")  # no A/B test
    assert "Step 5 of 5" in await boss.say("1")  # no holdout
    assert "Ready to send" in await boss.say("1")  # now
    assert await boss.say("send it maybe") == ANSWER_IT
    assert await boss.say("hello") == ANSWER_IT  # not the home card: the question stands
    assert await boss.say("?") == ANSWER_IT
    assert "Please choose with the buttons" not in "".join(boss.said)
    assert "Record" not in await boss.say("no")
    assert await boss.say("1") == NOTHING_TO_CHOOSE  # answered: nothing stands now


async def test_not_understood_shows_the_askers_own_help(db, programme, clock):
    boss = await operator(db, programme, clock)
    own = await boss.say("/help")
    assert "Admins:" in own and "/grant" in own
    out = await boss.say("what is this")
    assert out.startswith("Sorry, I didn't understand that.") and out.endswith(own)
    out = await boss.say("/nonsense")
    assert out.endswith(own)
    alice = member(db, programme, clock)
    out = await alice.say("what is this")
    assert "didn't understand" in out and "Admins:" not in out and "/grant" not in out


async def test_a_number_or_yes_with_nothing_offered_says_so_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/help")  # no buttons anywhere yet? the welcome card had some
    await wang.say("/profile")
    await wang.say("1")
    await wang.say("/cancel")
    nothing = "现在没有可选的选项。发送 /menu 查看会员卡，或发送 /help 查看可用功能。"
    assert await wang.say("1") == nothing
    assert await wang.say("是") == nothing


# ------------------------------------------------------------------ /cancel

async def test_cancel_leaves_a_confirmation_unanswered(db, programme, clock):
    boss = await operator(db, programme, clock)
    assert "[1] Record it  [2] Cancel" in await boss.say("/purchase 1 50")
    assert "Cancelled. Nothing more will be asked." in await boss.say("/cancel")
    assert await boss.say("1") == NOTHING_TO_CHOOSE  # its buttons are forgotten
    assert await boss.say("yes") == NOTHING_TO_CHOOSE
    assert await count(db, Purchase) == 0
    assert "There is nothing to cancel." in await boss.say("/cancel")


async def test_cancel_after_the_confirmation_was_answered_has_nothing_to_cancel(db, programme,
                                                                               clock):
    boss = await operator(db, programme, clock)
    await boss.say("/purchase 1 50")
    await boss.say("1")
    assert "There is nothing to cancel." in await boss.say("/cancel")
    assert await count(db, Purchase) == 1


# ------------------------------------------------------------------ /purchase step by step

async def test_the_member_step_takes_number_and_amount_at_once(db, programme, clock):
    boss = await operator(db, programme, clock)
    assert "Which member?" in await boss.say("/purchase")
    out = await boss.say("00000001 5000")
    assert "Record a purchase of ¥5,000.00 for member 00000001?" in out
    assert "[1] Record it  [2] Cancel" in out


async def test_the_member_step_says_what_is_wrong(db, programme, clock):
    boss = await operator(db, programme, clock)
    await boss.say("/purchase")
    assert "That is not a member number" in await boss.say("alice")
    assert "There is no member 00000099" in await boss.say("00000099")
    assert "the number and the amount" in await boss.say("1 2 3")
    assert "That is not an amount" in await boss.say("00000001 lots")
    assert "Member 00000001. How much was spent?" in await boss.say("/purchase 00000001")
    assert "¥12.50" in await boss.say("12.5")
    await boss.say("/purchase 00000001")
    assert "¥9.00 for member 00000001" in await boss.say("00000001 9")  # both, again


@pytest.mark.parametrize("typed", ["0", "0.00", "-5", "−5", "¥-5", "99999999999",
                                   "10000000.01", "1" + "0" * 60])
async def test_an_amount_out_of_range_says_the_range_en(db, programme, clock, typed):
    boss = await operator(db, programme, clock)
    out = await boss.say(f"/purchase 1 {typed}")
    assert out == ("The amount must be from ¥0.01 to ¥10,000,000.00. Send it like 128.50, "
                   "or /cancel.")
    assert "¥12.00 for member 00000001" in await boss.say("12")  # the amount is asked again
    assert await count(db, Purchase) == 0


async def test_the_range_is_the_domains_and_a_malformed_amount_keeps_the_format_zh(
        db, programme, clock):
    boss = await operator(db, programme, clock, locale="zh_Hans")
    await boss.say("/purchase 1")
    assert await boss.say("-5") == ("金额须在 ¥0.01 到 ¥10,000,000.00 之间，请按 128.50 这样发送，"
                                    "或 /cancel 取消。")
    for malformed in ("12.345", "abc", "1e3", "12.5.0", "--5"):
        assert "金额格式不对" in await boss.say(malformed), malformed
    top = f"{purchases.MAX_AMOUNT // 100}"  # the largest amount allowed is allowed
    assert "为会员 00000001 记录消费 ¥10,000,000.00？" in await boss.say(top)
    assert parse_amount(top, "CNY") == purchases.MAX_AMOUNT
    assert read_amount("-5", "CNY") == -500 and read_amount("--5", "CNY") is None


async def test_the_member_step_in_chinese(db, programme, clock):
    boss = await operator(db, programme, clock, locale="zh_Hans")
    assert "或会员号加金额" in await boss.say("/purchase")
    assert "为会员 00000001 记录消费 ¥88.00？" in await boss.say("1 88")


async def test_the_purchase_reply_shows_every_part_en(db, programme, clock):
    boss = await operator(db, programme, clock)
    friend = member(db, programme, clock, user="friend")
    async with db.uow() as uow:
        code = (await uow.session.get(Member, 1)).referral_code
    await friend.say(f"/start ref_{code}")  # member 2, invited by member 1
    await boss.say("/purchase 2 20")
    async with db.uow() as uow:
        record_it = (await uow.session.get(Conversation, ("console", "boss"))).options[0]
    out = await boss.say("1")
    # 20 for the purchase, 20 more on Tea Tuesday, 100 for a first purchase, and 100 for
    # joining through a friend: 240 in all, and the balance says the same.
    assert "member 00000002 earned 240 points; balance 240." in out
    parts = ["Purchase: +20", "Bonus points day (Tea Tuesday): +20",
             "First purchase bonus: +100", "Welcome bonus for joining through a friend: +100"]
    assert out.splitlines()[1:] == parts
    again = await boss.press(record_it)  # a double tap: the same parts, nothing twice
    assert "was already recorded: member 00000002 earned 240 points; balance 240." in again
    assert again.splitlines()[1:] == parts
    await boss.say("/purchase 2 30")
    assert "Welcome bonus" not in await boss.say("yes")  # paid with the first purchase only


async def test_the_purchase_reply_shows_every_part_zh(db, programme, clock):
    boss = await operator(db, programme, clock, locale="zh_Hans")
    await boss.say("/purchase 1 20")
    out = await boss.say("1")
    assert "会员 00000001 获得 140 积分，余额 140。" in out
    assert "消费积分：+20" in out and "积分加倍日（周二品茶日）：+20" in out
    assert "首次消费奖励：+100" in out and "好友推荐" not in out


# ------------------------------------------------------------------ a newcomer's first message

async def test_a_first_command_shows_the_card_as_it_was_then_the_reply(db, programme, clock):
    bob = member(db, programme, clock, user="bob")
    answer = await bob.chat.engine.handle(Inbound(platform="console", user_id="bob",
                                                  chat_id="bob", text="/checkin", locale="en"))
    card, *rest = [r.text for r in answer.rendered()]
    assert "Welcome to Tea House Club!" in card and "Points: 0" in card
    assert "Points: 5" not in card
    assert any("Checked in! Points +5, balance 5." in r for r in rest)


async def test_a_newcomers_first_link_joins_without_making_a_member(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")
    code = (await alice.say("/link")).split("link code is ")[1].split(".")[0]
    engine = alice.chat.engine
    answer = await engine.handle(Inbound(platform="telegram", user_id="77", chat_id="77",
                                         text=f"/link {code}", locale="en"))
    texts = [r.text for r in answer.rendered()]
    assert texts == ["Linked! This account now belongs to member 00000001. Points balance: 5."]
    assert await count(db, Member) == 1
    answer = await engine.handle(Inbound(platform="telegram", user_id="77", chat_id="77",
                                         text="/points", locale="en"))
    assert "Points balance: 5" in answer.rendered()[-1].text  # it is alice's account now


async def test_a_newcomers_first_start_link_joins_too(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    code = (await alice.say("/link")).split("link code is ")[1].split(".")[0]
    answer = await alice.chat.engine.handle(Inbound(platform="wechat", user_id="oA",
                                                    chat_id="oA", text=f"/start link_{code}",
                                                    locale="zh_Hans"))
    linked = "关联成功！此账号已归入会员 00000001，当前积分 0。"
    assert [r.text for r in answer.rendered()] == [linked]
    assert await count(db, Member) == 1


async def test_a_newcomers_refused_link_makes_nobody(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    code = (await alice.say("/link")).split("link code is ")[1].split(".")[0]
    bob = member(db, programme, clock, user="bob")  # on alice's platform: one account each
    out = await bob.say(f"/link {code}")
    assert out == "That membership already has an account on this platform."
    assert "not valid" in await bob.say("/link NOPE")
    assert await count(db, Member) == 1
    assert "Member number: 00000002" in await bob.say("/start")  # no number was spent


# ------------------------------------------------------------------ greetings

def home_command() -> str:
    return "/menu" if "menu" in build_router().commands else "/start"


@pytest.mark.parametrize("greeting", ["hi", "Hello!", "  HEY  ", "你好", "您好！", "嗨", "menu",
                                      "菜单"])
async def test_a_greeting_opens_the_home_card(db, programme, clock, greeting):
    alice = member(db, programme, clock)
    await alice.say("/start")
    home = await alice.say(home_command())
    assert await alice.say(greeting) == home


async def test_a_newcomers_greeting_is_welcomed_once(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("hello")
    assert out.count("Welcome to Tea House Club!") == 1 and "didn't understand" not in out


async def test_a_greeting_while_a_flow_waits_goes_to_the_flow(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/profile")
    await alice.say("1")  # the name, please
    out = await alice.say("Hi")
    assert "Name saved." in out and "Name: Hi" in out
