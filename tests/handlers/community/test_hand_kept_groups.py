"""Member groups staff keep by hand (WeChat's): the programme names them with their
join pictures, /groups hands the picture to members who qualify, and /gates lists
who to take out once they stop qualifying, until staff confirm with /gate CODE done.

People here talk on "wechat", where the engine has no rooms; the owner reads /gates
and confirms there too."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import segno
from sqlalchemy import select, update

from domain.community import gates, seats
from domain.community.tables import Gate, Seat
from domain.members.tables import Identity, Member
from domain.staff import roles
from domain.staff.tables import AuditEntry
from handlers.engine.engine import Engine
from handlers.engine.types import Inbound, Rendered
from tests.handlers.community import engine_for

WECHAT = "wechat"
OWNER, GOLDIE, BRONZE = "oOwner", "oGoldie", "oBronze"


def picture(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text).save(out, kind="png", scale=4)
    return out.getvalue()


CLUB = gates.HandKept("gold-club", "Gold tea club", "gold", None, picture("club"))
SILVER = gates.HandKept("silver-club", "Silver circle", "silver", timedelta(0),
                        picture("silver"))


class Someone:
    def __init__(self, engine: Engine, user: str, locale: str = "en") -> None:
        self.engine, self.user, self.locale = engine, user, locale

    async def answer(self, text: str) -> list[Rendered]:
        answer = await self.engine.handle(Inbound(
            platform=WECHAT, user_id=self.user, chat_id=self.user, text=text,
            locale=self.locale))
        return answer.rendered()

    async def say(self, text: str) -> str:
        return "\n\n".join(r.text for r in await self.answer(text))


async def keep(db, programme, clock, chats) -> None:
    async with db.uow() as uow:
        await gates.keep_by_hand(uow, programme, WECHAT, list(chats), clock.now)
        await uow.commit()


async def member_of(db, user: str) -> int:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Identity.member_id).where(
            Identity.platform == WECHAT, Identity.external_id == user))


async def set_tier(db, programme, clock, user: str, tier: str) -> int:
    """The member's tier changes, and their seats are re-checked, as a tier review does."""
    mid = await member_of(db, user)
    async with db.uow() as uow:
        await uow.session.execute(update(Member).where(Member.id == mid).values(tier=tier))
        await seats.recheck(uow, programme.tiers, [mid], clock.now)
        await uow.commit()
    return mid


async def seat(db, user: str, code: str = "gold-club") -> str | None:
    async with db.uow() as uow:
        return await uow.session.scalar(select(Seat.status).join(Gate).where(
            Gate.chat_id == code, Seat.user_id == user))


@pytest.fixture
def engine(db, programme, clock):
    return engine_for(db, programme, clock, None)  # as on WeChat: no rooms


@pytest.fixture
async def people(db, programme, engine, clock):
    boss = Someone(engine, OWNER)
    await boss.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, f"{WECHAT}:{OWNER}", clock.now)
        await uow.commit()
    goldie, bronze = Someone(engine, GOLDIE), Someone(engine, BRONZE)
    for person in (goldie, bronze):
        await person.say("/start")
    await set_tier(db, programme, clock, GOLDIE, "gold")
    await keep(db, programme, clock, [CLUB, SILVER])
    return boss, goldie, bronze


# ------------------------------------------------------------------ the programme's list

async def test_the_programme_list_opens_updates_and_closes_hand_kept_gates(db, programme,
                                                                         clock):
    await keep(db, programme, clock, [CLUB, SILVER])
    async with db.uow() as uow:
        found = {g.chat_id: g for g in await gates.on_platform(uow, WECHAT)}
        assert {code: (g.kind, g.title, g.min_tier, g.grace_s) for code, g in found.items()} \
            == {"gold-club": ("qr", "Gold tea club", "gold", 3 * 86400),
                "silver-club": ("qr", "Silver circle", "silver", 0)}
        assert await gates.join_image(uow, found["gold-club"]) == CLUB.image
    entries = await audit(db)
    await keep(db, programme, clock, [CLUB, SILVER])  # a restart: nothing changed
    assert await audit(db) == entries
    renamed = gates.HandKept("gold-club", "Gold tea club (new)", "gold", None,
                             picture("club 2"))
    await keep(db, programme, clock, [renamed])  # silver left out of the file
    async with db.uow() as uow:
        (gold,) = await gates.on_platform(uow, WECHAT)
        assert gold.title == "Gold tea club (new)"
        assert await gates.join_image(uow, gold) == renamed.image
    assert [e[1] for e in (await audit(db))[len(entries):]] == ["gate.open", "gate.close"]


