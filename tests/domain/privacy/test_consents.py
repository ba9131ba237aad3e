"""Consent: each change recorded with the notice's version and the channel, applied
where campaigns, surveys and reward picks read it; nothing recorded twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.feedback import surveys
from domain.members.tables import Member
from domain.privacy import consents
from domain.privacy.consents import Standing
from tests.support import crowd

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


async def choose(db, programme, member_id, purpose, grant, channel="telegram", at=NOW):
    async with db.uow() as uow:
        member = await uow.session.get(Member, member_id)
        changed = await consents.choose(uow, programme, member, purpose, grant, channel, at)
        await uow.commit()
    return changed


async def standing(db, member_id) -> list[Standing]:
    async with db.uow() as uow:
        return await consents.standing(uow, await uow.session.get(Member, member_id))


async def test_a_member_who_never_chose_stands_at_the_defaults(db, programme):
    [alice] = await crowd.plain(db, 1, NOW, consent=False)  # never asked: no consent_at
    assert await standing(db, alice) == [
        Standing("marketing", False, None, None), Standing("surveys", True, None, None),
        Standing("recommendations", True, None, None)]


async def test_each_change_is_one_record_with_version_and_channel(db, programme):
    [alice] = await crowd.plain(db, 1, NOW, consent=False)
    version = programme.privacy.version
    assert await choose(db, programme, alice, "marketing", True, "wechat")
    assert not await choose(db, programme, alice, "marketing", True, "wechat",
                            NOW + timedelta(minutes=1))  # so already: nothing recorded
    assert await choose(db, programme, alice, "marketing", False, "telegram",
                        NOW + timedelta(hours=1))
    assert await choose(db, programme, alice, "surveys", False, "console",
                        NOW + timedelta(hours=2))
    assert await choose(db, programme, alice, "recommendations", False, "staff",
                        NOW + timedelta(hours=3))
    async with db.uow() as uow:
        kept = [(r.purpose, r.granted, r.version, r.channel, r.at)
                for r in await consents.records(uow, alice)]
        member = await uow.session.get(Member, alice)
        assert not member.marketing_consent and not member.personalised
        assert await surveys.opted_out(uow, alice)
    assert kept == [
        ("marketing", True, version, "wechat", NOW),
        ("marketing", False, version, "telegram", NOW + timedelta(hours=1)),
        ("surveys", False, version, "console", NOW + timedelta(hours=2)),
        ("recommendations", False, version, "staff", NOW + timedelta(hours=3))]
    assert await standing(db, alice) == [
        Standing("marketing", False, NOW + timedelta(hours=1), version),
        Standing("surveys", False, NOW + timedelta(hours=2), version),
        Standing("recommendations", False, NOW + timedelta(hours=3), version)]
    assert await choose(db, programme, alice, "surveys", True, "console", NOW + timedelta(days=1))
    async with db.uow() as uow:
        assert not await surveys.opted_out(uow, alice)


async def test_a_first_no_to_marketing_is_an_answer_worth_keeping(db, programme):
    [bob] = await crowd.plain(db, 1, NOW, consent=False)
    assert await choose(db, programme, bob, "marketing", False)
    assert not await choose(db, programme, bob, "marketing", False)
    async with db.uow() as uow:
        assert [(r.purpose, r.granted) for r in await consents.records(uow, bob)] == [
            ("marketing", False)]


async def test_records_are_the_members_own(db, programme):
    alice, bob = await crowd.plain(db, 2, NOW, consent=False)
    await choose(db, programme, alice, "recommendations", False)
    async with db.uow() as uow:
        assert await consents.records(uow, bob) == []
        assert (await uow.session.get(Member, bob)).personalised


async def test_an_unknown_purpose_is_refused(db, programme):
    [alice] = await crowd.plain(db, 1, NOW)
    with pytest.raises(ValueError, match="no such purpose"):
        await choose(db, programme, alice, "telepathy", True)
    async with db.uow() as uow:
        assert await consents.records(uow, alice) == []
