"""`memberbot import purchases FILE.csv`: skips what is imported, reports bad rows, goes on."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot import cli, importing
from bot.app import App
from bot.settings import Settings
from domain.members import members
from domain.members.tables import Member
from domain.points import purchases, refunds
from domain.points.tables import LedgerEntry, Purchase
from handlers.routers import build_engine


class Terminal(io.StringIO):
    """stderr at a terminal: the progress bar is drawn."""

    def isatty(self) -> bool:
        return True


def plain(programme):
    return programme.model_copy(update={"earning": programme.earning.model_copy(
        update={"promotions": ()})})


CSV = """order_id,member,phone,amount,currency,items
I-1,00000001,,10000,CNY,LONGJING-250G|tea|2|10000
I-2,,+86 138 0013 8000,5000,CNY,
I-3,00000001,,abc,CNY,
I-4,00000099,,100,CNY,
I-5,00000001,,100,USD,
I-6,,,100,CNY,
I-1,00000001,,10000,CNY,LONGJING-250G|tea|2|10000
I-7,00000002,,999999999999,CNY,
I-8,00000001,,2500,CNY,CUP|teaware|x|5
I-2,,+86 138 0013 8000,6000,CNY,
"""


async def setup(db, programme) -> App:
    # Imports are stamped with the real clock: no bonus-points days, so what a row
    # earns does not depend on the day the tests run.
    programme = plain(programme)
    now = datetime.now(UTC)
    async with db.uow() as uow:
        await members.register(uow, programme, "console", "a", now)
        two = (await members.register(uow, programme, "console", "b", now)).member
        two.phone = "+8613800138000"
        await uow.commit()
    return App(Settings(), programme, db, build_engine(db, programme))


async def test_import_reports_bad_rows_and_skips_imported_orders(db, programme, tmp_path):
    app = await setup(db, programme)
    path = tmp_path / "orders.csv"
    path.write_text(CSV, encoding="utf-8")
    out, err = io.StringIO(), Terminal()
    tally = await importing.run(app, path, out=out, err=err, batch=3)
    report = out.getvalue()
    assert (tally.imported, tally.skipped) == (2, 1)
    for said in [
            "line 4 (order I-3): Amount must be a whole number of minor units (fen), got abc.",
            "line 5 (order I-4): There is no member 00000099.",
            "line 6 (order I-5): Currency CNY expected, got USD.",
            "line 7 (order I-6): No member given: fill in member, phone, or platform and "
            "external_id.",
            "line 9 (order I-7): Amount must be from 1 to 1,000,000,000 minor units (fen), "
            "got 999,999,999,999.",
            "line 10 (order I-8): Items entry 1 (CUP): quantity must be a whole number from 1 "
            "to 100,000, got x.",
            # I-2 again, for another amount
            "line 11 (order I-2): Order I-2 is already recorded with another member, amount "
            "or items."]:
        assert said in report
    assert "imported 2, skipped 1 already imported, rejected 7" in report
    assert "10/10 rows" in err.getvalue()
    again = await importing.run(app, path, out=io.StringIO(), err=io.StringIO())
    assert (again.imported, again.skipped, len(again.rejected)) == (0, 3, 7)
    async with db.uow() as uow:
        one = await uow.session.get(Member, 1)
        # 100 base + 60 for two LONGJING + 100 first purchase; member 2: 50 + 100.
        assert one.points_balance == 260
        assert (await uow.session.get(Member, 2)).points_balance == 150
        total = await uow.session.scalar(select(func.sum(LedgerEntry.delta)))
        assert total == 410
        assert await uow.session.scalar(select(func.count()).select_from(Purchase)) == 2


async def test_imported_orders_refund_like_any_other(db, programme, tmp_path):
    app = await setup(db, programme)
    path = tmp_path / "orders.csv"
    path.write_text("order_id,member,amount,currency\nR-1,1,10000,CNY\n", encoding="utf-8")
    await importing.run(app, path, out=io.StringIO(), err=io.StringIO())
    async with db.uow() as uow:
        done = await refunds.refund(uow, plain(programme), "R-1", None, None,
                                    datetime.now(UTC))
        await uow.commit()
    assert done.points == 200 and done.balance == 0
    async with db.uow() as uow:  # and the API sees the order as recorded
        again = await purchases.record(uow, plain(programme), 1,
                                       purchases.Order("R-1", 10000, "CNY"), datetime.now(UTC))
    assert again.duplicate


def test_the_cli_imports_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEMBERBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    path = tmp_path / "orders.csv"
    path.write_text("order_id,member,amount,currency\nC-1,00000001,100,CNY\n", encoding="utf-8")
    assert cli.main(["import", "purchases", str(path)]) == 1  # nobody is member 1 yet
    assert "line 2 (order C-1): There is no member 00000001." in capsys.readouterr().out
    assert cli.main(["import", "purchases", str(tmp_path / "missing.csv")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("order,amount\n", encoding="utf-8")
    assert cli.main(["import", "purchases", str(bad)]) == 2
    assert "the header lacks order_id, currency, a member column" in capsys.readouterr().err
