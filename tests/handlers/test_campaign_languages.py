"""A campaign's message is written for each language its segment's members read, and
each member gets it in theirs: the language they chose, else the one their platform
hinted, else the programme's default (Chinese in the example programme)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.campaign_dispatch import Dispatcher
from bot.notifier import Notifier
from domain.campaigns import campaigns
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.conversations.tables import Conversation
from domain.members import members
from domain.members.tables import Identity, Member
from domain.notices import notices
from handlers.campaigns.words import member_message
from handlers.notices.notices import locale_for
from tests.support import crowd
from tests.support.crowd import Person
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def person(locale: str | None = None, hint: str | None = None) -> Person:
    # Every row names the hint: a bulk insert takes its columns from the first row.
    return Person(locale=locale, extra={"language_hint": hint})


# Members 2-7 and the language each reads: chosen English; only hinted English (this
# one was previewed, and sent, in Chinese before); chose Chinese on an English phone;
# no choice and no hint (the default); chosen Chinese; hinted Chinese.
READERS = {2: "en", 3: "en", 4: "zh_Hans", 5: "zh_Hans", 6: "zh_Hans", 7: "zh_Hans"}
PEOPLE = [person("en"), person(hint="en"), person("zh_Hans", "en"), person(),
          person("zh_Hans"), person(hint="zh_Hans")]


async def boss(db, programme, clock, locale="en", user="boss"):
    chat = await owner(db, programme, clock, user=user, locale=locale)
    await crowd.add(db, PEOPLE, clock.now, first_id=2)
    return chat


async def the_campaign(db) -> Campaign:
    async with db.uow() as uow:
        [found] = await campaigns.recent(uow, 5)
        return found


class Recorder:
    """A pusher that keeps what each account was sent."""

    def __init__(self) -> None:
        self.got: dict[str, str] = {}

    async def __call__(self, external_id: str, message) -> str:
        self.got[external_id] = message.text
        return "sent"


async def dispatched(db, programme) -> dict[int, tuple[str, str]]:
    """Send the campaign; member id -> (their variant, the text they were sent)."""
    telegram = Recorder()
    dispatcher = Dispatcher(db, programme, {"telegram": telegram}, every=0.01,
                            clock=lambda: datetime.now(UTC))
    await asyncio.wait_for(dispatcher.run_until_idle(), 30)
    async with db.uow() as uow:
        rows = (await uow.session.execute(
            select(Delivery.member_id, Delivery.variant, Delivery.status, Identity.external_id)
            .join(Identity, Identity.member_id == Delivery.member_id))).all()
    assert {r.status for r in rows} == {"sent"}
    return {r.member_id: (r.variant, telegram.got[r.external_id]) for r in rows}


async def test_a_b_test_written_per_language_reaches_each_member_in_theirs_en(
        db, programme, clock):
    me = await boss(db, programme, clock)
    await me.say("/campaign")
    out = await me.say("12")  # everyone
    # The operator's language first; the count follows the rule, hint included.
    assert ("Step 2 of 5 — write the message for 2 members who read English "
            "(up to 1,000 characters). Then you write it for 4 members who read Chinese, "
            "or send them the same.") in out
    assert "sent exactly as you write it" not in out
    out = await me.say("x" * 1001)
    assert "at most 1,000 characters" in out and "write the message for 2 members" in out
    out = await me.say("Spring tea is here")
    assert "Now write the message for 4 members who read Chinese" in out
    assert "[1] Same text for all" in out
    await me.say("春茶上市")
    await me.say("3")  # a points multiplier
    await me.say("2")  # 2x
    await me.say("2")  # for 7 days
    out = await me.say("2")  # an A/B test
    assert "Write variant B for 2 members who read English" in out
    out = await me.say("Last call for spring tea")
    assert "Now write variant B for 4 members who read Chinese" in out
    out = await me.say("1")  # the same text for all: B's English words go to everyone
    assert "A 50% / B 50%" in out
    await me.say("1")  # 50/50
    await me.say("1")  # no holdout
    out = await me.say("1")  # now
    previews = out[:out.index("Ready to send:")]
    assert previews.index("Preview of variant A in English") < previews.index(
        "Preview of variant A in Chinese") < previews.index("Preview of variant B in English")
    assert "Spring tea is here\n\n✨ 2× points on your purchases until Mar 18, 2026." in out
    assert "春茶上市\n\n✨ 2026年3月18日前消费可获得 2 倍积分。" in out
    # One text for all: the offer is in each reader's language.
    assert "Last call for spring tea\n\n✨ 2× points" in out
    assert "Last call for spring tea\n\n✨ 2026年3月18日前消费" in out
    assert "Variant A (50%): English “Spring tea is here”, Chinese “春茶上市”" in out
    assert "Variant B (50%): “Last call for spring tea”" in out
    assert "Campaign #1 is confirmed" in await me.say("1")
    c = await the_campaign(db)
    assert c.variants[0]["texts"] == {"en": "Spring tea is here", "zh_Hans": "春茶上市"}
    assert c.variants[0]["text"] == "春茶上市"  # the default language's, for anyone else
    assert "texts" not in c.variants[1] and c.variants[1]["text"] == "Last call for spring tea"

    got = await dispatched(db, programme)
    assert set(got) == set(READERS)
    for member_id, (variant, text) in got.items():
        english = READERS[member_id] == "en"
        body = ("Last call for spring tea" if variant == "B"
                else "Spring tea is here" if english else "春茶上市")
        offer = "✨ 2× points on your purchases" if english else "前消费可获得 2 倍积分"
        assert text.startswith(body + "\n\n") and offer in text, (member_id, text)


async def test_one_language_asks_once_and_same_text_for_all_is_one_tap_zh(
        db, programme, clock):
    me = await boss(db, programme, clock, locale="zh_Hans", user="wang")
    await me.say("/campaign")
    await me.say("3")  # language
    await me.say("2")  # 中文
    out = await me.say("3")  # done
    assert "语言：中文" in out and "共覆盖 4 位会员" in out
    out = await me.say("12")
    assert "第 2 步（共 5 步）— 请输入发给使用中文的 4 位会员的消息" in out
    assert "之后" not in out and "[1]" not in out  # nobody else to write for
    assert "第 3 步" in await me.say("新茶上市")
    await me.say("1")  # no offer
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    out = await me.say("1")  # now
    assert "使用中文的会员将看到：" in out and "英语" not in out and "方案" not in out
    await me.say("1")
    c = await the_campaign(db)
    assert c.variants[0]["texts"] == {"zh_Hans": "新茶上市"}
    got = await dispatched(db, programme)
    assert {m: t for m, (_, t) in got.items()} == {m: "新茶上市\n\n回复 TD 退订"
                                                   for m in (4, 5, 6, 7)}

    # Everyone, and one text for all at the first chance: the operator's language first.
    await me.say("/campaign")
    out = await me.say("12")
    assert "请输入发给使用中文的 4 位会员的消息" in out
    assert "之后再为使用英语的 2 位会员输入，或发送同一条。" in out
    out = await me.say("欢迎光临")
    assert "现在请输入发给使用英语的 2 位会员的消息" in out and "[1] 所有人用同一条" in out
    assert "第 3 步" in await me.say("1")
    await me.say("1")  # no offer
    await me.say("1")  # one message
    await me.say("1")  # no holdout
    out = await me.say("1")
    assert out.index("使用中文的会员将看到：") < out.index("使用英语的会员将看到：")
    assert "消息：“欢迎光临”" in out and "方案" not in out and "English" not in out


async def test_a_stale_same_text_button_at_the_first_language_asks_again(db, programme, clock):
    me = await boss(db, programme, clock)
    await me.say("/campaign")
    await me.say("12")
    # Not offered now (nothing is written yet to repeat): refused, the draft kept.
    assert "expired" in await me.press("cnew:same")
    async with db.uow() as uow:
        conv = await uow.session.get(Conversation, ("console", "boss"))
        assert conv.state == "campaign.text" and conv.data["writing"] == {}
    assert "Now write the message for 4 members who read Chinese" in await me.say("Hi")


async def test_a_member_whose_language_has_no_text_gets_the_default_ones_whole(
        db, programme, clock):
    """Scheduled for later, the segment may reach a reader it did not at confirmation:
    they get the default language's words with the offer in that language too, as
    the operator saw it previewed; one text for all is in the member's language."""
    await crowd.add(db, [person()], clock.now)
    async with db.uow() as uow:
        made = await campaigns.create(
            uow, programme, Author(1, "console", "boss", "en"),
            Draft(Segment(), ({"zh_Hans": "新茶"}, "Tea for all"), split=50,
                  bonus_percent=100, bonus_days=7), "k", clock.now)
        await uow.commit()
    c = made.campaign
    c.bonus_ends = T0
    a = member_message(c, "A", programme, "en")
    assert a.text.startswith("新茶\n\n✨ ") and "倍积分" in a.text
    b = member_message(c, "B", programme, "en")
    assert b.text.startswith("Tea for all\n\n✨ 2× points")
    assert "倍积分" in member_message(c, "B", programme, None).text  # the default


