"""Newcomers: the captcha (pass, fail, expiry, restart, who skips it), the welcome and
its placeholders in both languages, the rules button, and a mute or ban that outlives
leaving and coming back. A refusal by the platform never stops the next newcomer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.community import captchas, group_settings, restrictions
from domain.community.tables import GroupCaptcha
from domain.staff.tables import StaffRole
from handlers.community.moderation import flood, newcomers
from handlers.community.moderation.dispatch import GroupRouter, Moderation
from handlers.community.moderation.events import Person
from tests.handlers.community.moderation import (
    ANN,
    BEN,
    BOSS,
    PLATFORM,
    TEA_ID,
    FakeGroupChat,
    Group,
)
from tests.support.lifecycle_helpers import a_member
from tests.support.transcript import Clock

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
CAT = Person("2003", "Cat {first} Chen", None)  # braces in a name are only a name
SPAM_BOT = Person("2999", "Spam Bot", "spambot", is_bot=True)


def lane_router() -> GroupRouter:
    router = GroupRouter()
    router.include(flood.router)
    router.include(newcomers.router)
    return router


@pytest.fixture(autouse=True)
def fresh_counts():
    flood.forget()
    newcomers.forget()
    yield
    flood.forget()
    newcomers.forget()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def chat() -> FakeGroupChat:
    return FakeGroupChat()


def group_for(db, programme, clock, chat, members=None) -> Group:
    return Group(Moderation(db, programme, lane_router(), "memberbot", clock=clock), chat,
                 members=members)


@pytest.fixture
def group(db, programme, clock, chat) -> Group:
    return group_for(db, programme, clock, chat, members=120)


async def settle(db, **changes) -> None:
    async with db.uow() as uow:
        await group_settings.change(uow, PLATFORM, TEA_ID, "test", T0, **changes)
        await uow.commit()


@dataclass(frozen=True)
class Pending:
    answer: int
    message_id: str | None
    expires_at: datetime


async def captcha_of(db, person) -> Pending | None:
    async with db.uow() as uow:
        row = await captchas.pending(uow, PLATFORM, TEA_ID, person.user_id)
        return None if row is None else Pending(row.answer, row.message_id, row.expires_at)


async def status_of(db, person) -> str:
    async with db.uow() as uow:
        return await uow.session.scalar(select(GroupCaptcha.status).where(
            GroupCaptcha.chat_id == TEA_ID, GroupCaptcha.user_id == person.user_id))


def asked(chat) -> tuple[str, object]:
    """The captcha the newcomer was shown: (message id, rendered)."""
    return chat.posted[-1]


# ------------------------------------------------------------------ captcha


async def test_the_right_answer_unmutes_takes_the_captcha_away_then_welcomes(
        db, group, chat):
    await settle(db, language="en", captcha_on=True, welcome_on=True)
    said = await group.join(ANN)
    assert not said.replies  # the welcome waits for the answer
    assert chat.calls[0] == ("mute", ANN.user_id, None)
    message_id, shown = asked(chat)
    pending = await captcha_of(db, ANN)
    assert pending.message_id == message_id
    assert pending.expires_at == T0 + timedelta(minutes=2)
    assert shown.text.startswith("@annlee, welcome to Tea Lovers! Please show you are "
                                 "human: what is ")
    answers = [action for row in shown.buttons for _, action in row]
    assert len(answers) == 4 and f"captcha:{pending.answer}" in answers
    assert all(len(a.encode()) <= 64 for a in answers)

    # Someone else's press, or a press under another message, changes nothing.
    assert not (await group.press(BEN, f"captcha:{pending.answer}", message_id)).replies
    assert not (await group.press(ANN, f"captcha:{pending.answer}", "999")).replies
    assert ANN.user_id in chat.muted

    chat.calls.clear()
    said = await group.press(ANN, f"captcha:{pending.answer}", message_id)
    assert chat.calls == [("unmute", ANN.user_id), ("delete", message_id)]
    assert said.text == "Welcome to Tea Lovers, Ann!"
    assert await captcha_of(db, ANN) is None
    # Pressed again (a double tap): nothing more.
    chat.calls.clear()
    assert not (await group.press(ANN, f"captcha:{pending.answer}", message_id)).replies
    assert chat.calls == []


async def test_a_wrong_answer_removes_them_and_the_captcha(db, group, chat):
    await settle(db, captcha_on=True, welcome_on=True)
    await group.join(ANN)
    message_id, _ = asked(chat)
    right = (await captcha_of(db, ANN)).answer
    chat.calls.clear()
    said = await group.press(ANN, f"captcha:{right + 1}", message_id)
    assert not said.replies
    assert chat.calls == [("kick", ANN.user_id), ("delete", message_id)]
    assert await status_of(db, ANN) == captchas.FAILED


async def test_the_time_running_out_removes_them(db, programme, group, chat, clock):
    await settle(db, captcha_on=True, captcha_minutes=3)
    await group.join(ANN)
    ann_message, _ = asked(chat)
    clock.advance(minutes=1)
    await group.join(BEN)
    ben_message, _ = asked(chat)
    chats = {TEA_ID: chat}.__getitem__
    chat.calls.clear()
    assert await newcomers.expire_due(db, programme, PLATFORM, chats,
                                      T0 + timedelta(minutes=3)) == 1
    assert chat.calls == [("kick", ANN.user_id), ("delete", ann_message)]
    assert await newcomers.expire_due(db, programme, PLATFORM, chats,
                                      T0 + timedelta(minutes=3)) == 0
    # Too late to answer now.
    right = (await captcha_of(db, BEN)).answer
    clock.advance(minutes=3)
    chat.calls.clear()
    said = await group.press(BEN, f"captcha:{right}", ben_message)
    assert not said.replies and chat.calls == [("kick", BEN.user_id), ("delete", ben_message)]
    assert await status_of(db, BEN) == captchas.EXPIRED


async def test_pending_captchas_survive_a_restart(db, programme, clock, chat):
    await settle(db, captcha_on=True, welcome_on=True, language="en")
    before = group_for(db, programme, clock, chat)
    await before.join(ANN)
    ann_message, _ = asked(chat)
    await before.join(BEN)
    ben_message, _ = asked(chat)
    right = (await captcha_of(db, ANN)).answer

    flood.forget()  # the process's memory is gone; the rows are not
    after = group_for(db, programme, clock, FakeGroupChat())
    said = await after.press(ANN, f"captcha:{right}", ann_message)
    assert after.chat.calls == [("unmute", ANN.user_id), ("delete", ann_message)]
    assert said.keys == ["moderation.welcome.default"]
    assert await newcomers.expire_due(db, programme, PLATFORM, {TEA_ID: after.chat}.get,
                                      T0 + timedelta(minutes=5)) == 1
    assert after.chat.calls[-2:] == [("kick", BEN.user_id), ("delete", ben_message)]


class PacedChat(FakeGroupChat):
    """A chat whose messages wait for the group's turn (newcomers.Paced): the jobs
    given to `soon` run when the test says the turn has come."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list = []

    def soon(self, job) -> None:
        self.waiting.append(job)

    async def turn_comes(self) -> None:
        jobs, self.waiting = self.waiting, []
        for job in jobs:
            await job


