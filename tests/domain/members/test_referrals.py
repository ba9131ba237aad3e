"""Referrals: rewarded at the friend's first purchase, and the abuse cases refused."""

from __future__ import annotations

from sqlalchemy import select

from domain.members import members, referrals
from domain.members.tables import Member, ReferralReward
from domain.notices.tables import Notice
from domain.points import ledger, purchases


async def join(db, programme, now, user, code=None) -> Member:
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "telegram", user, now,
                                         referral_code=code)).member
        await uow.commit()
        return member


async def buy(db, programme, now, member_id, order_id, amount=1_000):
    async with db.uow() as uow:
        done = await purchases.record(uow, programme, member_id,
                                      purchases.Order(order_id, amount, "CNY"), now)
        await uow.commit()
        return done


async def balance(db, member_id) -> int:
    async with db.uow() as uow:
        return await ledger.balance_of(uow, member_id)


async def outcome(db, referee_id) -> str | None:
    async with db.uow() as uow:
        row = await uow.session.get(ReferralReward, referee_id)
        return row.outcome if row else None


async def test_both_are_rewarded_at_the_first_purchase_not_at_sign_up(db, programme, now):
    rules = programme.earning
    anna = await join(db, programme, now, "anna")
    ben = await join(db, programme, now, "ben", f"ref_{anna.referral_code}"[4:].lower())
    assert ben.referred_by_id == anna.id
    assert await balance(db, anna.id) == 0 and await balance(db, ben.id) == 0
    first = await buy(db, programme, now, ben.id, "B-1")
    assert await balance(db, anna.id) == rules.referrer
    assert await balance(db, ben.id) == first.points + rules.referee
    await buy(db, programme, now, ben.id, "B-2")
    assert await balance(db, anna.id) == rules.referrer  # only the first purchase counts
    assert await outcome(db, ben.id) == "rewarded"
    async with db.uow() as uow:
        told = [n.key for n in await uow.session.scalars(
            select(Notice).where(Notice.member_id == anna.id))]
    assert told == ["notice.referral_rewarded"]


async def test_a_second_account_of_the_same_person_earns_nothing(db, programme, now):
    anna = await join(db, programme, now, "anna")
    alt = await join(db, programme, now, "anna-alt", anna.referral_code)
    async with db.uow() as uow:
        for member_id in (anna.id, alt.id):
            (await uow.session.get(Member, member_id)).phone = "+8613800138000"
        await uow.commit()
    await buy(db, programme, now, alt.id, "S-1")
    assert await outcome(db, alt.id) == "self"
    assert await balance(db, anna.id) == 0


async def test_a_referral_cycle_earns_nothing(db, programme, now):
    anna = await join(db, programme, now, "anna")
    ben = await join(db, programme, now, "ben", anna.referral_code)
    async with db.uow() as uow:  # forced: registration alone cannot make a cycle
        (await uow.session.get(Member, anna.id)).referred_by_id = ben.id
        await uow.commit()
    await buy(db, programme, now, ben.id, "C-1")
    assert await outcome(db, ben.id) == "cycle"
    assert await balance(db, anna.id) == 0


async def test_the_referrer_cap_stops_the_referrer_but_not_the_friend(db, programme, now):
    cap = 2
    capped = programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"referral_cap": cap})})
    anna = await join(db, capped, now, "anna")
    friends = [await join(db, capped, now, f"f{i}", anna.referral_code) for i in range(3)]
    for i, friend in enumerate(friends):
        await buy(db, capped, now, friend.id, f"F-{i}")
    assert [await outcome(db, f.id) for f in friends] == ["rewarded", "rewarded", "capped"]
    assert await balance(db, anna.id) == cap * capped.earning.referrer
    async with db.uow() as uow:
        assert await referrals.rewarded_count(uow, anna.id) == cap
        reasons = {e.reason for e in await ledger.recent(uow, friends[2].id, 10)}
    assert "referral_welcome" in reasons


async def test_an_unknown_code_attributes_nobody(db, programme, now):
    ben = await join(db, programme, now, "ben", "NOSUCHCODE")
    assert ben.referred_by_id is None
    await buy(db, programme, now, ben.id, "U-1")
    assert await outcome(db, ben.id) is None


