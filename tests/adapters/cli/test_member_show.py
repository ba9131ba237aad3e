"""`memberbot member show` prints a birthday as /profile does: with its year when the
member gave one."""

from __future__ import annotations

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
