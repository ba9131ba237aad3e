"""Warns, mutes and bans, reports and the people seen in groups, as domain services:
each action audited, a warn limit that clears the count, restrictions that last only as
long as they say, a report settled once, and people written only when they change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.community import people, reports, restrictions, warns
from domain.community.tables import GroupPerson
from domain.staff.tables import AuditEntry

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
P, CHAT, OTHER = "telegram", "-1001", "-1002"
ADMIN = "telegram:1"


async def audit_log(db) -> list[tuple[str, str, dict]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.action, r.target, r.params) for r in rows]


async def warn(db, user="7", reason=None, limit=3, chat=CHAT) -> warns.Warned:
    async with db.uow() as uow:
        warned = await warns.warn(uow, P, chat, user, reason, limit, ADMIN, T0)
        await uow.commit()
        return warned


# ------------------------------------------------------------------ warns

async def test_warns_count_per_person_and_group_and_clear_at_the_limit(db):
    assert (await warn(db, reason="spam")).count == 1
    assert (await warn(db, user="8")).count == 1
    assert (await warn(db, chat=OTHER)).count == 1
    second = await warn(db, reason="x" * 400)
    assert (second.count, second.reached) == (2, False)
    third = await warn(db)
    assert (third.count, third.limit, third.reached) == (3, 3, True)
    async with db.uow() as uow:
        assert await warns.listing(uow, P, CHAT, "7") == []  # cleared
        assert len(await warns.listing(uow, P, CHAT, "8")) == 1
        assert len(await warns.listing(uow, P, OTHER, "7")) == 1
    log = await audit_log(db)
    assert [a for a, _, _ in log] == ["group.warn"] * 5
    assert log[3][2]["reason"] == "x" * 256
    assert log[4][1:] == ("user:telegram:-1001:7",
                          {"reason": None, "count": 3, "limit": 3, "reached": True})


async def test_a_lowered_limit_is_reached_by_the_next_warn(db):
    await warn(db, limit=5)
    await warn(db, limit=5)
    assert (await warn(db, limit=1)).reached


async def test_taking_a_warn_back_latest_or_by_id(db):
    first = await warn(db, reason="a", limit=10)
    await warn(db, reason="b", limit=10)
    async with db.uow() as uow:
        assert await warns.owner_of(uow, P, CHAT, first.warn_id) == "7"
        assert await warns.owner_of(uow, P, OTHER, first.warn_id) is None
        assert await warns.take_back(uow, P, CHAT, "7", ADMIN, T0) == 1
        assert [w.reason for w in await warns.listing(uow, P, CHAT, "7")] == ["a"]
        assert await warns.take_back(uow, P, CHAT, "7", ADMIN, T0, first.warn_id) == 0
        assert await warns.take_back(uow, P, CHAT, "7", ADMIN, T0, first.warn_id) is None
        assert await warns.take_back(uow, P, CHAT, "7", ADMIN, T0) is None
        await uow.commit()
    assert [a for a, _, _ in await audit_log(db)][-2:] == ["group.unwarn"] * 2


async def test_reset_audits_only_what_it_cleared(db):
    await warn(db, limit=10)
    await warn(db, limit=10)
    async with db.uow() as uow:
        assert await warns.reset(uow, P, CHAT, "7", ADMIN, T0) == 2
        assert await warns.reset(uow, P, CHAT, "7", ADMIN, T0) == 0
        await uow.commit()
    assert [a for a, _, _ in await audit_log(db)][-1] == "group.resetwarns"
    assert len(await audit_log(db)) == 3


# ------------------------------------------------------------------ mutes and bans

@pytest.mark.parametrize(("length", "until", "forced"), [
    (None, None, False), (timedelta(0), None, False),
    (timedelta(seconds=29), None, True), (timedelta(seconds=30), T0 + timedelta(seconds=30),
                                          False),
    (timedelta(days=366), T0 + timedelta(days=366), False),
    (timedelta(days=366, seconds=1), None, True),
])
def test_lengths_the_platform_takes_as_for_ever(length, until, forced):
    assert restrictions.lasting(T0, length) == restrictions.Length(until, forced)


async def test_a_restriction_is_active_until_it_ends_or_is_lifted(db):
    later = T0 + timedelta(hours=2)
    async with db.uow() as uow:
        await restrictions.impose(uow, P, CHAT, "7", "mute", later, "spam", ADMIN, T0)
        await restrictions.impose(uow, P, CHAT, "7", "ban", None, None, ADMIN, T0)
        await restrictions.impose(uow, P, CHAT, "7", "mute", later, "again", ADMIN, T0)
        found = await restrictions.active(uow, P, CHAT, "7", T0)
        assert [(r.kind, r.until, r.reason) for r in found] == [
            ("ban", None, None), ("mute", later, "again")]
        assert [r.kind for r in await restrictions.active(uow, P, CHAT, "7", later)] == ["ban"]
        assert await restrictions.active(uow, P, OTHER, "7", T0) == []
        assert await restrictions.lift(uow, P, CHAT, "7", "ban", ADMIN, T0) is True
        assert await restrictions.lift(uow, P, CHAT, "7", "ban", ADMIN, T0) is False
        assert [r.kind for r in await restrictions.active(uow, P, CHAT, "7", T0)] == ["mute"]
        await restrictions.kicked(uow, P, CHAT, "8", "rude", ADMIN, T0)
        await uow.commit()
    assert [a for a, _, _ in await audit_log(db)] == [
        "group.mute", "group.ban", "group.mute", "group.unban", "group.unban", "group.kick"]


# ------------------------------------------------------------------ reports

async def test_a_report_is_filed_once_per_message_and_each_action_taken_once(db):
    async with db.uow() as uow:
        filed, new = await reports.file(uow, P, CHAT, "5", "7", "m1", T0, reason="spam")
        again, new_again = await reports.file(uow, P, CHAT, "6", "7", "m1", T0)
        assert new and not new_again and again.id == filed.id
        assert await reports.find(uow, "wechat", filed.id) is None
        assert (await reports.details(uow, filed)).reason == "spam"
        muted = await reports.act(uow, filed, "mute", ADMIN, "Bea", T0)
        assert muted.new and not muted.closed
        assert not (await reports.act(uow, filed, "mute", ADMIN, "Bea", T0)).new  # once
        banned = await reports.act(uow, filed, "ban", ADMIN, "Bea", T0)
        assert [d.what for d in banned.done] == ["mute", "ban"] and not banned.closed
        deleted = await reports.act(uow, filed, "delete", ADMIN, "Bea", T0)
        assert deleted.closed and filed.status == "delete"  # deleted and banned: done
        assert await reports.act(uow, filed, "resolved", ADMIN, "Bea", T0) is None
        # Once closed, the same message may be reported anew.
        _, new = await reports.file(uow, P, CHAT, "5", "7", "m1", T0)
        assert new
        await uow.commit()
    assert [(a, p.get("outcome")) for a, _, p in await audit_log(db)
            if a == "group.report"] == [("group.report", "mute"), ("group.report", "ban"),
                                        ("group.report", "delete")]


# ------------------------------------------------------------------ people

def test_seen_forgets_the_least_recent_first():
    seen = people.Seen(size=2)
    assert seen.news(P, "1", "Ann", "Ann Lee")
    seen.written(P, "1", "Ann", "Ann Lee")
    assert not seen.news(P, "1", "@ann", "Ann Lee")  # the same, as stored
    assert seen.news(P, "1", "ann", "Ann L.")
    seen.written(P, "2", None, "Ben")
    seen.news(P, "1", "ann", "Ann Lee")  # 1 is the most recent now
    seen.written(P, "3", None, "Cy")
    assert not seen.news(P, "1", "ann", "Ann Lee")
    assert seen.news(P, "2", None, "Ben")


async def test_remember_writes_only_what_changed(db):
    async with db.uow() as uow:
        assert await people.remember(uow, P, "1", "AnnLee", "Ann Lee", T0)
        assert not await people.remember(uow, P, "1", "annlee", "Ann Lee", T0)
        assert await people.remember(uow, P, "2", "@AnnLee", "Impostor", T0)
        assert (await people.by_username(uow, P, "@ANNLEE")).user_id == "2"
        assert (await people.by_id(uow, P, "1")).username is None
        assert await people.by_username(uow, "wechat", "annlee") is None
        await uow.commit()
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(GroupPerson).order_by(GroupPerson.user_id))
        assert [(r.user_id, r.username, r.name) for r in rows] == [
            ("1", None, "Ann Lee"), ("2", "annlee", "Impostor")]


async def test_a_warn_id_is_never_given_again(db):
    """Its id is in the "remove warn" button under its message: an old button must find
    its warn gone, never a newer warn of someone else (the trial's finding)."""
    async with db.uow() as uow:
        old = await warns.warn(uow, P, CHAT, "10", "spam", 3, "admin", T0)
        await warns.reset(uow, P, CHAT, "10", "admin", T0)
        await uow.commit()
    async with db.uow() as uow:
        new = await warns.warn(uow, P, CHAT, "11", "new warn", 3, "admin", T0)
        await uow.commit()
    assert new.warn_id > old.warn_id
    async with db.uow() as uow:
        assert await warns.owner_of(uow, P, CHAT, old.warn_id) is None
        assert await warns.owner_of(uow, P, CHAT, new.warn_id) == "11"
