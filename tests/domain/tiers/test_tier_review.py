"""Tier review at the end of a tier period ("up and down"): renewal, grace, then the
downgrade, each told once with what it takes to keep or regain the tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain.members.tables import Member
from domain.points import ledger
from domain.tiers import tier_review
from domain.tiers.tables import TierChange
from handlers.notices.notices import render_notice
from tests.support.lifecycle_helpers import a_member, at, told, with_

T0 = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def member_at(db, programme, user: str, tier: str, qualifying: int) -> int:
    member_id = await a_member(db, programme, T0 - 400 * DAY, user, tier=tier,
                               tier_valid_until=T0)
    if qualifying:
        async with db.uow() as uow:
            await ledger.post(uow, ledger.Post(
                member_id=member_id, delta=qualifying, kind="earn", reason="checkin",
                key=f"q:{user}", qualifying=qualifying), T0 - 10 * DAY)
            await uow.commit()
    return member_id


async def standing(db, member_id: int):
    async with db.uow() as uow:
        member = await uow.session.get(Member, member_id)
        changes = list(await uow.session.execute(
            select(TierChange.from_tier, TierChange.to_tier, TierChange.reason)
            .where(TierChange.member_id == member_id)))
        return member.tier, member.tier_valid_until, [tuple(c) for c in changes]


async def test_grace_then_downgrade_each_told_once_with_what_regaining_takes(db, programme):
    member_id = await member_at(db, programme, "gold", "gold", 600)
    result = await at(T0 + DAY, tier_review.run, db, programme)
    assert result["in_grace"] == 1 and result["downgraded"] == 0
    await at(T0 + 2 * DAY, tier_review.run, db, programme)
    (grace,) = await told(db, member_id)
    assert grace.key == "tier.review_grace"
    assert grace.params["needed"] == 1400 and grace.params["until"] == {"$date": "2026-05-31"}
    assert (await standing(db, member_id))[0] == "gold"
    result = await at(T0 + 31 * DAY, tier_review.run, db, programme)
    assert result["downgraded"] == 1
    await at(T0 + 32 * DAY, tier_review.run, db, programme)
    tier, until, changes = await standing(db, member_id)
    assert (tier, until) == ("silver", T0 + 31 * DAY + 365 * DAY)
    assert changes == [("gold", "silver", "downgrade")]
    notices = await told(db, member_id)
    assert [n.key for n in notices] == ["tier.review_grace", "tier.review_down"]
    down = notices[1]
    assert down.params["tier"] == {"$tier": "silver"} and down.params["lost"] == {"$tier": "gold"}
    en = render_notice(down.key, down.params, "en", programme).text
    zh = render_notice(down.key, down.params, "zh_Hans", programme).text
    assert en == ("Your tier is now Silver. To get Gold back, you need 1,400 more qualifying "
                  "points. Send /tier to see where you stand.")
    assert "您的等级已调整为白银会员。如需重回黄金会员，还需 1,400 定级积分。" in zh


async def test_qualifying_again_renews_and_the_lowest_tier_renews_quietly(db, programme):
    gold = await member_at(db, programme, "g", "gold", 2500)
    base = await member_at(db, programme, "b", "member", 0)
    result = await at(T0 + DAY, tier_review.run, db, programme)
    assert result == {"reviewed": 2, "downgraded": 0, "in_grace": 0, "renewed": 2,
                      "upgraded": 0}
    (renewed,) = await told(db, gold)
    assert renewed.key == "tier.review_renewed"
    assert renewed.params["until"] == {"$date": "2027-05-02"}
    assert await told(db, base) == []
    assert (await standing(db, gold))[1] == T0 + DAY + 365 * DAY
    assert (await at(T0 + 2 * DAY, tier_review.run, db, programme))["reviewed"] == 0


async def test_no_grace_downgrades_at_once_and_spend_is_told_as_money(db, programme):
    by_spend = with_(programme, tiers={"grace_days": 0, "basis": "spend"})
    member_id = await member_at(db, programme, "s", "silver", 0)
    assert (await at(T0 + DAY, tier_review.run, db, by_spend))["downgraded"] == 1
    (down,) = await told(db, member_id)
    assert down.params["needed"] == {"$money": [500, "CNY"]}
    text = render_notice(down.key, down.params, "en", by_spend).text
    assert "you need ¥5.00 more qualifying spend" in text


async def test_only_up_programmes_have_nothing_to_review(db, programme):
    only_up = with_(programme, tiers={"mode": "only_up"})
    member_id = await member_at(db, programme, "g", "gold", 0)
    assert (await at(T0 + 90 * DAY, tier_review.run, db, only_up))["reviewed"] == 0
    assert (await standing(db, member_id))[0] == "gold"
