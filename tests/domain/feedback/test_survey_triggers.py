"""Surveys the scheduler sends by itself: a day after a purchase or a redemption, when
a member lapses, and NPS every 90 days to buyers; once per member (per period), never
in their quiet hours, never to whoever turned surveys off, never after a survey
closed; a second run sends nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from domain.feedback import surveys, triggers
from domain.feedback.tables import SurveyResponse
from domain.members.tables import Member
from domain.notices.tables import Notice
from domain.rewards.tables import Coupon, Redemption
from tests.support.lifecycle_helpers import a_member

# 03:00 UTC is 11:00 in Shanghai (the programme's zone): daytime.
NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


async def prepared(db, programme) -> None:
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, NOW)
        await uow.commit()


async def bought(db, programme, user: str, ago: timedelta, **fields) -> int:
    return await a_member(db, programme, NOW - timedelta(days=400), user,
                          last_purchase_at=NOW - ago, purchase_count=1, **fields)


async def invited(db) -> dict[int, list[str]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(SurveyResponse.member_id, SurveyResponse.via, SurveyResponse.occasion)
            .order_by(SurveyResponse.member_id, SurveyResponse.id))
        notices = list(await uow.session.scalars(select(Notice.member_id).where(
            Notice.key == "survey.invite").order_by(Notice.member_id)))
    found: dict[int, list[str]] = {}
    for member_id, via, occasion in rows:
        found.setdefault(member_id, []).append(f"{via}:{occasion}")
    assert sorted(found) == sorted(set(notices))  # one invitation per response made
    assert len(notices) == sum(map(len, found.values()))
    return found


async def test_a_day_after_a_purchase_once_and_in_the_members_daytime(db, programme):
    await prepared(db, programme)
    nps_off = programme.model_copy(update={"surveys": (
        programme.surveys[0].model_copy(update={"trigger": None}), programme.surveys[1])})
    due = await bought(db, programme, "due", timedelta(hours=25))
    too_soon = await bought(db, programme, "soon", timedelta(hours=3))
    too_late = await bought(db, programme, "late", timedelta(days=4))
    asleep = await bought(db, programme, "asleep", timedelta(hours=30),
                          timezone="America/New_York")  # 22:00 there
    opted = await bought(db, programme, "opted", timedelta(hours=26))
    async with db.uow() as uow:
        await surveys.opt_out(uow, opted, NOW)
        await uow.commit()
    sent = await triggers.run(db, nps_off, NOW)
    assert sent == {"satisfaction:purchase": 1, "satisfaction:redemption": 0}
    assert await invited(db) == {due: ["purchase:"]}
    # Again, and later in the day: the New Yorker's morning comes, nobody twice.
    assert await triggers.run(db, nps_off, NOW) == {"satisfaction:purchase": 0,
                                                    "satisfaction:redemption": 0}
    later = NOW + timedelta(hours=12)  # 11:00 in New York, 23:00 in Shanghai
    await triggers.run(db, nps_off, later)
    assert await invited(db) == {due: ["purchase:"], asleep: ["purchase:"]}
    # A later purchase brings no second satisfaction survey: one response per member.
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == due).values(
            last_purchase_at=NOW))
        await uow.commit()
    await triggers.run(db, nps_off, NOW + timedelta(days=1, hours=1))
    found = await invited(db)
    assert found[due] == ["purchase:"]
    # The purchase three hours before the first run is due by now; the one four days
    # before it was past catching up with already.
    assert found[too_soon] == ["purchase:"] and too_late not in found


async def test_periodic_nps_goes_to_buyers_at_most_every_ninety_days(db, programme):
    await prepared(db, programme)
    only_nps = programme.model_copy(update={"surveys": (
        programme.surveys[0], programme.surveys[1].model_copy(update={"trigger": None}))})
    buyer = await bought(db, programme, "buyer", timedelta(days=200))
    await a_member(db, programme, NOW, "browser")  # never bought: never asked
    assert await triggers.run(db, only_nps, NOW) == {"nps:every": 1}
    assert await invited(db) == {buyer: ["periodic:every:2026-03-10"]}
    assert await triggers.run(db, only_nps, NOW + timedelta(days=89)) == {"nps:every": 0}
    assert await triggers.run(db, only_nps, NOW + timedelta(days=91)) == {"nps:every": 1}
    assert await invited(db) == {buyer: ["periodic:every:2026-03-10",
                                         "periodic:every:2026-06-09"]}


async def test_a_closed_survey_is_sent_by_no_trigger(db, programme):
    await prepared(db, programme)
    await bought(db, programme, "due", timedelta(hours=25))
    async with db.uow() as uow:
        await uow.session.execute(update(surveys.Survey).values(closed=True))
        await uow.commit()
    assert await triggers.run(db, programme, NOW) == {}
    assert await invited(db) == {}


def only(programme, code: str):
    """The programme with `code` the one survey the scheduler sends by itself."""
    return programme.model_copy(update={"surveys": tuple(
        s if s.code == code else s.model_copy(update={"trigger": None})
        for s in programme.surveys)})


async def test_a_day_after_a_redemption_or_a_coupon_used_once(db, programme):
    await prepared(db, programme)
    satisfaction = only(programme, "satisfaction")
    joined = NOW - timedelta(days=400)
    redeemed = await a_member(db, programme, joined, "redeemed")
    used = await a_member(db, programme, joined, "used")
    just_now = await a_member(db, programme, joined, "now")
    async with db.uow() as uow:
        for key, member, ago in (("r1", redeemed, timedelta(hours=25)),
                                 ("r2", just_now, timedelta(hours=2))):
            uow.session.add(Redemption(key=key, member_id=member, reward="free_tea", cost=100,
                                       created_at=NOW - ago))
        uow.session.add(Coupon(code="C1", member_id=used, reward="winback", kind="discount",
                               value=0, status="used", issued_at=NOW - timedelta(days=5),
                               expires_at=NOW + timedelta(days=5),
                               used_at=NOW - timedelta(hours=30)))
        await uow.commit()
    assert await triggers.run(db, satisfaction, NOW) == {"satisfaction:purchase": 0,
                                                         "satisfaction:redemption": 2}
    assert await invited(db) == {redeemed: ["redemption:"], used: ["redemption:"]}
    assert (await triggers.run(db, satisfaction, NOW))["satisfaction:redemption"] == 0
    await triggers.run(db, satisfaction, NOW + timedelta(days=1))
    assert (await invited(db))[just_now] == ["redemption:"]


async def test_a_member_who_lapses_is_asked_why_once(db, programme):
    await prepared(db, programme)
    lapsed = only(programme, "lapsed")
    joined = NOW - timedelta(days=400)
    gone = await a_member(db, programme, joined, "gone", last_active_at=NOW - timedelta(days=60))
    await a_member(db, programme, joined, "here", last_active_at=NOW - timedelta(days=2))
    await a_member(db, programme, joined, "churned", last_active_at=NOW - timedelta(days=300))
    assert await triggers.run(db, lapsed, NOW) == {"lapsed:lapse": 1}
    assert await invited(db) == {gone: ["lapse:"]}
    assert await triggers.run(db, lapsed, NOW + timedelta(days=1)) == {"lapsed:lapse": 0}


async def test_buyers_over_several_windows_of_member_ids_are_each_invited_once(
        db, programme, monkeypatch):
    """Members are judged a window of ids at a time: one at each edge of a window and
    the last member of all are each invited, once."""
    monkeypatch.setattr(triggers, "WINDOW", 2)
    await prepared(db, programme)
    only_nps = programme.model_copy(update={"surveys": (
        programme.surveys[0], programme.surveys[1].model_copy(update={"trigger": None}))})
    buyers = [await bought(db, programme, f"b{n}", timedelta(days=200)) for n in range(5)]
    assert await triggers.run(db, only_nps, NOW) == {"nps:every": 5}
    assert await invited(db) == {b: ["periodic:every:2026-03-10"] for b in buyers}
