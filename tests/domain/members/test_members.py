"""Members and identities as a specification: registration, referrals, linking one
member across platforms with short-lived codes, and the profile-completion award."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from domain.errors import LinkRefused
from domain.members import members
from domain.members.members import CODE_ALPHABET, LINK_CODE_TTL
from domain.members.tables import Identity, Member
from domain.points import ledger
from domain.points.tables import LedgerEntry
from domain.privacy import consents


async def register(db, programme, now, platform="telegram", external_id="alice", referral=None):
    async with db.uow() as uow:
        reg = await members.register(uow, programme, platform, external_id, now,
                                     referral_code=referral)
        await uow.commit()
        return reg.member.id, reg.created, reg.member.referral_code


async def member_count(db) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(Member))


async def identities_of(db, member_id) -> list[tuple[str, str]]:
    async with db.uow() as uow:
        return [(i.platform, i.external_id) for i in await members.identities(uow, member_id)]


async def owner_of(db, platform, external_id) -> int | None:
    async with db.uow() as uow:
        member = await members.by_identity(uow, platform, external_id)
        return member.id if member else None


async def status_of(db, member_id) -> str:
    async with db.uow() as uow:
        return (await members.get(uow, member_id)).status


async def issue(db, member_id, now) -> str:
    async with db.uow() as uow:
        code = (await members.issue_link_code(uow, member_id, now)).code
        await uow.commit()
        return code


async def link(db, code, platform, external_id, now) -> int:
    async with db.uow() as uow:
        target = await members.link(uow, code, platform, external_id, now)
        await uow.commit()
        return target.id


async def refused_link(db, code, platform, external_id, now) -> LinkRefused:
    with pytest.raises(LinkRefused) as refused:
        await link(db, code, platform, external_id, now)
    return refused.value


# --- registration ---------------------------------------------------------------------------


async def test_registering_the_same_identity_twice_returns_the_same_member(db, programme, now):
    first, created, _ = await register(db, programme, now)
    again, created_again, _ = await register(db, programme, now + timedelta(days=1))
    assert created and not created_again
    assert again == first
    assert await member_count(db) == 1
    assert await identities_of(db, first) == [("telegram", "alice")]


async def test_the_same_external_id_on_another_platform_is_another_member(db, programme, now):
    a, _, _ = await register(db, programme, now, "telegram", "42")
    b, created, _ = await register(db, programme, now, "wechat", "42")
    assert created and a != b


async def test_a_new_member_starts_on_the_lowest_tier_with_nothing(db, programme, now):
    m, _, code = await register(db, programme, now)
    async with db.uow() as uow:
        member = await members.get(uow, m)
        assert (member.tier, member.points_balance, member.status) == ("member", 0, "active")
        assert member.tier_valid_until == now + timedelta(days=programme.tiers.validity_days)
        assert member.joined_at == now and member.referred_by_id is None
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)


async def test_registering_with_a_referral_code_attributes_the_referrer(db, programme, now):
    referrer, _, code = await register(db, programme, now, external_id="alice")
    friend, _, _ = await register(db, programme, now, external_id="bob", referral=code.lower())
    stranger, _, _ = await register(db, programme, now, external_id="carol", referral="NOSUCH99")
    async with db.uow() as uow:
        assert (await members.get(uow, friend)).referred_by_id == referrer
        assert (await members.get(uow, stranger)).referred_by_id is None


async def test_a_referral_code_does_not_reattribute_an_existing_member(db, programme, now):
    _, _, code = await register(db, programme, now, external_id="alice")
    bob, _, _ = await register(db, programme, now, external_id="bob")
    await register(db, programme, now, external_id="bob", referral=code)
    async with db.uow() as uow:
        assert (await members.get(uow, bob)).referred_by_id is None


# --- link codes -----------------------------------------------------------------------------


async def test_a_code_issued_on_one_platform_links_an_account_from_another(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    code = await issue(db, alice, now)
    assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    linked = await link(db, f"  {code.lower()} ", "wechat", "wx-alice", now + timedelta(minutes=5))
    assert linked == alice
    assert await identities_of(db, alice) == [("telegram", "alice"), ("wechat", "wx-alice")]
    assert await owner_of(db, "wechat", "wx-alice") == alice
    assert await member_count(db) == 1
    # and registering from WeChat now finds Alice instead of creating anyone
    again, created, _ = await register(db, programme, now, "wechat", "wx-alice")
    assert (again, created) == (alice, False)


async def test_a_used_code_is_refused(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    code = await issue(db, alice, now)
    await link(db, code, "wechat", "wx-alice", now)
    refusal = await refused_link(db, code, "cli", "alice-term", now)
    assert refusal.code == "link_used"
    assert await identities_of(db, alice) == [("telegram", "alice"), ("wechat", "wx-alice")]


async def test_an_expired_code_is_refused(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    code = await issue(db, alice, now)
    refusal = await refused_link(db, code, "wechat", "wx-alice", now + LINK_CODE_TTL)
    assert refusal.code == "link_expired"
    assert await identities_of(db, alice) == [("telegram", "alice")]
    # one second before the end it still works
    assert await link(db, code, "wechat", "wx-alice",
                      now + LINK_CODE_TTL - timedelta(seconds=1)) == alice


async def test_an_unknown_code_is_refused(db, programme, now):
    await register(db, programme, now, "telegram", "alice")
    assert (await refused_link(db, "ZZZZ2222", "wechat", "wx", now)).code == "link_unknown"
    assert await owner_of(db, "wechat", "wx") is None


async def test_an_account_with_ledger_history_is_refused_not_merged(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    wx, _, _ = await register(db, programme, now, "wechat", "wx-alice")
    async with db.uow() as uow:
        await ledger.post(uow, ledger.Post(member_id=wx, delta=10, kind="earn", reason="test",
                                           key="wx-earn"), now)
        await uow.commit()
    code = await issue(db, alice, now)
    assert (await refused_link(db, code, "wechat", "wx-alice", now)).code == "link_has_history"
    assert await owner_of(db, "wechat", "wx-alice") == wx
    assert await status_of(db, wx) == "active"
    # the refusal did not spend the code
    assert await link(db, code, "cli", "alice-term", now) == alice


async def test_a_fresh_account_is_repointed_and_its_old_member_erased(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    wx, _, _ = await register(db, programme, now, "wechat", "wx-alice")
    code = await issue(db, alice, now)
    assert await link(db, code, "wechat", "wx-alice", now) == alice
    assert await owner_of(db, "wechat", "wx-alice") == alice
    assert await identities_of(db, alice) == [("telegram", "alice"), ("wechat", "wx-alice")]
    assert await identities_of(db, wx) == []
    assert await status_of(db, wx) == "erased"
    assert await status_of(db, alice) == "active"
    async with db.uow() as uow:  # re-pointed, not duplicated
        assert await uow.session.scalar(select(func.count()).select_from(Identity)) == 2


async def test_linking_an_account_to_its_own_member_is_refused(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    code = await issue(db, alice, now)
    assert (await refused_link(db, code, "telegram", "alice", now)).code == "link_same_member"


async def test_a_member_gets_one_account_per_platform(db, programme, now):
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    code = await issue(db, alice, now)
    refusal = await refused_link(db, code, "telegram", "alice-second-phone", now)
    assert (refusal.code, refusal.params) == ("link_platform_taken", {"platform": "telegram"})


# --- profile completion ---------------------------------------------------------------------


async def fill_profile(uow, programme, member_id, now, *, phone="13812345678"):
    member = await members.get(uow, member_id)
    member.display_name = "Alice"
    member.phone = phone
    member.birth_month, member.birth_day = 3, 14
    await consents.choose(uow, programme, member, "marketing", True, "console", now)
    return member


async def test_completing_the_profile_is_awarded_once(db, programme, now):
    m, _, _ = await register(db, programme, now)
    async with db.uow() as uow:
        member = await fill_profile(uow, programme, m, now)
        assert await members.award_profile_completion(uow, programme, member, now) == 50
        assert member.points_balance == 50
        await uow.commit()
    async with db.uow() as uow:
        member = await members.get(uow, m)
        assert await members.award_profile_completion(uow, programme, member, now) == 0
        await uow.commit()
    async with db.uow() as uow:
        member = await members.get(uow, m)
        # the profile written alongside the award was kept
        assert (member.display_name, member.phone, member.points_balance) == (
            "Alice", "13812345678", 50)
        entries = await ledger.recent(uow, m, 10)
        assert [(e.reason, e.delta, e.qualifying) for e in entries] == [
            ("profile_completed", 50, 50)]


async def test_an_incomplete_profile_earns_nothing(db, programme, now):
    m, _, _ = await register(db, programme, now)
    async with db.uow() as uow:
        member = await fill_profile(uow, programme, m, now, phone=None)
        assert await members.award_profile_completion(uow, programme, member, now) == 0
        await uow.commit()
    async with db.uow() as uow:
        assert await uow.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == m)) == 0


async def test_declining_marketing_still_completes_the_profile(db, programme, now):
    m, _, _ = await register(db, programme, now)
    async with db.uow() as uow:
        member = await fill_profile(uow, programme, m, now)
        await consents.choose(uow, programme, member, "marketing", False, "console", now)
        assert await members.award_profile_completion(uow, programme, member, now) == 50



async def test_every_account_still_reaches_a_live_member_after_a_link(db, programme, now):
    """Bob's fresh member has two accounts and no history; one of them is then linked
    to Alice. Whether the other moves along or the link is refused, neither may be
    left pointing at an erased member."""
    alice, _, _ = await register(db, programme, now, "telegram", "alice")
    bob, _, _ = await register(db, programme, now, "wechat", "wx-bob")
    await link(db, await issue(db, bob, now), "cli", "bob-term", now)
    with contextlib.suppress(LinkRefused):
        await link(db, await issue(db, alice, now), "wechat", "wx-bob", now)
    for platform, external_id in [("wechat", "wx-bob"), ("cli", "bob-term")]:
        owner = await owner_of(db, platform, external_id)
        assert await status_of(db, owner) != "erased", (platform, external_id)


async def test_a_code_from_an_erased_member_is_dead(db, programme, now):
    """Swapping codes between two fresh accounts must not erase both."""
    async with db.uow() as uow:
        tg = (await members.register(uow, programme, "telegram", "t1", now)).member
        wx = (await members.register(uow, programme, "wechat", "w1", now)).member
        code_t = (await members.issue_link_code(uow, tg.id, now)).code
        code_w = (await members.issue_link_code(uow, wx.id, now)).code
        await uow.commit()
    async with db.uow() as uow:
        await members.link(uow, code_t, "wechat", "w1", now)
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(LinkRefused) as refused:
            await members.link(uow, code_w, "telegram", "t1", now)
        assert refused.value.code == "link_unknown"
    async with db.uow() as uow:
        for platform, ext in (("telegram", "t1"), ("wechat", "w1")):
            owner = await members.by_identity(uow, platform, ext)
            assert owner.id == tg.id and owner.status == "active"
