"""Segments: every filter picks the members it says, on SQLite and PostgreSQL, and
members without consent or out of reach are never in one."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.campaigns import segments
from domain.campaigns.segments import Segment, SegmentRefused
from domain.lifecycle import lifecycle
from domain.members import tags
from domain.members.tables import Member
from tests.support import crowd
from tests.support.crowd import Person


async def picked(db, programme, segment: Segment, now) -> set[int]:
    async with db.uow() as uow:
        return set(await uow.session.scalars(
            select(Member.id).where(segments.clause(segment, programme, now))))


async def size(db, programme, segment, now) -> int:
    async with db.uow() as uow:
        return await segments.size(uow, segment, programme, now)


async def test_consent_and_reach_are_required_whatever_the_segment(db, programme, now):
    ids = await crowd.add(db, [
        Person(), Person(consent=False), Person(status="unreachable"), Person(status="erased"),
        Person(consent=False, tier="gold"), Person(tier="gold"),
        # No account a campaign can be sent on: a console member, and one with none.
        Person(tier="gold", accounts=(("console", "alice"),)), Person(accounts=())], now)
    assert await picked(db, programme, Segment(), now) == {ids[0], ids[5]}
    assert await picked(db, programme, Segment(tiers=("gold",)), now) == {ids[5]}
    assert await size(db, programme, Segment(), now) == 2


async def test_the_size_per_language_reads_no_choice_as_the_default(db, programme, now):
    await crowd.add(db, [Person(locale="en"), Person(locale="en"), Person(locale=None),
                         Person(locale="zh_Hans"), Person(locale="en", consent=False)], now)
    async with db.uow() as uow:
        assert programme.default_locale == "zh_Hans"
        assert await segments.by_language(uow, Segment(), programme, now) == {
            "en": 2, "zh_Hans": 2}
        assert await segments.by_language(uow, Segment(locales=("en",)), programme, now) == {
            "en": 2}
        assert await segments.by_language(uow, Segment(tags=("nobody",)), programme,
                                          now) == {}


async def test_each_filter(db, programme, now):
    ids = await crowd.add(db, [
        Person(tier="gold", locale="en", points=800, birth_month=3, tags=("vip",)),
        Person(tier=None, locale=None, points=0, birth_month=12,
               accounts=(("wechat", "o-1"),)),
        Person(tier="silver", locale="zh_Hans", points=120, tags=("wholesale", "vip"),
               accounts=(("telegram", "7"), ("wechat", "o-2")), purchases=3,
               first_purchase_days_ago=40, last_purchase_days_ago=10),
        Person(tier="member", locale="en", points=500, purchases=1,
               first_purchase_days_ago=200, last_purchase_days_ago=200, joined_days_ago=5),
    ], now)
    a, b, c, d = ids

    async def check(segment: Segment, expected: set[int]) -> None:
        assert await picked(db, programme, segment, now) == expected, segment

    await check(Segment(tiers=("gold", "silver")), {a, c})
    await check(Segment(tiers=("member",)), {b, d})  # no tier yet reads as the lowest
    await check(Segment(tags=("vip",)), {a, c})
    await check(Segment(tags=("wholesale", "nobody")), {c})
    await check(Segment(locales=("en",)), {a, d})
    await check(Segment(locales=("zh_Hans",)), {b, c})  # no choice: the default language
    await check(Segment(platforms=("wechat",)), {b, c})
    await check(Segment(platforms=("telegram",)), {a, c, d})
    await check(Segment(purchase=("within", 30)), {c})
    await check(Segment(purchase=("over", 30)), {a, b, d})
    await check(Segment(purchase=("never", 0)), {a, b})
    await check(Segment(points_min=120), {a, c, d})
    await check(Segment(points_max=120), {b, c})
    await check(Segment(points_min=100, points_max=600), {c, d})
    await check(Segment(birth_months=(3, 12)), {a, b})
    await check(Segment(stages=("new",)), {d})
    await check(Segment(stages=("active",)), {a, b, c})
    await check(Segment(tiers=("gold", "silver"), tags=("vip",), points_min=500), {a})


def reference(person: Person, member_id: int, segment: Segment, programme, now) -> bool:
    """What the segment means, said in Python, member by member."""
    platforms = {p for p, _ in (person.accounts if person.accounts is not None
                                else (("telegram", ""),))}
    if not person.consent or person.status != "active" or not platforms & {"telegram",
                                                                           "wechat"}:
        return False
    last = (now - timedelta(days=person.last_purchase_days_ago)
            if person.last_purchase_days_ago is not None else None)
    checks = [
        not segment.tiers or (person.tier or "member") in segment.tiers,
        not segment.tags or bool(set(person.tags) & set(segment.tags)),
        not segment.locales or (person.locale or programme.default_locale) in segment.locales,
        not segment.platforms or bool(platforms & set(segment.platforms)),
        segment.points_min is None or person.points >= segment.points_min,
        segment.points_max is None or person.points <= segment.points_max,
        not segment.birth_months or person.birth_month in segment.birth_months,
    ]
    if segment.purchase is not None:
        kind, days = segment.purchase
        since = now - timedelta(days=days)
        checks.append({"within": last is not None and last >= since,
                       "over": last is None or last < since,
                       "never": last is None}[kind])
    if segment.stages:
        row = crowd.row(member_id, person, now)
        activity = type("A", (), {k: row[k] for k in (
            "joined_at", "last_active_at", "first_purchase_at", "last_purchase_at",
            "purchase_count")})
        checks.append(lifecycle.stage_of(activity, programme.lifecycle, now) in segment.stages)
    return all(checks)


def someone(rng: random.Random) -> Person:
    bought = rng.random() < 0.6
    first = rng.randint(20, 900) if bought else None
    return Person(
        tier=rng.choice(["member", "silver", "gold", None]),
        locale=rng.choice(["en", "zh_Hans", None]), consent=rng.random() < 0.8,
        status=rng.choice(["active"] * 6 + ["unreachable"]), points=rng.randint(0, 3000),
        birth_month=rng.choice([None, *range(1, 13)]), joined_days_ago=rng.randint(1, 1000),
        idle_days=rng.randint(0, 400), purchases=rng.randint(1, 20) if bought else 0,
        first_purchase_days_ago=first,
        last_purchase_days_ago=rng.randint(0, first) if bought else None,
        accounts=rng.choice([None, (("wechat", f"o{rng.random()}"),),
                             (("telegram", f"{rng.random()}"), ("wechat", f"o{rng.random()}")),
                             (("console", f"c{rng.random()}"),)]),
        tags=tuple(rng.sample(["vip", "wholesale", "tea", "new-year"], rng.randint(0, 2))))


def any_segment(rng: random.Random) -> Segment:
    def some(values):
        return tuple(rng.sample(values, rng.randint(1, len(values)))) if rng.random() < 0.35 \
            else ()
    low = rng.choice([None, None, rng.randint(0, 1500)])
    return Segment(
        tiers=some(["member", "silver", "gold"]), tags=some(["vip", "wholesale", "tea"]),
        locales=some(["en", "zh_Hans"]), platforms=some(["telegram", "wechat"]),
        stages=some(list(segments.STAGES)),
        purchase=rng.choice([None, None, ("within", rng.randint(1, 400)),
                             ("over", rng.randint(1, 400)), ("never", 0)]),
        points_min=low, points_max=rng.choice([None, None, (low or 0) + rng.randint(0, 2000)]),
        birth_months=some(list(range(1, 13)))[:3])


async def test_random_segments_pick_exactly_what_the_python_reference_says(db, programme, now):
    rng = random.Random(20260310)
    people = [someone(rng) for _ in range(300)]
    ids = await crowd.add(db, people, now)
    for _ in range(40):
        segment = segments.check(any_segment(rng), programme)
        expected = {i for i, p in zip(ids, people, strict=True)
                    if reference(p, i, segment, programme, now)}
        assert await picked(db, programme, segment, now) == expected, segment
        assert await size(db, programme, segment, now) == len(expected)


def test_a_segment_survives_json_and_unknown_values_are_refused(programme):
    segment = Segment(tiers=("gold",), tags=("vip",), purchase=("over", 90), points_min=10,
                      birth_months=(1, 2))
    assert Segment.load(segment.dump()) == segment
    assert Segment().dump() == {} and Segment().empty
    for bad in (Segment(tiers=("platinum",)), Segment(tags=("Not A Tag",)),
                Segment(locales=("fr",)), Segment(platforms=("console",)),
                Segment(platforms=("Tele gram",)), Segment(platforms=("x\n",)),
                Segment(stages=("dormant",)), Segment(purchase=("within", 0)),
                Segment(purchase=("soon", 3)), Segment(points_min=-1),
                Segment(points_min=10, points_max=5), Segment(birth_months=(13,))):
        with pytest.raises(SegmentRefused):
            segments.check(bad, programme)
    with pytest.raises(SegmentRefused):
        Segment.load({"colour": ["red"]})
    assert replace(segment, tags=()).dump().get("tags") is None


async def test_tags_are_normalised_limited_and_removed(db, programme, now):
    [member_id] = await crowd.plain(db, 1, now)
    assert tags.parse(["#VIP", "vip", "Tea-Lover"]) == ("vip", "tea-lover")
    with pytest.raises(tags.TagRefused):
        tags.parse(["no spaces allowed here!"])
    async with db.uow() as uow:
        assert await tags.add(uow, member_id, ["vip", "tea"], now) == ["vip", "tea"]
        assert await tags.add(uow, member_id, ["vip"], now) == []
        assert await tags.remove(uow, member_id, ["tea", "never-had"]) == ["tea"]
        with pytest.raises(tags.TagRefused):
            await tags.add(uow, member_id, [f"t{i}" for i in range(tags.MAX_PER_MEMBER)], now)
        assert await tags.of_member(uow, member_id) == ["vip"]
