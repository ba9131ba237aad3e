"""Retention: members inactive past `[privacy] retention_days` are warned, then erased
as /deleteme erases them unless they came back; off by default, it touches nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from domain.config import Privacy
from domain.members import members
from domain.members.tables import Member
from domain.membership import subscriptions
from domain.notices.tables import Notice
from domain.points.tables import LedgerEntry
from domain.privacy import erasure, retention
from domain.privacy.tables import RetentionWarning
from domain.staff.tables import AuditEntry, StaffRole
from handlers.notices.notices import render_notice
from tests.domain.membership.test_subscriptions import charge, paid
from tests.domain.privacy.test_consents import NOW
from tests.domain.privacy.test_erasure import PHONE, someone
from tests.support import crowd
from tests.support.crowd import Person

DAY = timedelta(days=1)


def keeping(programme, days=365, warning=30):
    return programme.model_copy(update={"privacy": programme.privacy.model_copy(
        update={"retention_days": days, "retention_warning_days": warning})})


async def idle_since(db, member_id, when):
    async with db.uow() as uow:
        (await uow.session.get(Member, member_id)).last_active_at = when
        await uow.commit()


async def warnings(db, withdrawn=False) -> list[tuple[int, str, dict]]:
    """The warnings queued (with `withdrawn`, those called off before they went)."""
    async with db.uow() as uow:
        return [(n.member_id, n.key, n.params) for n in await uow.session.scalars(
            select(Notice).where(Notice.key.like("privacy.retention%"),
                                 (Notice.status == "withdrawn") == withdrawn)
            .order_by(Notice.id))]


async def status(db, member_id) -> str:
    async with db.uow() as uow:
        return (await uow.session.get(Member, member_id)).status


def test_retention_is_off_unless_set_and_never_shorter_than_half_a_year():
    assert Privacy().retention_days == 0 and Privacy().retention_warning_days == 30
    assert Privacy(retention_days=180).retention_days == 180
    with pytest.raises(ValidationError, match="at least 180"):
        Privacy(retention_days=90)


async def test_off_by_default_nobody_is_warned_or_erased(db, programme):
    assert programme.privacy.retention_days == 0
    [mid] = await crowd.add(db, [Person(idle_days=3000, points=50)], NOW)
    result = await retention.run(db, programme, NOW)
    assert result == {"warned": 0, "returned": 0, "erased": 0, "points": 0, "waiting": 0,
                      "at_stake": 0}
    assert await warnings(db) == [] and await status(db, mid) == "active"


async def test_warned_then_erased_on_the_date_with_the_points_forfeited(db, programme):
    rules = keeping(programme)
    mid = await someone(db, programme)  # a purchase, points, a coupon, a phone
    await idle_since(db, mid, NOW - 340 * DAY)  # past 365 - 30
    [recent, staff, asked] = await crowd.add(db, [
        Person(idle_days=300), Person(idle_days=900), Person(idle_days=900)], NOW,
        first_id=mid + 1)
    async with db.uow() as uow:
        uow.session.add(StaffRole(member_id=staff, role="owner", granted_by="test",
                                  granted_at=NOW))
        await erasure.ask(uow, rules, asked, "console", NOW)  # their own /deleteme waits
        await uow.commit()
        held = (await uow.session.get(Member, mid)).points_balance
    assert held > 0
    first = await retention.run(db, rules, NOW)
    assert first == {"warned": 1, "returned": 0, "erased": 0, "points": 0, "waiting": 1,
                     "at_stake": held}  # the points at stake, told before they go
    date = retention.erase_at(rules, NOW).date()
    assert date == (NOW.astimezone(rules.zone) + 30 * DAY).date()
    assert await warnings(db) == [(mid, "privacy.retention_warning",
                                   {"date": {"$date": date.isoformat()}, "points": held})]
    # Again the next day: nobody is warned twice.
    assert (await retention.run(db, rules, NOW + DAY))["warned"] == 0
    assert len(await warnings(db)) == 1
    # The day before the date: still waiting.
    before = retention.erase_at(rules, NOW) - timedelta(hours=1)
    assert (await retention.run(db, rules, before))["erased"] == 0
    assert await status(db, mid) == "active"
    # The date: erased through the erasure's own path.
    done = await retention.run(db, rules, retention.erase_at(rules, NOW) + timedelta(hours=11))
    assert (done["erased"], done["points"], done["waiting"], done["at_stake"]) == (1, held, 0, 0)
    async with db.uow() as uow:
        member = await uow.session.get(Member, mid)
        assert (member.status, member.phone, member.points_balance) == ("erased", None, 0)
        forfeit = await uow.session.scalar(select(LedgerEntry.delta).where(
            LedgerEntry.member_id == mid, LedgerEntry.reason == "forfeited"))
        assert forfeit == -held
        trail = (await uow.session.execute(select(AuditEntry.actor, AuditEntry.params).where(
            AuditEntry.action == "privacy.erase"))).one()
        assert trail.actor == retention.ACTOR and trail.params["points"] == held
        assert await uow.session.scalar(select(RetentionWarning.member_id)) is None
        assert (await uow.session.get(Member, staff)).status == "active"
    assert await status(db, recent) == "active"
    assert await status(db, asked) == "active"  # left to its own cooling-off
    # The staff member and the asker were never warned; the erased member's notice
    # not sent yet went with them.
    assert await warnings(db) == []


async def test_the_erased_phone_is_nowhere_in_the_sqlite_file_after_the_job(db, programme):
    if db.dialect != "sqlite":
        return  # PostgreSQL: VACUUM of the touched tables (the README says what it reclaims)
    from pathlib import Path
    rules = keeping(programme)
    mid = await someone(db, programme)
    await idle_since(db, mid, NOW - 400 * DAY)
    await retention.run(db, rules, NOW)
    assert (await retention.run(db, rules, NOW + 31 * DAY))["erased"] == 1
    path = Path(db.checkpoints.path)
    content = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    assert content and PHONE[3:].encode() not in content


async def test_activity_after_the_warning_keeps_the_account(db, programme):
    rules = keeping(programme)
    [mid, other] = await crowd.add(db, [Person(idle_days=350), Person(idle_days=350)], NOW)
    assert (await retention.run(db, rules, NOW))["warned"] == 2
    async with db.uow() as uow:  # a message of theirs (/points, a check-in, anything)
        await members.touch(uow, await uow.session.get(Member, mid), NOW + 5 * DAY)
        await uow.commit()
    later = await retention.run(db, rules, NOW + 31 * DAY)
    assert (later["returned"], later["erased"], later["warned"]) == (1, 1, 0)
    assert await status(db, mid) == "active" and await status(db, other) == "erased"
    # A silence after coming back is counted from then: a new warning, once.
    again = NOW + 5 * DAY + 336 * DAY
    assert (await retention.run(db, rules, again))["warned"] == 1
    # The first warning, not sent when they came back, never goes; the other's went
    # with their erasure.
    assert [w[0] for w in await warnings(db, withdrawn=True)] == [mid]
    assert [w[0] for w in await warnings(db)] == [mid]
    # Retention turned off: the warning given is called off, nobody is erased.
    assert (await retention.run(db, programme, again + DAY))["waiting"] == 0
    assert [w[0] for w in await warnings(db, withdrawn=True)] == [mid, mid]
    assert (await retention.run(db, rules, again + 40 * DAY))["erased"] == 0
    assert await status(db, mid) == "active"


async def test_a_member_with_no_points_is_warned_without_them(db, programme):
    rules = keeping(programme, days=200, warning=14)
    [mid] = await crowd.add(db, [Person(idle_days=190)], NOW)
    await retention.run(db, rules, NOW)
    [(member_id, key, params)] = await warnings(db)
    assert (member_id, key, params["points"]) == (mid, "privacy.retention_warning_plain", 0)


@pytest.mark.parametrize(("locale", "words"), [
    ("en", ("erased on Jul 1, 2026", "120 points", "/points")),
    ("zh_Hans", ("2026年7月1日", "120 积分", "/points", "签到"))])
def test_the_warning_in_both_languages(programme, locale, words):
    shown = render_notice("privacy.retention_warning",
                          {"date": {"$date": "2026-07-01"}, "points": 120}, locale,
                          programme).text
    assert all(w in shown for w in words), shown
    plain = render_notice("privacy.retention_warning_plain", {"date": {"$date": "2026-07-01"},
                                                              "points": 0}, locale,
                          programme).text
    assert words[0] in plain and "0" not in plain.replace("2026", "")


async def test_a_warned_member_erased_at_their_own_request_is_no_longer_waiting(db, programme):
    rules = keeping(programme)
    [mid, other] = await crowd.add(db, [Person(idle_days=350), Person(idle_days=350)], NOW)
    assert (await retention.run(db, rules, NOW))["waiting"] == 2
    async with db.uow() as uow:
        await erasure.ask(uow, rules, mid, "console", NOW)
        await uow.commit()
    assert (await erasure.run(db, rules, NOW + 8 * DAY))["erased"] == 1
    later = await retention.run(db, rules, NOW + 9 * DAY)
    assert (later["returned"], later["waiting"]) == (0, 1)  # the other one, still away


async def test_a_member_paying_for_a_plan_is_not_warned_until_it_ends(db, programme):
    kept = keeping(programme)
    [payer, idle] = await crowd.add(db, [Person(idle_days=400), Person(idle_days=400)], NOW)
    await paid(db, kept, payer, charge(payer, until=NOW + 20 * DAY), at=NOW - 10 * DAY)
    await idle_since(db, payer, NOW - 400 * DAY)  # the payment was their last activity
    result = await retention.run(db, kept, NOW)
    assert result["warned"] == 1 and [m for m, _, _ in await warnings(db)] == [idle]
    later = NOW + 25 * DAY  # the plan ended five days ago, and lapses after its grace
    await subscriptions.lapse_due(db, kept, later)
    await retention.run(db, kept, later)
    assert [m for m, _, _ in await warnings(db)] == [idle, payer]
