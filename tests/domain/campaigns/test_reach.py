"""How far campaigns reach is the deployment's to say: console members are counted,
picked and written deliveries only where the composition root hands in a Reach that
includes them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import programme as programme_file
from domain.campaigns import campaigns, segments
from domain.campaigns.campaigns import Author, Draft
from domain.campaigns.segments import Segment, SegmentRefused
from domain.campaigns.tables import Delivery
from domain.members.tables import Member
from tests.support import crowd
from tests.support.crowd import Person


def told(reach: segments.Reach | None):
    """A programme of its own (the shared fixture is never changed), told `reach`."""
    programme = programme_file.load()
    if reach is not None:
        programme.keep_reach(reach)
    return programme


async def people(db, now) -> list[int]:
    return await crowd.add(db, [
        Person(locale="en"),  # Telegram
        Person(locale="en", accounts=(("console", "alice"),)),
        Person(locale="zh_Hans", accounts=(("console", "wang"), ("wechat", "o-1"))),
        Person(accounts=(("console", "bob"),), consent=False),
        Person(accounts=()),
    ], now)


async def picked(db, programme, segment, now) -> set[int]:
    async with db.uow() as uow:
        return set(await uow.session.scalars(
            select(Member.id).where(segments.clause(segment, programme, now))))


@pytest.mark.parametrize("reach", [None, segments.Reach()])
async def test_by_default_console_members_are_out_of_reach(db, now, reach):
    telegram, alice, wang, _, _ = await people(db, now)
    programme = told(reach)
    assert segments.reach(programme) == segments.Reach()
    assert await picked(db, programme, Segment(), now) == {telegram, wang}
    with pytest.raises(SegmentRefused):
        segments.check(Segment(platforms=("console",)), programme)
    # A stored segment naming the console (written where it was reached) picks nobody here.
    assert await picked(db, programme, Segment(platforms=("console",)), now) == set()


async def test_where_the_console_is_reached_its_members_count_like_any_other(db, now):
    telegram, alice, wang, no_consent, no_account = await people(db, now)
    programme = told(segments.EVERY_ACCOUNT)
    assert await picked(db, programme, Segment(), now) == {telegram, alice, wang}
    async with db.uow() as uow:
        assert await segments.size(uow, Segment(), programme, now) == 3
        assert await segments.by_language(uow, Segment(), programme, now) == {
            "en": 2, "zh_Hans": 1}
    only = segments.check(Segment(platforms=("console",)), programme)
    assert await picked(db, programme, only, now) == {alice, wang}
    assert await picked(db, programme, Segment(platforms=("telegram",)), now) == {telegram}


async def test_a_started_campaign_writes_deliveries_for_console_members_where_reached(db, now):
    telegram, alice, wang, _, _ = await people(db, now)
    for reach, expected in ((segments.Reach(), {telegram, wang}),
                            (segments.EVERY_ACCOUNT, {telegram, alice, wang})):
        programme = told(reach)
        key = "reached" if reach == segments.EVERY_ACCOUNT else "default"
        async with db.uow() as uow:
            made = await campaigns.create(uow, programme, Author(telegram, "console", "boss",
                                                                 "en"),
                                          Draft(Segment(), ("Hello",)), key, now)
            await uow.commit()
        assert await campaigns.start_due(db, programme, now + timedelta(seconds=1)) == 1
        async with db.uow() as uow:
            written = set(await uow.session.scalars(
                select(Delivery.member_id).where(Delivery.campaign_id == made.campaign.id)))
        assert written == expected, key
