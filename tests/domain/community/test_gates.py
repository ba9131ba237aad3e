"""Gates as a specification: opening, re-opening, closing and configuring a gated chat,
each audited, and the listing operators read in /gates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.community import gates, seats
from domain.community.tables import Gate, Seat
from domain.errors import UnknownTier
from domain.staff.tables import AuditEntry
from tests.support.lifecycle_helpers import a_member, with_

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ACTOR = "member:00000001"


async def open_(db, programme, chat_id="-100", tier="gold", grace=DAY, platform="telegram",
                title="Gold lounge", join_link=None, now=T0) -> int:
    async with db.uow() as uow:
        gate = await gates.open_gate(uow, programme, platform, chat_id, "supergroup", title,
                                     tier, grace, join_link, ACTOR, now)
        await uow.commit()
        return gate.id


async def gate_of(db, gate_id: int) -> Gate | None:
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        uow.session.expunge_all()
        return gate


async def audit_log(db) -> list[tuple[str, str, str, dict]]:
    async with db.uow() as uow:
        rows = await uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.target, e.params) for e in rows]


async def seat_in(db, programme, gate_id: int, user: str, now=T0) -> str:
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        status = await seats.arrived(uow, programme.tiers, gate, user, False, now)
        await uow.commit()
        return status


# --- opening ---------------------------------------------------------------------------------


async def test_open_gate_records_the_chat_its_tier_and_grace_and_audits_it(db, programme):
    gate_id = await open_(db, programme, grace=timedelta(hours=36), join_link="https://t.me/+a")
    gate = await gate_of(db, gate_id)
    assert (gate.platform, gate.chat_id, gate.kind, gate.title, gate.min_tier) == (
        "telegram", "-100", "supergroup", "Gold lounge", "gold")
    assert gate.grace_s == 36 * 3600
    assert gate.on_lapse == "remove" and gate.dry_run is False
    assert gate.join_link == "https://t.me/+a"
    assert (gate.created_by, gate.created_at, gate.updated_at) == (ACTOR, T0, T0)
    assert await audit_log(db) == [(ACTOR, "gate.open", "chat:telegram:-100",
                                    {"tier": "gold", "grace": "1d12h", "title": "Gold lounge"})]


async def test_without_a_grace_the_programme_default_applies_and_zero_means_none(db, programme):
    twelve_hours = with_(programme, community={"grace": "12h", "on_lapse": "warn"})
    default = await gate_of(db, await open_(db, twelve_hours, chat_id="-1", grace=None))
    assert default.grace_s == 12 * 3600
    assert default.on_lapse == "warn"  # a new gate takes the programme's lapse mode
    assert gates.default_grace(twelve_hours) == 12 * HOUR
    none = await gate_of(db, await open_(db, twelve_hours, chat_id="-2", grace=timedelta(0)))
    assert none.grace_s == 0  # zero is a grace given, not a grace missing
    log = await audit_log(db)
    assert [entry[3]["grace"] for entry in log] == ["12h", "0"]


async def test_the_example_programme_default_grace_is_three_days(db, programme):
    assert gates.default_grace(programme) == 3 * DAY
    gate = await gate_of(db, await open_(db, programme, grace=None))
    assert gate.grace_s == 3 * 86400


async def test_an_unknown_tier_is_refused_and_nothing_is_written(db, programme):
    with pytest.raises(UnknownTier):
        await open_(db, programme, tier="diamond")
    await open_(db, programme, tier="gold")
    with pytest.raises(UnknownTier):
        await open_(db, programme, tier="Gold")  # codes are exact
    async with db.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Gate)) == 1
        gate = await gates.find(uow, "telegram", "-100")
        assert gate.min_tier == "gold"
    assert [entry[1] for entry in await audit_log(db)] == ["gate.open"]


async def test_reopening_changes_tier_and_grace_and_keeps_the_gate_and_its_seats(db, programme):
    first = await open_(db, programme, tier="gold", grace=DAY, join_link="https://t.me/+a")
    member = await a_member(db, programme, T0, "u1", tier="gold")
    assert await seat_in(db, programme, first, "u1") == "in"
    later = T0 + HOUR
    again = await open_(db, programme, tier="silver", grace=2 * DAY, title="Silver lounge",
                        join_link=None, now=later)
    assert again == first
    gate = await gate_of(db, first)
    assert (gate.min_tier, gate.grace_s, gate.title) == ("silver", 2 * 86400, "Silver lounge")
    assert gate.join_link == "https://t.me/+a"  # no new link: the old one stays
    assert (gate.created_by, gate.created_at, gate.updated_at) == (ACTOR, T0, later)
    async with db.uow() as uow:
        (seat,) = await uow.session.scalars(select(Seat))
        assert (seat.gate_id, seat.member_id, seat.status) == (first, member, "in")
    await open_(db, programme, join_link="https://t.me/+b")
    assert (await gate_of(db, first)).join_link == "https://t.me/+b"
    # New terms ask the sweep to judge the lapsed afresh now (one request waits at a time).
    assert [entry[1] for entry in await audit_log(db)] == [
        "gate.open", "job.run", "gate.open", "gate.open"]


async def test_a_gate_belongs_to_one_chat_of_one_platform(db, programme):
    tg = await open_(db, programme, platform="telegram", chat_id="-5")
    wx = await open_(db, programme, platform="wechat", chat_id="-5")
    assert tg != wx
    async with db.uow() as uow:
        assert [g.id for g in await gates.on_platform(uow, "telegram")] == [tg]
        assert [g.id for g in await gates.on_platform(uow, "wechat")] == [wx]
        assert await gates.on_platform(uow, "console") == []
        assert (await gates.find(uow, "wechat", "-5")).id == wx
        assert await gates.find(uow, "telegram", "-6") is None


async def test_a_long_title_is_cut_to_fit(db, programme):
    gate = await gate_of(db, await open_(db, programme, title="茶" * 300))
    assert gate.title == "茶" * 128


# --- closing ---------------------------------------------------------------------------------


async def test_closing_a_gate_forgets_its_seats_and_audits_it(db, programme):
    closing = await open_(db, programme, chat_id="-1", title="Closing")
    staying = await open_(db, programme, chat_id="-2", title="Staying")
    await a_member(db, programme, T0, "u1", tier="gold")
    for gate_id in (closing, staying):
        await seat_in(db, programme, gate_id, "u1")
        await seat_in(db, programme, gate_id, "stranger")
    async with db.uow() as uow:
        gate = await gates.by_id(uow, closing)
        await gates.close_gate(uow, gate, ACTOR, T0 + HOUR)
        await uow.commit()
    assert await gate_of(db, closing) is None
    async with db.uow() as uow:
        left = list(await uow.session.scalars(select(Seat.gate_id)))
        assert left == [staying, staying]
    assert (await audit_log(db))[-1] == (ACTOR, "gate.close", "chat:telegram:-1",
                                         {"title": "Closing"})


# --- configuring -----------------------------------------------------------------------------


async def test_configure_switches_dry_run_and_lapse_mode_and_audits_each_change(db, programme):
    gate_id = await open_(db, programme)
    later = T0 + HOUR
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        await gates.configure(uow, gate, ACTOR, later, dry_run=True)
        await gates.configure(uow, gate, ACTOR, later, on_lapse="warn")
        await gates.configure(uow, gate, ACTOR, later, dry_run=False, on_lapse="remove")
        await uow.commit()
    gate = await gate_of(db, gate_id)
    assert (gate.dry_run, gate.on_lapse, gate.updated_at) == (False, "remove", later)
    log = await audit_log(db)
    assert log[1:] == [
        (ACTOR, "gate.configure", "chat:telegram:-100", {"dry_run": True}),
        (ACTOR, "gate.configure", "chat:telegram:-100", {"on_lapse": "warn"}),
        (ACTOR, "gate.configure", "chat:telegram:-100", {"dry_run": False, "on_lapse": "remove"}),
        (ACTOR, "job.run", "community", {}),  # the lapsed are judged afresh, now
    ]


async def test_configure_that_changes_nothing_writes_nothing(db, programme):
    gate_id = await open_(db, programme)
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        await gates.configure(uow, gate, ACTOR, T0 + HOUR, dry_run=False, on_lapse="remove")
        await gates.configure(uow, gate, ACTOR, T0 + HOUR)
        await uow.commit()
    assert (await gate_of(db, gate_id)).updated_at == T0
    assert [entry[1] for entry in await audit_log(db)] == ["gate.open"]


async def test_configure_refuses_an_unknown_lapse_mode(db, programme):
    gate_id = await open_(db, programme)
    async with db.uow() as uow:
        gate = await gates.by_id(uow, gate_id)
        with pytest.raises(ValueError):
            await gates.configure(uow, gate, ACTOR, T0 + HOUR, on_lapse="ban")
        assert gate.on_lapse == "remove"


# --- listing ---------------------------------------------------------------------------------


async def test_listing_counts_who_is_in_who_lapsed_and_whose_grace_is_over(db, programme):
    gold = await open_(db, programme, chat_id="-1", title="B gold", tier="gold", grace=DAY)
    silver = await open_(db, programme, chat_id="-2", title="A silver", tier="silver",
                         grace=DAY)
    empty = await open_(db, programme, chat_id="-3", title="C empty", tier="silver")
    await a_member(db, programme, T0, "g1", tier="gold")
    await a_member(db, programme, T0, "g2", tier="gold")
    await a_member(db, programme, T0, "s1", tier="silver")
    await a_member(db, programme, T0, "m1", tier="member")
    for user in ("g1", "g2", "s1", "m1"):
        await seat_in(db, programme, gold, user)  # s1 and m1 lapse at T0
    await seat_in(db, programme, gold, "stranger", now=T0 + 2 * DAY)  # lapses later
    for user in ("g1", "s1", "m1"):
        await seat_in(db, programme, silver, user)  # m1 lapses
    async with db.uow() as uow:  # someone who left and someone we removed count nowhere
        gate = await gates.by_id(uow, gold)
        await seats.departed(uow, gate, "g2", T0)
        await seats.put(uow, gate, "gone", None, seats.REMOVED, T0)
        await uow.commit()
    assert await counts(db, T0 + DAY + HOUR) == [
        ("A silver", silver, 2, 1, 1), ("B gold", gold, 1, 3, 2), ("C empty", empty, 0, 0, 0)]
    # At the very moment the grace ends it is over; a second before, it is not.
    assert [c[2:] for c in await counts(db, T0 + DAY)] == [(2, 1, 1), (1, 3, 2), (0, 0, 0)]
    assert [c[4] for c in await counts(db, T0 + DAY - timedelta(seconds=1))] == [0, 0, 0]


async def counts(db, now: datetime) -> list[tuple[str, int, int, int, int]]:
    async with db.uow() as uow:
        return [(s.gate.title, s.gate.id, s.seated, s.lapsed, s.due)
                for s in await gates.listing(uow, now)]
