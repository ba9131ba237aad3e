"""`memberbot member show` prints a birthday as /profile does: with its year when the
member gave one; consent as yes or no; an unknown member by its eight-digit number."""

from __future__ import annotations

import argparse
from types import SimpleNamespace

import pytest

from bot import member_cli
from domain.members import members


@pytest.mark.parametrize(("year", "shown"), [(1990, "birthday: 1990-05-17"),
                                             (None, "birthday: 05-17")])
async def test_member_show_prints_the_birth_year_when_known(db, programme, now, capsys, year,
                                                            shown):
    async with db.uow() as uow:
        member = (await members.register(uow, programme, "console", "alice", now)).member
        member.birth_year, member.birth_month, member.birth_day = year, 5, 17
        await uow.flush()
        await member_cli._show(uow, member, now)
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
        member.marketing_consent = consent
        await uow.flush()
        await member_cli._show(uow, member, now)
    out = capsys.readouterr().out
    assert shown in out and "True" not in out and "False" not in out


@pytest.mark.parametrize("typed", ["99", "00000099"])
async def test_an_unknown_member_is_named_by_its_eight_digit_number(db, programme, capsys,
                                                                    typed):
    app = SimpleNamespace(db=db, programme=programme)
    args = argparse.Namespace(number=typed, member_command="show")
    assert await member_cli._act(args, app) == 1  # type: ignore[arg-type]
    assert capsys.readouterr().err.strip() == "no member 00000099"