async def test_a_captcha_held_up_by_a_join_raid_gives_its_full_time_from_the_post(
        db, programme, clock):
    chat = PacedChat()
    group = group_for(db, programme, clock, chat)
    await settle(db, captcha_on=True, captcha_minutes=2)
    await group.join(ANN)
    assert ANN.user_id in chat.muted and not chat.posted  # muted now, asked later
    chats = {TEA_ID: chat}.__getitem__
    # The group's queue is long: two minutes pass before the sum goes out. Nobody is
    # taken out for not answering a question they were never shown.
    clock.advance(minutes=5)
    assert await newcomers.expire_due(db, programme, PLATFORM, chats, clock()) == 0
    assert ("kick", ANN.user_id) not in chat.calls
    await chat.turn_comes()
    message_id, _ = asked(chat)
    pending = await captcha_of(db, ANN)
    assert pending.message_id == message_id
    assert pending.expires_at == T0 + timedelta(minutes=7)  # two minutes from the post
    clock.advance(minutes=1)
    said = await group.press(ANN, f"captcha:{pending.answer}", message_id)
    assert chat.calls[-2:] == [("unmute", ANN.user_id), ("delete", message_id)]
    assert await status_of(db, ANN) == captchas.PASSED
    assert not said.replies  # no welcome asked for


