"""/privacy as a member reads it in both languages: the programme's notice, what they
agreed to and since when, a button per purpose; one-tap withdrawal from /profile;
forged buttons change nothing; personal picks turned off leave the plain catalogue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.members.tables import Member
from domain.privacy import consents
from tests.handlers.test_reward_picks import a_taste_for_tea
from tests.support.transcript import Clock, member

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def records(db, member_id: int = 1) -> list[tuple[str, bool, str]]:
    async with db.uow() as uow:
        return [(r.purpose, r.granted, r.channel) for r in await consents.records(uow, member_id)]


async def test_privacy_shows_the_notice_and_what_was_agreed(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    out = await alice.say("/privacy")
    assert out.startswith("🔒 Your privacy\n\nTea House Club keeps your profile")
    assert "(Privacy notice, version 2026-12)" in out
    assert ("What you agreed to:\n"
            "• Offers and news: off (as standard: you have not chosen)\n"
            "• Surveys: on (as standard: you have not chosen)\n"
            "• Personal reward picks: on (as standard: you have not chosen)") in out
    assert "[1] Receive offers" in out and "[2] Turn surveys off" in out
    assert "[3] Turn personal picks off" in out
    out = await alice.say("1")
    assert out.startswith("Thank you: you will receive our offers.")
    assert "• Offers and news: on (since Jun 1, 2026, notice version 2026-12)" in out
    assert "[1] Stop offers" in out
    out = await alice.say("3")
    assert out.startswith("Personal picks are off: /rewards shows the plain catalogue.")
    assert await records(db) == [("marketing", True, "console"),
                                 ("recommendations", False, "console")]


async def test_privacy_in_chinese(db, programme, clock):
    li = member(db, programme, clock, user="li", locale="zh_Hans")
    await li.say("/start")
    out = await li.say("隐私")
    assert out.startswith("🔒 您的隐私\n\n茶馆会员俱乐部保存您的资料")
    assert "（隐私说明，版本 2026-12）" in out
    assert "• 优惠与资讯：关闭（默认设置，您尚未选择）" in out
    out = await li.say("2")
    assert out.startswith("已完成：不再向您发送问卷。")
    assert "• 问卷调查：关闭（自 2026年6月1日 起，隐私说明版本 2026-12）" in out


async def test_a_button_pressed_twice_or_forged_changes_nothing_twice(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert (await alice.press("privacy:set:surveys:off")).startswith("Done: we will send")
    assert (await alice.press("privacy:set:surveys:off")).startswith(
        "That was so already: nothing changed.")
    for forged in ("privacy:set:telepathy:on", "privacy:set:surveys:maybe",
                   "privacy:set:surveys", "privacy:set:surveys:on:extra"):
        out = await alice.press(forged)
        assert "This button has expired" in out, forged
    assert await records(db) == [("surveys", False, "console")]


async def test_profile_offers_the_stop_in_one_tap_once_consent_is_given(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    assert "Stop offers" not in await alice.say("/profile")
    await alice.tap("profile:edit:consent")
    out = await alice.tap("profile:consent:yes")
    assert "Marketing messages: Yes" in out and "Stop offers" in out
    out = await alice.press("privacy:stop")
    assert out == "Done: we will send you no more offers. Changed your mind? /privacy"
    assert await alice.press("privacy:stop") == (
        "You get no offers from us already. /privacy shows what you agreed to.")
    assert "Marketing messages: No" in await alice.say("/profile")
    assert await records(db) == [("marketing", True, "console"),
                                 ("marketing", False, "console")]


async def test_picks_turned_off_leave_the_plain_catalogue(db, programme, clock):
    picking = programme.model_copy()
    alice = await a_taste_for_tea(db, picking, clock, "en")
    out = await alice.say("/rewards")
    assert out.startswith("Picked for you\n")
    assert "Picks come from what members redeem; /privacy turns them off." in out
    await alice.press("privacy:set:recommendations:off")
    out = await alice.say("/rewards")
    assert out.startswith("Rewards — your balance: 400 points (page 1 of 2)")
    assert "Picked for you" not in out and "/privacy turns them off" not in out
    async with db.uow() as uow:
        assert not (await uow.session.get(Member, 1)).personalised
    await alice.press("privacy:set:recommendations:on")
    assert (await alice.say("/rewards")).startswith("Picked for you\n")
