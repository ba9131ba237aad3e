"""/help lists what the asker may use: members' commands for everyone, then a group
per staff role held (and the roles below it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.telegram.commands import STAFF_COMMANDS
from domain.staff import roles
from domain.staff.roles import PERMISSIONS, ROLES
from handlers.engine.routing import Outcome, Router
from handlers.routers import build_router
from tests.support.transcript import Clock, member

T0 = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
ROUTER = build_router()
STAFF = ["/verify", "/tickets", "/reply", "/close"]
OPERATORS = ["/purchase", "/award", "/stock", "/reward", "/campaign", "/campaigns", "/tag",
             "/jobs", "/gate", "/gates", "/setsupport", "/stats", "/stats", "/segments",
             "/report", "/subscribers"]  # /stats, /stats export
ADMINS = ["/grant", "/revoke", "/audit", "/refund"]
# The staff verbs of /survey, a members' command too (tests/handlers/feedback/
# test_survey_trial_staff.py reads their lines): list, send CODE NUMBER, results, chart,
# export; then send CODE (a segment), new, close.
SURVEY_STAFF, SURVEY_OPERATORS = ["/survey"] * 5, ["/survey"] * 3


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def staffed(db, programme, clock, role: str | None, locale: str = "en"):
    """Member 2 holding `role` (None: a plain member), given by the owner, member 1."""
    boss = member(db, programme, clock, user="boss", locale=locale)
    await boss.say("/start")
    chat = member(db, programme, clock, user="sam", locale=locale)
    await chat.say("/start")
    async with db.uow() as uow:
        await roles.set_owner(uow, programme, "console:boss", clock.now)
        if role is not None:
            await roles.grant(uow, 1, role, 2, clock.now)
        await uow.commit()
    return boss, chat


def commands(text: str) -> list[str]:
    return [line.split(" ", 1)[0] for line in text.splitlines() if line.startswith("/")]


def group(text: str, heading: str) -> list[str]:
    """The commands listed under `heading`, up to the next blank line."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return commands("\n".join(lines[start:end]))


async def test_a_member_sees_only_members_commands(db, programme, clock):
    _, sam = await staffed(db, programme, clock, None)
    out = await sam.say("/help")
    listed = commands(out)
    assert "/points" in listed and listed[-2:] == ["/help", "/cancel"]
    assert not set(listed) & set(STAFF + OPERATORS + ADMINS)
    assert "Staff:" not in out and "Operators:" not in out


async def test_staff_see_their_group_after_the_members_commands(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "staff")
    out = await sam.say("/help")
    assert group(out, "Staff:") == STAFF + SURVEY_STAFF
    assert "/verify — check and use a member's coupon" in out
    assert "Operators:" not in out and "Admins:" not in out
    assert commands(out).index("/cancel") < commands(out).index("/verify")


async def test_operators_see_staff_and_operator_commands(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "operator")
    out = await sam.say("/help")
    assert group(out, "Staff:") == STAFF + SURVEY_STAFF
    assert sorted(group(out, "Operators:")) == sorted(OPERATORS + SURVEY_OPERATORS)
    assert "Admins:" not in out and "/grant" not in out


async def test_the_owner_sees_every_group_lowest_first(db, programme, clock):
    boss, _ = await staffed(db, programme, clock, None)
    out = await boss.say("/help")
    assert out.index("Staff:") < out.index("Operators:") < out.index("Admins:")
    assert group(out, "Admins:") == ADMINS
    assert "/audit — the log of staff actions" in out


async def test_staff_help_in_chinese(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "admin", locale="zh_Hans")
    out = await sam.say("/help")
    assert "店员：" in out and "运营：" in out and "管理员：" in out and "（staff）" not in out
    assert "/purchase — 为会员记录门店消费" in out


async def test_a_moderator_has_no_staff_commands_to_list(db, programme, clock):
    _, sam = await staffed(db, programme, clock, "moderator")
    assert "Staff:" not in await sam.say("/help")


async def test_a_revoked_role_leaves_the_help_at_once(db, programme, clock):
    boss, sam = await staffed(db, programme, clock, "staff")
    assert "/verify" in await sam.say("/help")
    await boss.say("/revoke staff 2")
    assert "/verify" not in await sam.say("/help")


def test_each_declared_role_matches_the_permission_its_command_checks():
    """The help's least role per command and domain.staff.roles.PERMISSIONS agree: the
    roles at or above the declared one are exactly those the permission allows."""
    checked = set()
    for permission, names in STAFF_COMMANDS.items():
        for name in names:
            least = ROUTER.roles[name]
            allowed = {r for r in ROLES if ROLES.index(r) <= ROLES.index(least)}
            assert allowed == PERMISSIONS[permission], name
            checked.add(name)
    assert checked == set(ROUTER.roles)


def test_staff_commands_stay_out_of_the_members_menu():
    assert not set(ROUTER.roles) & set(ROUTER.menu)
    assert {"purchase", "verify", "grant", "audit", "jobs"} <= set(ROUTER.roles)


def test_an_unknown_role_is_refused_when_registered():
    router = Router()
    with pytest.raises(ValueError, match="wizard"):
        router.command("spell", role="wizard")


def test_included_routers_keep_their_roles():
    inner = Router()

    @inner.command("count", role="operator")
    async def count(ctx):
        return Outcome([])

    outer = Router()
    outer.include(inner)
    assert outer.roles == {"count": "operator"} and outer.menu == []