async def audit(db) -> list[tuple[str, str, str]]:
    async with db.uow() as uow:
        return [(e.actor, e.action, e.target) for e in await uow.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("gate.%")).order_by(AuditEntry.id))]


# ------------------------------------------------------------------ /groups

async def test_a_qualifying_member_gets_the_picture_and_counts_as_in(db, people):
    _, goldie, _ = people
    out = await goldie.answer("/groups")
    assert [r.text for r in out] == [
        "Member groups:\n✅ Gold tea club — scan the code below to join\n"
        "✅ Silver circle — scan the code below to join",
        "Gold tea club: scan this code to join.", "Silver circle: scan this code to join."]
    assert [r.image for r in out] == [None, CLUB.image, SILVER.image]
    assert await seat(db, GOLDIE) == "in" and await seat(db, GOLDIE, "silver-club") == "in"


async def test_a_member_below_the_tier_sees_what_it_needs_and_no_picture(db, people):
    _, _, bronze = people
    out = await bronze.answer("/groups")
    assert len(out) == 1 and out[0].image is None
    assert "🔒 Gold tea club — Gold:" in out[0].text
    assert "🔒 Silver circle — Silver:" in out[0].text
    assert await seat(db, BRONZE) is None


async def test_in_chinese(db, programme, engine, people):
    goldie = Someone(engine, GOLDIE, "zh_Hans")
    await goldie.say("/language zh_Hans")
    out = await goldie.answer("/groups")
    assert "✅ Gold tea club — 扫描下方二维码入群" in out[0].text
    assert out[1].text == "Gold tea club：扫描此二维码入群。"


# ------------------------------------------------------------------ lapsing, staff take out

async def test_who_stops_qualifying_is_listed_for_staff_once_the_grace_is_over(
        db, programme, clock, people):
    boss, goldie, _ = people
    await goldie.say("/groups")
    mid = await set_tier(db, programme, clock, GOLDIE, "bronze")
    assert await seat(db, GOLDIE) == "lapsed"
    listing = await boss.say("/gates")
    assert "Gold tea club (gold-club): Gold and above, grace 3 days, then taken out by staff" \
        in listing
    assert "/gate gold-club done" not in listing  # its grace is not over
    assert "/gate silver-club done" in listing  # no grace there
    clock.advance(days=3, minutes=1)
    listing = await boss.say("/gates")
    number = f"{mid:08d}"
    assert f"to take out by hand (1): {number}\n  when done: /gate gold-club done NUMBER" \
        in listing
    assert await boss.say(f"/gate gold-club done {number}") == \
        f"Gold tea club:\n• taken out: {number}"
    assert await seat(db, GOLDIE) == "removed"
    assert "/gate gold-club done" not in await boss.say("/gates")
    # Told again: nothing changes, and it says so the same way.
    assert await boss.say(f"/gate gold-club done {number}") == \
        f"Gold tea club:\n• taken out: {number}"


async def test_done_keeps_who_qualifies_again_and_names_who_never_got_the_code(
        db, programme, clock, people):
    boss, goldie, bronze = people
    await goldie.say("/groups")
    gold = await member_of(db, GOLDIE)
    never = await member_of(db, BRONZE)
    out = await boss.say(f"/gate gold-club done {gold:08d} {never}")
    assert out == (f"Gold tea club:\n• they qualify again, so they stay: {gold:08d}\n"
                   f"• never shown this group's code: {never:08d}")
    assert await seat(db, GOLDIE) == "in"


@pytest.mark.parametrize("typed, expected", [
    ("/gate gold-club done", "Name the members you took out, by member number:\n"
                             "/gate gold-club done 00000012 00000034"),
    ("/gate gold-club done 12x", "Name the members you took out"),
    ("/gate gold-club done 1\u202e2", "Name the members you took out"),
    ("/gate nope done 1", "There is no group kept by hand called “nope”."),
])
async def test_done_refuses_what_it_cannot_read(db, people, typed, expected):
    boss, _, _ = people
    assert (await boss.say(typed)).startswith(expected)


async def test_done_is_for_staff_with_the_gates_right(db, people):
    _, goldie, _ = people
    assert "/gate" in await goldie.say("/gate gold-club done 1")
    assert await seat(db, GOLDIE) is None