async def test_a_campaign_written_before_keeps_its_one_text(db, programme, clock):
    """Rows stored before per-language words: one "text" for every member."""
    await crowd.add(db, [person()], clock.now)
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(1, "console", "boss", "en"),
                                      Draft(Segment(), ("Hello",)), "old", clock.now)
        await uow.commit()
    c = made.campaign
    c.variants = [{"code": "A", "text": "Hello", "share": 10_000}]
    assert member_message(c, "A", programme, "zh_Hans").text == "Hello\n\n回复 TD 退订"
    assert member_message(c, "A", programme, "en").text == "Hello\n\nReply TD to stop offers."


# ------------------------------------------------------------------ the language hint

async def hint_of(db, user: str) -> tuple[str | None, str | None]:
    async with db.uow() as uow:
        found = await members.by_identity(uow, "console", user)
        assert found is not None
        return found.locale, found.language_hint


async def test_the_platforms_hint_is_kept_and_a_choice_beats_it(db, programme, clock):
    alice = member(db, programme, clock, user="alice", locale="en-GB")
    await alice.say("/start")
    assert await hint_of(db, "alice") == (None, "en")
    # The same account from a Chinese phone: the hint follows it.
    chinese = member(db, programme, clock, user="alice", locale="zh-CN")
    await chinese.say("/points")
    assert await hint_of(db, "alice") == (None, "zh_Hans")
    # A message without a hint, or with one we do not speak, keeps what was known.
    for hint in (None, "fr"):
        await member(db, programme, clock, user="alice", locale=hint).say("/points")
        assert await hint_of(db, "alice") == (None, "zh_Hans")
    await alice.say("/language zh")
    assert await hint_of(db, "alice") == ("zh_Hans", "en")
    async with db.uow() as uow:
        found = await members.by_identity(uow, "console", "alice")
        assert members.language(found, programme) == "zh_Hans"  # chosen beats hinted


