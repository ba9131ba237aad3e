"""`memberbot member show` prints a birthday as /profile does: with its year when the
member gave one; consent as yes or no; an unknown member by its eight-digit number."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from bot import member_cli
from domain.members import members
from domain.points import ledger
from domain.tiers import tiers


@pytest.mark.parametrize(("year", "shown"), [(1990, "birthday: 1990-05-17"),
                                             (None, "birthday: 05-17")])
async def test_member_show_prints_the_birth_year_when_known(db, programme, now, capsys, year,
                                                            shown):
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", "alice", now)).member
        member.birth_year, member.birth_month, member.birth_day = year, 5, 17
        await uow.flush()
        await member_cli._show(uow, member, now, programme.tiers, programme.zone)
    out = capsys.readouterr().out
    assert shown in out and "birthday: -" not in out


def test_no_birthday_is_a_dash():
    class Nobody:
        birth_year = birth_month = birth_day = None

    assert member_cli.birthday_text(Nobody()) == "-"  # type: ignore[arg-type]


@pytest.mark.parametrize(("consent", "shown"), [(True, "marketing consent: yes"),
                                                (False, "marketing consent: no")])
async def test_member_show_says_consent_in_words(db, programme, now, capsys, consent, shown):
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", "alice", now)).member
        member.marketing_consent, member.consent_at = consent, now  # answered
        await uow.flush()
        await member_cli._show(uow, member, now, programme.tiers, programme.zone)
    out = capsys.readouterr().out
    assert shown in out and "True" not in out and "False" not in out


@pytest.mark.parametrize("typed", ["99", "00000099"])
async def test_an_unknown_member_is_named_by_its_eight_digit_number(db, programme, capsys,
                                                                    typed):
    app = SimpleNamespace(db=db, programme=programme)
    args = argparse.Namespace(number=typed, member_command="show")
    assert await member_cli._act(args, app) == 1  # type: ignore[arg-type]
    assert capsys.readouterr().err.strip() == "no member 00000099"


async def test_member_show_groups_points_and_names_tiers(db, programme, now, capsys):
    """Points with thousands separators, tiers by name ("Member -> Gold"), not codes."""
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", "alice", now)).member
        member.phone = "+8613800138000"
        await ledger.post(uow, ledger.Post(member_id=member.id, delta=2800, kind="adjust",
                                           reason="adjusted", key="test:2800"), now)
        await tiers.set_floor(uow, programme.tiers, member.id, "gold", now)
        await uow.flush()
        await member_cli._show(uow, member, now, programme.tiers, programme.zone)
    out = capsys.readouterr().out
    assert "points: 2,800" in out and "tier: Gold (floor: Gold," in out, out
    assert "tier Member -> Gold" in out and "gold" not in out, out
    assert "phone: +86 138 0013 8000" in out, out


async def test_member_floor_names_the_tiers(db, programme, now, capsys):
    async with db.uow() as uow:
        await members.register(uow, programme, "console", "alice", now)
        await uow.commit()
    app = SimpleNamespace(db=db, programme=programme)
    args = argparse.Namespace(number="1", member_command="floor", tier="silver")
    assert await member_cli._act(args, app) == 0  # type: ignore[arg-type]
    assert "00000001: floor Silver, tier Silver" in capsys.readouterr().out