async def test_a_captcha_lost_before_its_post_lets_the_newcomer_in(db, programme, clock):
    chat = PacedChat()
    group = group_for(db, programme, clock, chat)
    await settle(db, captcha_on=True, captcha_minutes=2)
    await group.join(ANN)
    await group.join(BEN)
    async with db.uow() as uow:  # an admin muted Ben meanwhile
        await restrictions.impose(uow, PLATFORM, TEA_ID, BEN.user_id, "mute", None,
                                  "spam", "test", T0)
        await uow.commit()
    for job in chat.waiting:  # the process stopped before the group's turn came
        job.close()
    chat.waiting.clear()
    chats = {TEA_ID: chat}.__getitem__
    # Still within the allowance for a long queue: nothing yet.
    clock.advance(minutes=2 + 29)
    assert await newcomers.expire_due(db, programme, PLATFORM, chats, clock()) == 0
    clock.advance(minutes=1)
    chat.calls.clear()
    assert await newcomers.expire_due(db, programme, PLATFORM, chats, clock()) == 2
    assert chat.calls == [("unmute", ANN.user_id)]  # Ben's admin mute holds
    assert await status_of(db, ANN) == captchas.PASSED
    assert await status_of(db, BEN) == captchas.PASSED
    assert BEN.user_id in chat.muted


async def test_the_skip_tier_admins_and_staff_skip_the_captcha(db, programme, group, chat):
    await a_member(db, programme, T0, BEN.user_id, tier="gold")
    await a_member(db, programme, T0, ANN.user_id, tier="member")
    staff = await a_member(db, programme, T0, CAT.user_id)
    async with db.uow() as uow:
        uow.session.add(StaffRole(member_id=staff, role="moderator", granted_by="test",
                                  granted_at=T0))
        await uow.commit()
    await settle(db, captcha_on=True, welcome_on=True)
    said = await group.say(BOSS, "/captchaskip silver")
    assert "白银会员及以上等级的会员无需验证" in said.text
    for person in (BEN, BOSS, CAT):
        said = await group.join(person)
        assert said.keys == ["moderation.welcome.default"], person
    assert chat.calls == []
    said = await group.join(ANN)  # a member below the skip tier
    assert not said.replies and chat.calls[0] == ("mute", ANN.user_id, None)

    await group.say(BOSS, "/captchaskip off")
    chat.calls.clear()
    await group.leave(BEN)
    await group.join(BEN)
    assert chat.calls[0] == ("mute", BEN.user_id, None)


async def test_leaving_before_answering_takes_the_captcha_away(db, group, chat):
    await settle(db, captcha_on=True)
    await group.join(ANN)
    first, _ = asked(chat)
    chat.calls.clear()
    await group.leave(ANN)
    assert chat.calls == [("delete", first)]
    assert await status_of(db, ANN) == captchas.LEFT
    await group.join(ANN)  # back: a new captcha
    second, _ = asked(chat)
    assert second != first and (await captcha_of(db, ANN)).message_id == second


async def test_the_same_arrival_twice_asks_once(db, group, chat):
    await settle(db, captcha_on=True)
    await group.join(ANN)
    await group.join(ANN)
    assert [c[0] for c in chat.calls] == ["mute", "post", "mute"]


async def test_bots_get_neither_captcha_nor_welcome(db, group, chat):
    await settle(db, captcha_on=True, welcome_on=True)
    assert not (await group.join(SPAM_BOT)).replies
    assert chat.calls == []


# ------------------------------------------------------------------ refusals