async def test_touch_writes_nothing_when_nothing_changed(db, programme, clock):
    async with db.uow() as uow:
        made = await members.register(uow, programme, "telegram", "9", clock.now)
        await members.touch(uow, made.member, clock.now, hint="en")
        await uow.commit()
    async with db.uow() as uow:
        found = await members.get(uow, made.member.id)
        assert found.language_hint == "en"
        await members.touch(uow, found, clock.now, hint="en")
        await members.touch(uow, found, clock.now, hint="de")  # not one we speak
        await members.touch(uow, found, clock.now)
        assert not uow.session.is_modified(found)
        await members.touch(uow, found, clock.now, hint="zh_Hans")
        assert uow.session.is_modified(found)


async def test_notices_follow_the_same_rule(db, programme, clock):
    assert locale_for(None, programme) == programme.default_locale == "zh_Hans"
    assert locale_for(None, programme, "en") == "en"
    assert locale_for("zh_Hans", programme, "en") == "zh_Hans"
    await crowd.add(db, [person(hint="en")], clock.now, first_id=2)
    async with db.uow() as uow:
        await notices.queue(uow, 2, "tier.upgraded", {"tier": {"$tier": "gold"}}, "n1",
                            clock.now)
        await uow.commit()
    telegram = Recorder()
    assert await Notifier(db, programme, {"telegram": telegram}, clock=clock).run_once() == 1
    (text,) = telegram.got.values()
    assert "Gold" in text and "黄金" not in text


async def test_the_segments_language_filter_uses_the_rule(db, programme, clock):
    from domain.campaigns import segments
    await crowd.add(db, PEOPLE, clock.now, first_id=2)
    async with db.snapshot() as snapshot:
        counts = await segments.by_language(snapshot, Segment(), programme, clock.now)
        english = await segments.size(snapshot, Segment(locales=("en",)), programme,
                                      clock.now)
        chinese = await segments.size(snapshot, Segment(locales=("zh_Hans",)), programme,
                                      clock.now)
    assert counts == {"en": 2, "zh_Hans": 4} and (english, chinese) == (2, 4)
    async with db.uow() as uow:
        readers = {m.id: members.language(m, programme)
                   for m in await uow.session.scalars(select(Member))}
    assert readers == READERS
