"""The home card: /start, /menu and greetings show the member card, its buttons open
each everyday screen in the card's own message with a way home; the first greeting,
invitations, and the next points to expire."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from domain.members.tables import Member
from domain.points import ledger
from domain.staff import roles
from handlers.engine.engine import Engine
from handlers.engine.routing import Outcome
from handlers.engine.types import Inbound, Reply, Scene, Text, reply
from handlers.members.home import screen
from handlers.routers import build_engine
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 on a Tuesday in Shanghai
BUTTONS_EN = ("[1] Check in  [2] Points  [3] Rewards  [4] Coupons  [5] Tier & rules  "
              "[6] Invite friends  [7] Complete profile")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


class Tapper:
    """Presses buttons as Telegram does (callback data), keeping what came back."""

    def __init__(self, db, programme, clock, user: str = "alice", locale: str = "en") -> None:
        self.engine = build_engine(db, programme, clock=clock)
        self.user, self.locale = user, locale

    async def send(self, text: str = "", action: str | None = None):
        answer = await self.engine.handle(Inbound(
            platform="console", user_id=self.user, chat_id=self.user, text=text,
            action=action, locale=self.locale))
        return answer.rendered()


def actions(message) -> list[str]:
    return [action for row in message.buttons for _, action in row]


def labels(message) -> list[str]:
    return [label for row in message.buttons for label, _ in row]


async def test_start_shows_the_card_with_the_everyday_buttons_en(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("/start")
    assert out.startswith("Welcome to Tea House Club! You are a member now.")
    assert "Member number: 00000001\nTier: Member\nPoints: 0" in out
    assert "Next to expire" not in out  # nothing to expire yet
    assert BUTTONS_EN in out


async def test_start_shows_the_card_with_the_everyday_buttons_zh(db, programme, clock):
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/checkin")
    out = await wang.say("/start")
    assert out.startswith("欢迎回到茶馆会员俱乐部！")
    assert "会员号：00000001\n等级：普通会员\n积分：5" in out
    assert "下次过期：5 积分将于 2027年3月10日 过期" in out
    assert "[1] 签到  [2] 积分  [3] 积分兑换  [4] 优惠券  [5] 等级与规则  [6] 邀请好友" in out


async def test_menu_and_greetings_show_the_same_card(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")
    out = await alice.say("/menu")
    assert out.startswith("Tea House Club — your membership card")
    assert "Points: 5\nNext to expire: 5 points on Mar 10, 2027" in out
    assert BUTTONS_EN in out
    assert "Tea House Club — your membership card" in await alice.say("hi")
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/start")
    assert "茶馆会员俱乐部 · 我的会员卡" in await wang.say("你好")


async def test_a_card_button_shows_its_screen_in_the_card_with_a_way_home(db, programme,
                                                                           clock):
    alice = Tapper(db, programme, clock)
    (card,) = await alice.send("/menu")
    assert not card.edit and actions(card)[:2] == ["home:checkin", "home:points"]
    (checked,) = await alice.send(action="home:checkin")
    assert checked.edit and "Checked in! Points +5, balance 5." in checked.text
    assert actions(checked) == ["home"] and labels(checked) == ["‹ Home"]
    (home,) = await alice.send(action="home")
    assert home.edit and "Points: 5" in home.text and actions(home) == actions(card)
    (points,) = await alice.send(action="home:points")
    assert points.edit and "Points balance: 5" in points.text and actions(points) == ["home"]


async def test_the_card_on_a_numbered_platform(db, programme, clock):
    """Without buttons, the screen comes as a new message whose last option is home."""
    alice = member(db, programme, clock)
    await alice.say("/menu")
    out = await alice.say("1")  # Check in
    assert "Checked in!" in out and "[1] ‹ Home" in out
    out = await alice.say("1")
    assert "Points: 5" in out and BUTTONS_EN in out
    out = await alice.say("5")  # Tier & rules
    assert "Your tier: Member" in out and "[1] How it works  [2] ‹ Home" in out
    out = await alice.say("1")
    assert "How Tea House Club works" in out and "[1] ‹ Home" in out


async def test_several_replies_of_a_screen_are_one_message(db, programme, clock):
    alice = Tapper(db, programme, clock)
    for _ in range(2):
        await alice.send("/checkin")
        clock.advance(days=1)
    (shown,) = await alice.send(action="home:checkin")  # day 3: a streak bonus too
    assert "Streak: 3 days." in shown.text and "streak bonus of 5 for 3 days" in shown.text
    assert shown.edit and actions(shown) == ["home"]


async def test_paging_inside_the_card_keeps_to_the_card(db, programme, clock):
    alice = Tapper(db, programme, clock)
    for _ in range(7):
        await alice.send("/checkin")
        clock.advance(days=1)
    (first,) = await alice.send(action="home:points")
    assert "(page 1 of 2)" in first.text
    assert actions(first) == ["home:points:page:2", "home"]
    (second,) = await alice.send(action="home:points:page:2")
    assert second.edit and "(page 2 of 2)" in second.text
    assert actions(second) == ["home:points:page:1", "home"]
    (tier,) = await alice.send(action="home:tier")
    assert actions(tier) == ["home:rules:show", "home"]
    (rules,) = await alice.send(action="home:rules:show")
    assert rules.edit and "How Tea House Club works" in rules.text and actions(rules) == ["home"]


async def test_stale_or_forged_card_buttons_are_refused(db, programme, clock):
    alice = Tapper(db, programme, clock)
    await alice.send("/start")
    for action in ("home:nothing", "home:points:page:x", "home:rules:nothing", "home:home"):
        (refused,) = await alice.send(action=action)
        assert "This button has expired" in refused.text and not refused.edit, action


async def test_every_card_screen_has_a_way_home_and_a_number_answers_the_screen(db, programme,
                                                                                  clock):
    alice = Tapper(db, programme, clock)
    await alice.send("/menu")
    for screen_name in ("checkin", "points", "rewards", "coupons", "tier", "invite", "profile"):
        shown = await alice.send(action=f"home:{screen_name}")
        assert actions(shown[-1])[-1:] == ["home"], screen_name
        assert labels(shown[-1])[-1] == "‹ Home", screen_name


async def test_invite_from_the_card_goes_home_with_a_number_not_a_check_in(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/menu")
    out = await alice.say("6")  # Invite friends
    assert "Invite friends" in out and "[1] ‹ Home" in out
    out = await alice.say("1")
    assert "Points: 0" in out and BUTTONS_EN in out and "Checked in" not in out
    async with db.uow() as uow:
        assert await ledger.balance_of(uow, 1) == 0  # nobody checked in


def test_a_screen_that_opens_with_a_picture_keeps_it_and_adds_the_way_home():
    scene = Reply("invite.code", {"code": "X"}, scene=Scene("ref_X", Text("invite.scene")))
    (shown,) = screen(Outcome([scene])).replies
    assert shown.scene == scene.scene and shown.actions == ["home"] and not shown.edit
    waiting = screen(Outcome([scene], state="profile.name"))
    assert waiting.replies[0].actions == []


def test_a_message_edited_into_one_without_buttons_leaves_nothing_to_press():
    offered, kinds = Engine._offer(Outcome([Reply("points.statement", edit=True)]),
                                   ["home:checkin", "home:points"], {}, moved=False,
                                   other=True)
    assert (offered, kinds) == ([], {})
    kept = Engine._offer(Outcome([reply("help.menu")]), ["a", "b"], {}, moved=False,
                         other=True)
    assert kept == (["a", "b"], {})  # a new message without buttons leaves the last set


def test_images_follow_the_card_and_a_waiting_flow_gets_no_way_home():
    listed, qr = reply("coupons.list", lines=[]), Reply("coupons.card", image=b"png")
    shown = screen(Outcome([listed, qr]))
    assert shown.replies[0].edit and shown.replies[0].actions == []
    assert shown.replies[1] is qr  # a photo is never edited into a text message
    # every platform shows a message's buttons before its picture: home comes after it
    assert shown.replies[2].key == "home.after_pictures" and not shown.replies[2].edit
    assert shown.replies[2].actions == ["home"]
    alone = screen(Outcome([listed]))
    assert alone.replies[0].edit and alone.replies[0].actions == ["home"]
    asking = screen(Outcome([reply("profile.ask_name")], state="profile.name"))
    assert asking.replies[0].actions == [] and asking.state == "profile.name"
    expired = screen(Outcome([reply("error.button_expired")]))
    assert not expired.replies[0].edit and expired.replies[0].actions == []


async def test_the_owners_first_start_is_a_first_welcome(db, programme, clock):
    async with db.uow() as uow:  # as `memberbot run` does with MEMBERBOT_OWNER
        await roles.set_owner(uow, programme, "console:boss", clock.now)
        await uow.commit()
    clock.advance(minutes=5)
    boss = member(db, programme, clock, user="boss")
    out = await boss.say("/start")
    assert out.startswith("Welcome to Tea House Club! You are a member now.")
    assert "Welcome back to Tea House Club!" in await boss.say("/start")


async def test_an_account_linked_to_a_member_with_a_history_is_welcomed_back(db, programme,
                                                                              clock):
    alice = member(db, programme, clock)
    await alice.say("/checkin")
    code = (await alice.say("/link")).split("link code is ")[1].split(".")[0]
    engine = build_engine(db, programme, clock=clock)

    async def on_wechat(text: str) -> str:
        answer = await engine.handle(Inbound(platform="wechat", user_id="oAlice",
                                             chat_id="oAlice", text=text, locale="en"))
        return "\n".join(m.text for m in answer.rendered())

    assert "Linked!" in await on_wechat(f"/link {code}")
    out = await on_wechat("/start")
    assert out.startswith("Welcome back to Tea House Club!") and "Points: 5" in out


async def test_an_invitation_says_who_invited_or_that_it_was_not_recognised(db, programme,
                                                                            clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        inviter = await uow.session.scalar(select(Member))
        inviter.display_name = "Alice"
        code = inviter.referral_code
        await uow.commit()
    bob = member(db, programme, clock, user="bob")
    out = await bob.say(f"/start ref_{code}")
    assert "You joined with Alice's invitation." in out and "Member number: 00000002" in out
    assert "You joined with Alice's invitation." in await bob.say(f"/start ref_{code}")
    carol = member(db, programme, clock, user="carol")
    out = await carol.say("/start ref_BOGUS")
    assert "We did not recognise that invitation, but you are a member all the same." in out
    assert "Member number: 00000003" in out
    assert "That is your own invitation" in await alice.say(f"/start ref_{code}")
    assert "You were already a member" in await carol.say(f"/start ref_{code}")
    async with db.uow() as uow:
        invited = dict((await uow.session.execute(
            select(Member.id, Member.referred_by_id))).all())
    assert invited == {1: None, 2: 1, 3: None}


async def test_an_inviter_without_a_name_is_named_by_number_zh(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        code = (await uow.session.scalar(select(Member))).referral_code
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    assert "您是受会员 00000001 的邀请加入的。" in await wang.say(f"/start ref_{code}")
    li = member(db, programme, clock, user="li", locale="zh_Hans")
    assert "未能识别该邀请，但您已成功入会。" in await li.say("/start ref_NOPE")


async def test_points_always_shows_the_next_expiry(db, programme, clock):
    alice = member(db, programme, clock)
    out = await alice.say("/points")
    assert "Points balance: 0\n\nRecent movements" in out and "expire" not in out
    await alice.say("/checkin")  # 09:00 and 10:00 the same day: two moments, one day
    async with db.uow() as uow:
        m = await uow.session.scalar(select(Member))
        await ledger.post(uow, ledger.Post(member_id=m.id, delta=50, kind="earn",
                                           reason="profile_completed", key="p",
                                           expires_at=datetime(2027, 3, 10, 2, 0, tzinfo=UTC)),
                          clock.now)
        await uow.commit()
    out = await alice.say("/points")
    assert "Points balance: 55\nNext to expire: 55 points on Mar 10, 2027\n" in out
    clock.advance(days=345)
    out = await alice.say("/points")
    assert "Expiring soon:\nMar 10, 2027: 55" in out and "Next to expire" not in out
    wang = member(db, programme, clock, user="wang", locale="zh_Hans")
    await wang.say("/checkin")
    assert "下次过期：5 积分将于 2028年2月18日 过期" in await wang.say("/points")


async def test_points_that_never_expire_show_no_expiry(db, programme, clock):
    forever = programme.model_copy(update={"expiry": programme.expiry.model_copy(
        update={"policy": "never"})})
    alice = member(db, forever, clock)
    await alice.say("/checkin")
    assert "expire" not in await alice.say("/points")
    assert "Next to expire" not in await alice.say("/menu")


async def test_the_lowest_tier_shows_no_validity_the_others_do(db, programme, clock):
    alice = member(db, programme, clock)
    assert "valid until" not in await alice.say("/tier")
    async with db.uow() as uow:
        m = await uow.session.scalar(select(Member))
        await ledger.post(uow, ledger.Post(member_id=m.id, delta=600, kind="adjust",
                                           reason="adjusted", key="award", qualifying=600),
                          clock.now)
        await uow.commit()
    await alice.say("/checkin")  # re-evaluated: Silver
    out = await alice.say("/tier")
    assert "Your tier: Silver" in out and "Your tier is valid until Mar 10, 2027." in out


async def test_coupons_from_the_card_show_the_code_and_qr_before_the_way_home(db, programme,
                                                                              clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=1, delta=2000, kind="adjust",
                                           reason="adjusted", key="gift"), clock.now)
        await uow.commit()
    await alice.press("rewards:pick:ten_off")
    await alice.say("1")  # Yes, redeem
    await alice.say("/menu")
    out = await alice.say("4")  # Coupons
    listed, code = out.index("ready to use"), out.index("Code: ")
    qr, home = out.index("QR code saved to"), out.index("‹ Home")
    assert listed < code < qr < home, out  # the list, the code and its QR, then home
    assert out.endswith("[1] ‹ Home\nReply with a number to choose."), out
    assert out.count("[1]") == 1, out
    assert BUTTONS_EN in await alice.say("1")  # the number answers the way home