async def test_a_refused_mute_lets_the_newcomer_in_welcomed_and_the_next_one_too(
        db, group, chat):
    await settle(db, captcha_on=True, welcome_on=True)
    chat.refuse = {"mute": "rights"}
    for person in (ANN, BEN):
        said = await group.join(person)
        assert said.keys == ["moderation.welcome.default"]
    assert chat.posted == []
    assert await captcha_of(db, ANN) is None


async def test_a_refused_captcha_post_unmutes_again(db, group, chat):
    await settle(db, captcha_on=True)
    chat.refuse = {"post": "failed"}
    await group.join(ANN)
    assert chat.calls == [("mute", ANN.user_id, None), ("post", "moderation.captcha.ask"),
                          ("unmute", ANN.user_id)]
    assert await captcha_of(db, ANN) is None


async def test_expiry_goes_on_past_a_chat_that_refuses(db, programme, clock):
    other = FakeGroupChat(chat_id="-1001000000200", refuse={"kick": "rights"})
    tea = FakeGroupChat()
    for chat in (other, tea):
        async with db.uow() as uow:
            await group_settings.change(uow, PLATFORM, chat.chat_id, "test", T0,
                                        captcha_on=True)
            await uow.commit()
        await group_for(db, programme, clock, chat).join(ANN)
    chats = {c.chat_id: c for c in (other, tea)}

    def lookup(chat_id):
        if chat_id == "gone":
            raise KeyError(chat_id)
        return chats[chat_id]

    assert await newcomers.expire_due(db, programme, PLATFORM, lookup,
                                      T0 + timedelta(minutes=2)) == 2
    assert ("kick", ANN.user_id) in tea.calls and tea.calls[-1][0] == "delete"
    assert other.calls[-1][0] == "delete"  # refused the kick; the captcha still went


# ------------------------------------------------------------------ welcome


@pytest.mark.parametrize(("locale", "default"), [
    ("en", "Welcome to Tea Lovers, Ann!"),
    ("zh_Hans", "欢迎 Ann 加入 Tea Lovers！"),
])
async def test_the_default_welcome_in_both_languages(db, group, locale, default):
    await settle(db, language=locale, welcome_on=True)
    said = await group.join(ANN)
    assert said.text == default and said.buttons == []


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
async def test_placeholders_fill_in_and_stray_braces_stay(db, group, locale):
    await settle(db, language=locale)
    said = await group.say(BOSS, "/setwelcome Hi {first} ({mention}) of {chatname}, member "
                                 "#{count}! {rules} {{first}} {0} {")
    assert said.keys == ["moderation.welcome.saved", "moderation.welcome.custom"]
    said = await group.join(ANN)
    assert said.text == "Hi Ann (@annlee) of Tea Lovers, member #120! {rules} {Ann} {0} {"
    said = await group.join(CAT)  # a name with braces is not filled in again
    assert said.text == "Hi Cat (Cat {first} Chen) of Tea Lovers, member #120! {rules} " \
                        "{Cat} {0} {"


async def test_welcome_switches_and_shows_what_it_says(db, group):
    await settle(db, language="zh_Hans")
    said = await group.say(BOSS, "/welcome")
    assert said.text.startswith("入群欢迎已关闭。开启后使用的欢迎语：\n（默认欢迎语）")
    said = await group.say(BOSS, "/welcome on")
    assert said.text == "入群欢迎已开启。当前欢迎语：\n（默认欢迎语）"
    await group.say(BOSS, "/setwelcome 你好 {first}")
    said = await group.say(BOSS, "/welcome off")
    assert said.text == "入群欢迎已关闭。开启后使用的欢迎语：\n你好 {first}"
    assert not (await group.join(ANN)).replies
    await group.say(BOSS, "/welcome on")
    assert (await group.join(BEN)).text == "你好 Ben"
    said = await group.say(BOSS, "/resetwelcome")
    assert (await group.join(ANN)).text == "欢迎 Ann 加入 Tea Lovers！"
    said = await group.say(ANN, "/welcome off")
    assert said.keys == ["moderation.not_admin"]


