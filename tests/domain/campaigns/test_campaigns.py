"""Campaigns in the domain: drafts are checked, starts write one delivery per member
with a reproducible A/B and holdout assignment and resume where they stopped, claims
share the work without overlap, outcomes are final once recorded, and results compare
the variants with the holdout."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from domain.campaigns import attribution, campaigns, deliveries
from domain.campaigns.campaigns import Author, CampaignRefused, Draft
from domain.campaigns.segments import Segment
from domain.campaigns.tables import Campaign, Delivery
from domain.members.tables import Member
from domain.points import purchases
from domain.points.tables import LedgerEntry
from domain.rewards.tables import Coupon
from domain.staff import audit
from domain.staff.tables import AuditEntry
from tests.support import crowd

OPERATOR_ID = 1


async def operator(db, now) -> Author:
    await crowd.plain(db, 1, now, consent=False)  # member 1 runs the campaigns
    return Author(OPERATOR_ID, "console", "boss", "en")


async def create(db, programme, now, draft: Draft, key: str = "k1") -> Campaign:
    async with db.uow() as uow:
        made = await campaigns.create(uow, programme, Author(OPERATOR_ID, "console", "boss",
                                                               "en"), draft, key, now)
        await uow.commit()
    return made.campaign


async def rows(db, campaign_id: int) -> list[Delivery]:
    async with db.uow() as uow:
        found = list(await uow.session.scalars(
            select(Delivery).where(Delivery.campaign_id == campaign_id).order_by(Delivery.id)))
        uow.session.expunge_all()
        return found


async def fetch(db, campaign_id: int) -> Campaign:
    async with db.uow() as uow:
        return await campaigns.get(uow, campaign_id)


def draft(**fields) -> Draft:
    return Draft(**{"segment": Segment(), "texts": ("Spring tea is here",), **fields})


@pytest.mark.parametrize(("fields", "code"), [
    ({"texts": ()}, "variants"), ({"texts": ("  ",)}, "text_empty"),
    ({"texts": ("x" * 1001,)}, "text_long"), ({"split": 50}, "split"),
    ({"texts": ("a", "b"), "split": 100}, "split"), ({"holdout": 51}, "holdout"),
    ({"coupon": "caviar"}, "coupon"), ({"bonus_percent": 100}, "offer"),
    ({"coupon": "free_pot", "bonus_percent": 100, "bonus_days": 3}, "offer"),
    ({"bonus_percent": 5000, "bonus_days": 3}, "bonus"),
])
def test_a_draft_that_makes_no_sense_is_refused(programme, now, fields, code):
    with pytest.raises(CampaignRefused) as refused:
        campaigns.check(draft(**fields), programme, now)
    assert refused.value.code == code


def test_a_scheduled_time_must_be_ahead_and_near(programme, now):
    for when in (now - timedelta(minutes=1), now + timedelta(days=91)):
        with pytest.raises(CampaignRefused, match="send_at"):
            campaigns.check(draft(send_at=when), programme, now)
    assert campaigns.check(draft(send_at=now + timedelta(days=2)), programme, now)


async def test_the_same_confirmation_creates_one_campaign_and_it_is_audited(db, programme, now):
    await operator(db, now)
    first = await create(db, programme, now, draft())
    async with db.uow() as uow:
        again = await campaigns.create(uow, programme, Author(1, "console", "boss", "en"),
                                       draft(), "k1", now)
        await uow.commit()
    assert again.duplicate and again.campaign.id == first.id
    async with db.uow() as uow:
        assert await campaigns.count(uow) == 1
        [entry] = await audit.recent(uow, 10)
        assert (entry.action, entry.target, entry.actor) == (
            "campaign.create", f"campaign:{first.id}", "member:00000001")


async def test_starting_writes_one_delivery_per_member_of_the_segment(db, programme, now):
    await operator(db, now)
    gold = await crowd.plain(db, 30, now, first_id=2, tier="gold")
    await crowd.plain(db, 20, now, first_id=40, tier="silver")
    await crowd.plain(db, 5, now, first_id=70, tier="gold", consent=False)
    c = await create(db, programme, now, draft(segment=Segment(tiers=("gold",))))
    assert await campaigns.start_due(db, programme, now - timedelta(seconds=1)) == 0
    assert await campaigns.start_due(db, programme, now) == 1
    assert await campaigns.start_due(db, programme, now) == 0  # started once
    written = await rows(db, c.id)
    assert sorted(d.member_id for d in written) == gold
    assert {d.status for d in written} == {"pending"} and {d.variant for d in written} == {"A"}
    c = await fetch(db, c.id)
    assert (c.status, c.recipients, c.held_out, c.started_at) == ("running", 30, 0, now)
    async with db.uow() as uow:
        actions = [e.action for e in await audit.recent(uow, 10)]
    assert actions == ["campaign.send", "campaign.create"]


async def test_a_b_split_and_holdout_follow_the_shares_and_are_reproducible(db, programme, now,
                                                                          monkeypatch):
    monkeypatch.setattr(campaigns, "START_BATCH", 3_000)  # several batches
    await operator(db, now)
    await crowd.plain(db, 20_000, now, first_id=2)
    c = await create(db, programme, now, draft(texts=("A text", "B text"), split=70,
                                               holdout=10))
    assert [v["share"] for v in c.variants] == [6_300, 2_700] and c.holdout == 1_000
    await campaigns.start_due(db, programme, now)
    written = await rows(db, c.id)
    counts = Counter(d.variant for d in written)
    assert sum(counts.values()) == 20_000
    # Within two points of 63 / 27 / 10 percent.
    assert abs(counts["A"] - 12_600) < 400 and abs(counts["B"] - 5_400) < 400
    assert abs(counts["holdout"] - 2_000) < 400
    assert all((d.status == "holdout") == (d.variant == "holdout") for d in written)
    c = await fetch(db, c.id)
    assert all(campaigns.assign(c, d.member_id) == d.variant for d in written)
    assert (c.recipients, c.held_out) == (20_000 - counts["holdout"], counts["holdout"])


def test_assignment_depends_on_the_seed_and_covers_every_bucket():
    seen = {campaigns.bucket(12345, m) for m in range(1, 50_001)}
    assert len(seen) > 9_900  # nearly every one of the 10,000 buckets
    same = sum(campaigns.bucket(1, m) // 5_000 == campaigns.bucket(2, m) // 5_000
               for m in range(1, 10_001))
    assert 4_000 < same < 6_000  # another campaign splits the members another way


async def test_a_start_cut_short_resumes_from_its_cursor_without_repeats(db, programme, now,
                                                                       monkeypatch):
    monkeypatch.setattr(campaigns, "START_BATCH", 10)
    await operator(db, now)
    await crowd.plain(db, 45, now, first_id=2)
    c = await create(db, programme, now, draft())
    real = campaigns.deliveries_statement
    # Write two batches, then "die": the lease is still held, the cursor says 20.
    async with db.uow() as uow:
        await uow.session.execute(campaigns.CLAIM_START,
                                  {"b_now": now, "b_until": now + campaigns.START_LEASE})
        await uow.commit()
    stmt = real(c, programme, db.dialect)
    for lo in (0, 10):
        async with db.uow() as uow:
            await uow.session.execute(stmt, {"b_lo": lo, "b_hi": lo + 10})
            await uow.session.execute(update(Campaign).where(Campaign.id == c.id)
                                      .values(start_cursor=lo + 10))
            await uow.commit()
    # A third batch was written but its transaction never committed its cursor: the
    # rows are there (a second starter got that far) and must not be written twice.
    async with db.uow() as uow:
        await uow.session.execute(stmt, {"b_lo": 20, "b_hi": 25})
        await uow.commit()
    assert await campaigns.start_due(db, programme, now) == 0  # the lease still holds
    later = now + campaigns.START_LEASE + timedelta(seconds=1)
    assert await campaigns.start_due(db, programme, later) == 1
    written = await rows(db, c.id)
    assert sorted(d.member_id for d in written) == list(range(2, 47))
    assert (await fetch(db, c.id)).status == "running"


async def test_two_starters_at_once_start_a_campaign_once(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 500, now, first_id=2)
    c = await create(db, programme, now, draft())
    started = await asyncio.gather(*(campaigns.start_due(db, programme, now) for _ in range(3)))
    assert sum(started) == 1
    assert len(await rows(db, c.id)) == 500


async def test_pause_resume_cancel_and_what_they_refuse(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 3, now, first_id=2)
    c = await create(db, programme, now, draft(send_at=now + timedelta(hours=1)))

    async def act(action: str) -> str:
        async with db.uow() as uow:
            done = await campaigns.control(uow, OPERATOR_ID, action, c.id, now)
            await uow.commit()
            return done.status

    assert await act("pause") == "paused"
    assert await campaigns.start_due(db, programme, now + timedelta(hours=2)) == 0
    assert await act("resume") == "scheduled"  # it had not started
    assert await campaigns.start_due(db, programme, now + timedelta(hours=2)) == 1
    assert await act("pause") == "paused"
    assert await act("resume") == "running"
    with pytest.raises(CampaignRefused, match="already_running"):
        await act("resume")
    assert await act("cancel") == "cancelled"
    for action in ("pause", "resume", "cancel"):
        with pytest.raises(CampaignRefused, match="already_cancelled"):
            await act(action)
    with pytest.raises(CampaignRefused, match="unknown"):
        async with db.uow() as uow:
            await campaigns.control(uow, OPERATOR_ID, "pause", 999, now)
    async with db.uow() as uow:
        actions = [e.action for e in await audit.recent(uow, 20)]
    assert actions == ["campaign.cancel", "campaign.resume", "campaign.pause", "campaign.send",
                       "campaign.resume", "campaign.pause", "campaign.create"]


async def started(db, programme, now, **fields) -> Campaign:
    c = await create(db, programme, now, draft(**fields))
    await campaigns.start_due(db, programme, now)
    return await fetch(db, c.id)


async def claim(db, programme, c, now, limit=200):
    async with db.uow() as uow:
        work = await deliveries.claim(uow, programme, c, now, limit)
        await uow.commit()
    return work


async def test_claims_lease_batches_and_a_dead_senders_rows_come_back(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 10, now, first_id=2)
    c = await started(db, programme, now)
    first = await claim(db, programme, c, now, limit=4)
    second = await claim(db, programme, c, now, limit=4)
    assert len(first) == len(second) == 4
    assert not {w.delivery_id for w in first} & {w.delivery_id for w in second}
    assert first[0].accounts == (("telegram", str(50_000 + first[0].member_id)),)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, "sent", "telegram", None)
                                      for w in first], now)
        await uow.commit()
    # The second batch's sender died: after its lease, those rows are claimed again.
    later = now + deliveries.LEASE + timedelta(seconds=1)
    third = await claim(db, programme, c, later)
    assert {w.delivery_id for w in second} <= {w.delivery_id for w in third}
    assert len(third) == 6
    async with db.uow() as uow:
        progress = await deliveries.progress(uow, c)
        assert not await deliveries.complete(uow, c.id, later)
    assert (progress.sent, progress.remaining, progress.total) == (4, 6, 10)


async def test_outcomes_are_final_and_retries_stop_after_their_attempts(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 3, now, first_id=2)
    c = await started(db, programme, now)
    a, b, d = await claim(db, programme, c, now)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(a.delivery_id, "sent", "telegram", None),
                                      (b.delivery_id, "retry", "telegram", "timeout"),
                                      (d.delivery_id, "unreachable", "telegram", "403")], now)
        # A late duplicate of an outcome changes nothing.
        await deliveries.finish(uow, [(a.delivery_id, "failed", "telegram", "late")], now)
        await uow.commit()
    assert await claim(db, programme, c, now) == []  # b waits out its pause
    moment = now
    for _ in range(deliveries.MAX_ATTEMPTS - 1):
        moment += deliveries.RETRY_AFTER + timedelta(seconds=1)
        [again] = await claim(db, programme, c, moment)
        assert again.delivery_id == b.delivery_id
        async with db.uow() as uow:
            await deliveries.finish(uow, [(b.delivery_id, "retry", "telegram", "timeout")],
                                    moment)
            await uow.commit()
    statuses = {r.id: r.status for r in await rows(db, c.id)}
    assert statuses == {a.delivery_id: "sent", b.delivery_id: "failed",
                        d.delivery_id: "unreachable"}
    async with db.uow() as uow:
        assert await deliveries.complete(uow, c.id, moment)
        await uow.commit()
    c = await fetch(db, c.id)
    assert c.status == "done" and c.finished_at == moment


async def test_members_who_withdrew_since_the_start_are_skipped(db, programme, now):
    await operator(db, now)
    ids = await crowd.plain(db, 3, now, first_id=2)
    c = await started(db, programme, now)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == ids[0])
                                  .values(marketing_consent=False))
        await uow.session.execute(update(Member).where(Member.id == ids[1])
                                  .values(status="unreachable"))
        await uow.commit()
    work = await claim(db, programme, c, now)
    assert [w.member_id for w in work] == [ids[2]]
    statuses = {r.member_id: r.status for r in await rows(db, c.id)}
    assert statuses == {ids[0]: "skipped", ids[1]: "unreachable", ids[2]: "sending"}


async def test_a_coupon_offer_issues_each_recipient_one_coupon(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 24, now, first_id=2)  # half held out: some are messaged, surely
    c = await started(db, programme, now, coupon="free_pot", holdout=50)
    work = await claim(db, programme, c, now)
    assert work and all(w.coupon is not None and w.coupon.reward == "free_pot" for w in work)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, "retry", None, None) for w in work], now)
        await uow.commit()
    again = await claim(db, programme, c, now + timedelta(minutes=1))
    assert {w.coupon.code for w in again} == {w.coupon.code for w in work}  # the same ones
    async with db.uow() as uow:
        issued = await uow.session.scalar(select(func.count()).select_from(Coupon))
    assert issued == len(work) == sum(1 for r in await rows(db, c.id) if r.status != "holdout")


async def test_a_released_claim_is_as_if_never_made(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 3, now, first_id=2)
    c = await started(db, programme, now, coupon="free_pot")
    first = await claim(db, programme, c, now)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(first[0].delivery_id, "sent", "telegram", None)], now)
        await deliveries.finish(uow, [(w.delivery_id, deliveries.RELEASE, None, None)
                                      for w in first], now)  # the sent one is not undone
        await uow.commit()
    by_id = {r.id: r for r in await rows(db, c.id)}
    assert by_id[first[0].delivery_id].status == "sent"
    for w in first[1:]:
        row = by_id[w.delivery_id]
        assert (row.status, row.attempts, row.lease_until, row.coupon_id) == (
            "pending", 0, None, None)
    async with db.uow() as uow:  # the released coupons are gone; the sent one stays
        codes = set(await uow.session.scalars(select(Coupon.code)))
    assert codes == {first[0].coupon.code}
    again = await claim(db, programme, c, now)  # at once: no lease to wait out
    assert {w.delivery_id for w in again} == {w.delivery_id for w in first[1:]}
    assert not {w.coupon.code for w in again} & {w.coupon.code for w in first}
    assert {r.attempts for r in await rows(db, c.id) if r.status == "sending"} == {1}


async def test_a_coupon_whose_message_never_arrived_is_withdrawn(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 5, now, first_id=2)
    c = await started(db, programme, now, coupon="ten_off")
    work = await claim(db, programme, c, now)
    outcomes = ["sent", "unreachable", "deferred", "rejected", "failed"]
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, o, "telegram", None)
                                      for w, o in zip(work, outcomes, strict=True)], now)
        # A late, contradicting outcome for the sent one takes nothing back.
        await deliveries.finish(uow, [(work[0].delivery_id, "unreachable", "telegram", None)],
                                now)
        await uow.commit()
    async with db.uow() as uow:
        left = set(await uow.session.scalars(select(Coupon.code)))
    # Sent: the member has it. Failed: it may have arrived, so it stays theirs.
    assert left == {work[0].coupon.code, work[4].coupon.code}
    statuses = {r.id: (r.status, r.coupon_id is not None) for r in await rows(db, c.id)}
    assert [statuses[w.delivery_id] for w in work] == [
        ("sent", True), ("unreachable", False), ("deferred", False), ("rejected", False),
        ("failed", True)]


async def buy(db, programme, member_id: int, order: str, amount: int, at):
    async with db.uow() as uow:
        done = await purchases.record(uow, programme, member_id,
                                      purchases.Order(order, amount, "CNY"), at)
        await uow.commit()
    return done


async def test_a_points_multiplier_pays_recipients_in_its_window_only(db, programme, now):
    await operator(db, now)
    ids = await crowd.plain(db, 40, now, first_id=2)
    c = await started(db, programme, now, bonus_percent=100, bonus_days=7, holdout=50)
    assert (c.bonus_starts, c.bonus_ends) == (now, now + timedelta(days=7))
    groups = {r.member_id: r.variant for r in await rows(db, c.id)}
    reached = next(m for m in ids if groups[m] == "A")
    held = next(m for m in ids if groups[m] == "holdout")
    not_yet = next(m for m in ids if groups[m] == "A" and m != reached)
    work = await claim(db, programme, c, now)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, "sent" if w.member_id == reached
                                       else "retry", "telegram", None) for w in work], now)
        await uow.commit()
    day = now + timedelta(days=1)  # a Wednesday: no bonus-points day
    assert (await buy(db, programme, reached, "O-1", 10_000, day)).points == 100 + 100 + 100
    assert (await buy(db, programme, held, "O-2", 10_000, day)).points == 100 + 100
    assert (await buy(db, programme, not_yet, "O-3", 10_000, day)).points == 100 + 100
    after = now + timedelta(days=8)
    assert (await buy(db, programme, reached, "O-4", 10_000, after)).points == 100
    async with db.uow() as uow:
        bonus = list(await uow.session.scalars(select(LedgerEntry).where(
            LedgerEntry.reason == "campaign_bonus")))
        assert [(e.member_id, e.delta, e.params["percent"]) for e in bonus] == [
            (reached, 100, 100)]


async def test_results_compare_each_variant_with_the_holdout(db, programme, now):
    await operator(db, now)
    ids = await crowd.plain(db, 60, now, first_id=2)
    c = await started(db, programme, now, texts=("A", "B"), split=50, holdout=20,
                      coupon="ten_off")
    groups = {r.member_id: r.variant for r in await rows(db, c.id)}
    work = await claim(db, programme, c, now)
    async with db.uow() as uow:
        await deliveries.finish(uow, [(w.delivery_id, "sent", "telegram", None) for w in work],
                                now)
        used = next(w for w in work if w.variant == "A")
        await uow.session.execute(update(Coupon).where(Coupon.code == used.coupon.code)
                                  .values(status="used", used_at=now + timedelta(days=1)))
        await uow.commit()
    in_a = [m for m in ids if groups[m] == "A"][:3]
    in_hold = [m for m in ids if groups[m] == "holdout"][:1]
    for n, member_id in enumerate(in_a + in_hold):
        await buy(db, programme, member_id, f"R-{n}", 5_000, now + timedelta(days=2))
    await buy(db, programme, in_a[0], "R-late", 5_000, now + timedelta(days=9))  # outside
    await buy(db, programme, in_a[1], "R-again", 1_000, now + timedelta(days=3))
    async with db.uow() as uow:
        done = await attribution.results(uow, await campaigns.get(uow, c.id),
                                         now + timedelta(days=30))
    a, b, hold = (done.group(v) for v in ("A", "B", "holdout"))
    assert [g.variant for g in done.groups] == ["A", "B", "holdout"]
    assert a.members + b.members + hold.members == 60
    assert (a.delivered, hold.delivered) == (a.members, 0)
    assert (a.coupons_used, b.coupons_used, hold.coupons_used) == (1, 0, 0)
    assert (a.buyers, a.orders, a.spend) == (3, 4, 16_000)
    assert (hold.buyers, hold.orders, hold.spend) == (1, 1, 5_000)
    assert (b.buyers, b.spend) == (0, 0)
    assert done.window_end == now + timedelta(days=7)


async def test_results_before_the_start_are_empty(db, programme, now):
    await operator(db, now)
    c = await create(db, programme, now, draft(send_at=now + timedelta(days=1)))
    async with db.uow() as uow:
        assert (await attribution.results(uow, c, now)).groups == []
        assert await uow.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


async def test_senders_claiming_at_the_same_time_never_share_a_delivery(db, programme, now):
    await operator(db, now)
    await crowd.plain(db, 30, now, first_id=2)
    c = await started(db, programme, now)
    held = asyncio.Event()

    async def slow() -> list[int]:
        async with db.uow() as uow:
            work = await deliveries.claim(uow, programme, c, now, limit=10)
            held.set()
            await asyncio.sleep(0.3)  # still holding its rows' locks (PostgreSQL)
            await uow.commit()
        return [w.delivery_id for w in work]

    async def fast() -> list[int]:
        await held.wait()
        return [w.delivery_id for w in await claim(db, programme, c, now, limit=10)]

    first, second = await asyncio.gather(slow(), fast())
    assert len(first) == len(second) == 10 and not set(first) & set(second)