async def test_a_rules_button_when_the_group_has_rules(db, group, clock):
    await settle(db, language="en", welcome_on=True, rules_text="Be kind.\nNo {spam}.")
    said = await group.join(ANN)
    assert said.buttons == [("Rules", f"rules:{TEA_ID}")]
    said = await group.press(ANN, f"rules:{TEA_ID}")
    assert said.text == "Rules of Tea Lovers:\nBe kind.\nNo {spam}."
    assert not (await group.press(ANN, "rules:-100999")).replies  # another chat's
    # Pressed again within a minute (anyone may, and each showing costs one of the
    # group's 20 messages a minute): a private answer, nothing in the group.
    again = await group.press(BEN, f"rules:{TEA_ID}")
    assert again.replies == [] and again.outcome.toast.key == "moderation.rules_just_shown"
    clock.advance(seconds=61)
    assert (await group.press(BEN, f"rules:{TEA_ID}")).text.startswith("Rules of Tea")


async def test_captcha_commands(db, group):
    await settle(db, language="en")
    said = await group.say(BOSS, "/captcha")
    assert said.keys == ["moderation.captcha.state_off", "moderation.captcha.usage"]
    said = await group.say(BOSS, "/captcha on 5")
    assert said.text.startswith("Captcha for newcomers is on") and "within 5 min" in said.text
    said = await group.say(BOSS, "/captcha on 61")
    assert said.keys == ["moderation.captcha.usage"]
    said = await group.say(BOSS, "/captchaskip platinum")
    assert said.keys == ["moderation.captcha.skip_usage"]
    said = await group.say(BOSS, "/captchaskip gold")
    assert "members of Gold or above skip it" in said.text
    async with db.uow() as uow:
        rules = await group_settings.read(uow, PLATFORM, TEA_ID)
    assert (rules.captcha_on, rules.captcha_minutes, rules.captcha_skip_tier) == \
        (True, 5, "gold")
    said = await group.say(BEN, "/captcha off")
    assert said.keys == ["moderation.not_admin"]


# ------------------------------------------------------------------ kept restrictions


async def test_a_mute_is_kept_over_leaving_and_coming_back(db, group, chat, clock):
    await settle(db, captcha_on=True, welcome_on=True)
    until = T0 + timedelta(hours=1)
    async with db.uow() as uow:
        await restrictions.impose(uow, PLATFORM, TEA_ID, ANN.user_id, "mute", until,
                                  "spam", "test", T0)
        await restrictions.impose(uow, PLATFORM, TEA_ID, BEN.user_id, "ban", None,
                                  "spam", "test", T0)
        await uow.commit()
    await group.leave(ANN)
    said = await group.join(ANN)
    assert not said.replies  # neither a captcha that would lift it nor a welcome
    assert chat.calls == [("mute", ANN.user_id, until)]
    chat.calls.clear()
    assert not (await group.join(BEN)).replies
    assert chat.calls == [("ban", BEN.user_id, None)]
    # Once the mute is over, coming back is an ordinary arrival.
    clock.advance(hours=2)
    chat.calls.clear()
    await group.join(ANN)
    assert [c[0] for c in chat.calls] == ["mute", "post"]


async def test_a_flood_mute_is_kept_over_leaving_and_coming_back(db, group, chat):
    await group.say(BOSS, "/setflood 3")
    await group.say(BOSS, "/setfloodmode mute 1d")
    for n in range(3):
        await group.say(ANN, f"spam {n}")
    chat.calls.clear()
    await group.leave(ANN)
    await group.join(ANN)
    assert chat.calls == [("mute", ANN.user_id, T0 + timedelta(days=1))]


async def test_a_refused_reapply_does_not_stop_the_next_newcomer(db, group, chat):
    await settle(db, welcome_on=True)
    async with db.uow() as uow:
        await restrictions.impose(uow, PLATFORM, TEA_ID, ANN.user_id, "mute", None,
                                  None, "test", T0)
        await uow.commit()
    chat.refuse = {"mute": "rights"}
    assert not (await group.join(ANN)).replies
    assert (await group.join(BEN)).keys == ["moderation.welcome.default"]
