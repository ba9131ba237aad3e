"""`memberbot import purchases FILE` as an operator runs it: bot.cli.main on a real SQLite
file, with the files tills and Excel write (encodings, separators), and what it says."""

from __future__ import annotations

import asyncio
import codecs
import io
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot import cli, importing
from bot.app import App, lifespan
from bot.settings import Settings
from domain.config import DEFAULT_FILE
from domain.members import members
from domain.members.profile import parse_phone
from domain.members.tables import Member
from domain.points.tables import LedgerEntry, Purchase
from handlers.routers import build_engine

HEADER = "order_id,member,amount,currency\n"


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """cli.main sets up logging for a process; later tests get the root logger back."""
    watched = [logging.getLogger(name)
               for name in ("", "sqlalchemy", "alembic", "aiosqlite", "asyncio")]
    before = [(log, log.level, list(log.handlers)) for log in watched]
    yield
    for log, level, handlers in before:
        log.setLevel(level)
        log.handlers[:] = handlers


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh SQLite file for the command, and no MEMBERBOT_* settings from outside."""
    for name in ("MEMBERBOT_LOG_LEVEL", "MEMBERBOT_PROGRAMME", "MEMBERBOT_OWNER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEMBERBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    return tmp_path


def join(*phones: str | None) -> None:
    """Members 1, 2, ... with these phones, stored as /profile stores what they typed."""
    async def go() -> None:
        async with lifespan(Settings.from_env()) as app, app.db.uow() as uow:
            for i, phone in enumerate(phones):
                joined = await members.register(uow, app.programme, "console", f"m{i}",
                                                 datetime.now(UTC))
                joined.member.phone = phone and parse_phone(
                    phone, app.programme.phone_country_code)
            await uow.commit()
    asyncio.run(go())


def stored() -> dict[str, object]:
    async def go() -> dict[str, object]:
        async with lifespan(Settings.from_env()) as app, app.db.uow() as uow:
            s = uow.session
            return {
                "purchases": {p.order_id: (p.member_id, p.amount, p.currency, p.items)
                              for p in await s.scalars(select(Purchase))},
                "entries": await s.scalar(select(func.count()).select_from(LedgerEntry)),
                "points": await s.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))),
                "balances": await s.scalar(select(func.sum(Member.points_balance))),
            }
    return asyncio.run(go())


def memberbot(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_utf8_with_and_without_a_byte_order_mark_import_once(env, capsys):
    join("+8613800138000")
    plain = write(env / "plain.csv", HEADER + "U-1,00000001,1000,CNY\n")
    marked = write(env / "marked.csv", HEADER + "U-2,1,2000,CNY\n", "utf-8-sig")
    code, out, err = memberbot(capsys, "import", "purchases", str(plain))
    assert code == 0, out + err
    assert out.splitlines()[0] == f"{plain}: 1 row, UTF-8, separated by commas"
    code, out, err = memberbot(capsys, "import", "purchases", str(marked))
    assert code == 0 and "imported 1, skipped 0" in out  # the BOM did not hide order_id
    first = stored()
    assert first["purchases"] == {"U-1": (1, 1000, "CNY", []), "U-2": (1, 2000, "CNY", [])}
    assert first["points"] == first["balances"] and first["entries"] >= 2
    code, out, _ = memberbot(capsys, "import", "purchases", str(marked))
    assert code == 0 and "imported 0, skipped 1 already imported, rejected 0" in out
    assert stored() == first  # nothing written twice


def test_a_gb18030_export_from_chinese_excel_keeps_its_chinese(env, capsys):
    join("+8613800138000")
    text = ("姓名,order_id,member,amount,currency,items,备注\n"
            "张三,G-1,1,5000,CNY,龙井-250克|茶叶|2|5000,老顾客\n"
            "李四,G-2,1,1200,CNY,茶杯|茶具|1|1200,送礼\n")
    path = write(env / "excel.csv", text, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")  # what failed before: byte 0xd0 is not UTF-8
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0, out + err
    assert f"{path}: 2 rows, GB18030, separated by commas" in out
    bought = stored()["purchases"]
    assert bought["G-1"][3] == [{"sku": "龙井-250克", "category": "茶叶", "quantity": 2,
                                 "amount": 5000}]
    assert bought["G-2"][3][0]["sku"] == "茶杯"


def test_a_gbk_line_far_into_a_file_is_read_not_a_crash(env, capsys):
    join("+8613800138000")
    padding = "x" * 200  # so the first GBK byte lies well past any first block read
    rows = "".join(f"F-{i},1,100,CNY,,{padding}\n" for i in range(600))
    text = "order_id,member,amount,currency,items,note\n" + rows + \
        "F-last,1,100,CNY,铁观音|茶叶|1|100,王五\n"
    path = write(env / "far.csv", text, "gbk")
    assert path.stat().st_size > 100_000 and path.read_bytes()[:100_000].isascii()
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0, out + err
    assert "601 rows, GB18030" in out and "imported 601" in out
    assert stored()["purchases"]["F-last"][3][0]["sku"] == "铁观音"


def test_bytes_that_are_no_text_are_named_by_line_and_nothing_is_written(env, capsys):
    join("+8613800138000")
    path = env / "broken.csv"
    path.write_bytes(HEADER.encode() + b"B-1,1,100,CNY\nB-2,1,100,CNY\xff\xfe\n")
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 2 and out == ""
    assert err == (f"{path}: line 3 is neither UTF-8 nor GB18030 text; "
                   "save the file again as CSV UTF-8\n")
    assert stored()["purchases"] == {}


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolons"), ("\t", "tabs"),
                                                  (",", "commas")])
def test_semicolons_tabs_and_commas_are_recognised(env, capsys, separator, name):
    join("13800138000")
    # Excel's headers, as people write them; a cell holding the separator is quoted.
    text = separator.join(["Order ID", "Phone", "Amount", "Currency", "Note"]) + "\n" + \
        separator.join(["S-1", "13800138000", "1500", "CNY", "a, b; c"]) + "\n"
    if separator != "\t":
        text = text.replace("a, b; c", '"a, b; c"')
    path = write(env / "orders.csv", text)
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0, out + err
    assert f"1 row, UTF-8, separated by {name}" in out
    assert stored()["purchases"] == {"S-1": (1, 1500, "CNY", [])}


def test_a_utf16_tab_separated_export_is_read(env, capsys):
    join(None)
    path = write(env / "unicode.txt", "order_id\tmember\tamount\tcurrency\nW-1\t1\t900\tCNY\n",
                 "utf-16")
    assert path.read_bytes().startswith(codecs.BOM_UTF16_LE)
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0 and "UTF-16, separated by tabs" in out
    assert stored()["purchases"] == {"W-1": (1, 900, "CNY", [])}


@pytest.mark.parametrize("content", [b"", codecs.BOM_UTF8, b"\r\n\r\n", b",,,\n,,,\n"])
def test_an_empty_file_is_called_empty(env, capsys, content):
    path = env / "empty.csv"
    path.write_bytes(content)
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert (code, out, err) == (2, "", f"{path}: the file is empty\n")


def test_a_header_without_the_columns_says_which_and_names_the_file_once(env, capsys):
    path = write(env / "wrong.csv", "order;sum\nA;100\n")
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 2 and out == ""
    assert err == (f"{path}: the header lacks order_id, amount, currency, a member column "
                   "(member, phone, or platform and external_id); it has order, sum "
                   "(UTF-8, separated by semicolons)\n")
    assert err.count(str(path)) == 1
    code, _, err = memberbot(capsys, "import", "purchases", str(env / "missing.csv"))
    assert code == 2 and err == f"{env / 'missing.csv'}: No such file or directory\n"


def test_an_excel_workbook_is_refused_with_what_to_do(env, capsys):
    path = env / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    code, _, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 2 and "is an Excel workbook, not a CSV file" in err and "CSV UTF-8" in err


def test_a_phone_finds_its_member_however_either_side_wrote_it(env, capsys):
    # 1: the country code without its plus; 2: typed internationally in /profile;
    # 3: typed locally in /profile; 4 and 5 gave the same number.
    join("8613800138000", "+8613900139000", "13700137000", "+8613600136000", "136 0013 6000")
    path = write(env / "phones.csv", "order_id,phone,amount,currency\n"
                                     "P-1,+86 138 0013 8000,100,CNY\n"
                                     "P-2,139-0013-9000,200,CNY\n"
                                     "P-3,+8613700137000,300,CNY\n"
                                     "P-4,(0086) 137 0013 7000,400,CNY\n"
                                     "P-5,13600136000,500,CNY\n"
                                     "P-6,13500135000,600,CNY\n")
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 1
    assert {k: v[0] for k, v in stored()["purchases"].items()} == {
        "P-1": 1, "P-2": 2, "P-3": 3, "P-4": 3}
    assert ("line 6 (order P-5): 2 members gave phone +8613600136000: name the member by "
            "number instead.") in out
    # The number as it was looked up: with the programme's country code.
    assert "line 7 (order P-6): No member gave phone +8613500135000." in out


def test_the_country_code_of_local_numbers_is_the_programmes(env, capsys, monkeypatch):
    programme = env / "programme.toml"
    programme.write_text(DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "phone_country_code = 86", "phone_country_code = 44"), encoding="utf-8")
    monkeypatch.setenv("MEMBERBOT_PROGRAMME", str(programme))
    join("+447700900123", "+8613800138000")
    path = write(env / "uk.csv", "order_id,phone,amount,currency\n"
                                 "K-1,07700 900123,100,CNY\n"
                                 "K-2,13800138000,100,CNY\n"
                                 "K-3,+86 138 0013 8000,100,CNY\n")
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 1
    assert {k: v[0] for k, v in stored()["purchases"].items()} == {"K-1": 1, "K-3": 2}
    # Read as a UK number, it has too many digits.
    assert ("line 3 (order K-2): Phone must be a phone number, with + and its country code "
            "or, for one in +44, without; got 13800138000.") in out


def test_currency_matches_in_any_case(env, capsys):
    join(None)
    path = write(env / "lower.csv", HEADER + "C-1,1,100,cny\nC-2,1,100, Cny \n")
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0 and "imported 2" in out
    assert {v[2] for v in stored()["purchases"].values()} == {"CNY"}


def test_rejections_are_sentences_with_what_was_expected(env, capsys):
    join("+8613800138000")
    path = write(env / "bad.csv", "order_id,member,phone,amount,currency,items\n"
                                  "R-1,1,,100,USD,\n"
                                  "R-2,1,,12.50,CNY,\n"
                                  "R-3,1,,0,CNY,\n"
                                  "R-4,1,,100,,\n"
                                  "R-5,,phone?,100,CNY,\n"
                                  "R-6,,,100,CNY,\n"
                                  "R-7,1,,100,CNY,TEA|tea|2\n"
                                  "R-8,1,,100,CNY,TEA|tea|1|500\n"
                                  "R-9,42,,100,CNY,\n"
                                  "R 10,1,,100,CNY,\n"
                                  "R-11,1,,100,CNY,\n"
                                  "R-11,1,,999,CNY,\n")
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 1
    assert out.splitlines()[1:] == [
        "line 2 (order R-1): Currency CNY expected, got USD.",
        "line 3 (order R-2): Amount must be a whole number of minor units (fen), got 12.50 "
        "(12.50 yuan is 1250 fen).",
        "line 4 (order R-3): Amount must be from 1 to 1,000,000,000 minor units (fen), got 0.",
        "line 5 (order R-4): The currency cell is empty (CNY expected).",
        "line 6 (order R-5): Phone must be a phone number, with + and its country code or, "
        "for one in +86, without; got phone?.",
        "line 7 (order R-6): No member given: fill in member, phone, or platform and "
        "external_id.",
        "line 8 (order R-7): Items entry 1 must be sku|category|quantity|amount, got "
        "TEA|tea|2.",
        "line 9 (order R-8): Items entry 1 (TEA): amount must be a whole number of minor "
        "units (fen) from 0 to the order's 100, got 500.",
        "line 10 (order R-9): There is no member 42.",
        "line 11 (order R 10): The order_id must be up to 64 letters, digits and _ . : / # - "
        "(starting with a letter or digit), got R 10.",
        "line 13 (order R-11): Order R-11 is already recorded with another member, amount "
        "or items.",
        "imported 1, skipped 0 already imported, rejected 11; 101 points awarded",
        "Correct the rejected lines and import the file again: the orders already imported "
        "are skipped.",
    ]
    assert list(stored()["purchases"]) == ["R-11"]


def test_a_normal_run_logs_nothing_and_log_level_still_asks_for_logs(env, capsys):
    join(None)
    path = write(env / "orders.csv", HEADER + "L-1,1,100,CNY\n")
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0 and "imported 1" in out
    assert err == ""  # not a terminal: no progress bar
    code, _, err = memberbot(capsys, "--log-level", "INFO", "import", "purchases", str(path))
    assert code == 0 and '"msg": "database ready"' in err


def test_import_help_explains_the_columns_itself(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["import", "purchases", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for said in ("order_id", "amount", "minor units", "12.50 yuan is 1250", "currency",
                 "member", "phone_country_code", "platform and external_id",
                 "sku|category|quantity|amount", "GB18030", "semicolons", "tabs",
                 '"LONGJING-250G|tea|2|10000;CUP|teaware|1|2500"', "double quotes",
                 "never cut short"):
        assert said in text
    assert "bot/importing.py" not in text


async def test_phones_match_on_every_backend(db, programme, tmp_path):
    """The domain's side of the lookup, on SQLite and PostgreSQL, in batches of 2: the
    stored form and the file's, both normalised, are matched exactly."""
    now = datetime.now(UTC)
    async with db.uow() as uow:
        for i, phone in enumerate(["8613800138000", "+8613900139000", "013700137000"]):
            joined = await members.register(uow, programme, "console", f"p{i}", now)
            joined.member.phone = parse_phone(phone, programme.phone_country_code)
        await uow.commit()
    path = tmp_path / "orders.csv"
    path.write_text("order_id,phone,amount,currency\nQ-1,13800138000,100,cny\n"
                    "Q-2,13900139000,100,CNY\nQ-3,+86 137 0013 7000,100,CNY\n", encoding="utf-8")
    app = App(Settings(), programme, db, build_engine(db, programme))
    tally = await importing.run(app, path, out=io.StringIO(), err=io.StringIO(), batch=2)
    assert (tally.imported, tally.rejected) == (3, [])
    async with db.uow() as uow:
        owners = dict((await uow.session.execute(
            select(Purchase.order_id, Purchase.member_id))).all())
    assert owners == {"Q-1": 1, "Q-2": 2, "Q-3": 3}


SEMI = "order_id;amount;currency;member;items\n"


def test_a_row_with_more_cells_than_the_header_is_refused_never_cut_short(env, capsys):
    """The trial's file: the items' own ; split the row, and CUP was silently dropped."""
    join(None)
    path = write(env / "semiitems.csv", SEMI +
                 "S1;2000;CNY;00000001;LONGJING-250G|tea|1|2000\n"
                 "S3;3000;CNY;00000001;LONGJING-250G|tea|1|2000;CUP|teaware|1|1000\n")
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 1
    assert ('line 3 (order S3): This row has 6 cells, but the header names 5 columns: a cell '
            "holds a semicolon, the file's separator, without double quotes around it; if the "
            'items are meant, write them in double quotes: '
            '"LONGJING-250G|tea|1|2000;CUP|teaware|1|1000".') in out.splitlines()
    assert "imported 1, skipped 0 already imported, rejected 1" in out
    assert list(stored()["purchases"]) == ["S1"]  # S3 is not half-imported


@pytest.mark.parametrize(("name", "text", "said"), [
    # An amount written with a thousands separator, in a comma file.
    ("commas", HEADER + "A-1,1,1,500,CNY\n", "line 2 (order A-1): This row has 5 cells, but "
     "the header names 4 columns: a cell holds a comma, the file's separator, without double "
     "quotes around it; put that cell in double quotes."),
    # A tab typed into a note that is not the last column.
    ("tabs", "order_id\tnote\tmember\tamount\tcurrency\nT-1\tfor\tmum\t1\t500\tCNY\n",
     "line 2 (order T-1): This row has 6 cells, but the header names 5 columns: a cell holds "
     "a tab, the file's separator, without double quotes around it; put that cell in double "
     "quotes."),
])
def test_commas_and_tabs_inside_a_cell_are_refused_too(env, capsys, name, text, said):
    join(None)
    path = write(env / f"{name}.csv", text)
    code, out, _ = memberbot(capsys, "import", "purchases", str(path))
    assert code == 1 and f"separated by {name}" in out
    assert said in out.splitlines()
    assert stored()["purchases"] == {}


def test_quoted_items_and_trailing_separators_are_read_whole(env, capsys):
    join(None)
    path = write(env / "quoted.csv", SEMI +
                 'Q1;3000;CNY;00000001;"LONGJING-250G|tea|1|2000;CUP|teaware|1|1000"\n'
                 "Q2;1000;CNY;00000001;CUP|teaware|1|1000;;\n")  # empty cells hold nothing
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert code == 0, out + err
    bought = stored()["purchases"]
    assert [i["sku"] for i in bought["Q1"][3]] == ["LONGJING-250G", "CUP"]
    assert [i["sku"] for i in bought["Q2"][3]] == ["CUP"]


def test_a_file_of_only_its_header_says_so_without_a_progress_bar(env, capsys):
    path = write(env / "header.csv", HEADER)
    code, out, err = memberbot(capsys, "import", "purchases", str(path))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{path}: no rows under the header, UTF-8, separated by commas",
        "imported 0, skipped 0 already imported, rejected 0; 0 points awarded"]


def test_numbers_we_write_have_thousands_separators():
    said = importing.reason(importing.Rejection(2, "invalid_amount", {
        "order_id": "A", "max": 1_000_000_000, "got": 1_000_000_001}), "CNY", 86)
    assert said == ("Amount must be from 1 to 1,000,000,000 minor units (fen), got "
                    "1,000,000,001.")
    said = importing.reason(importing.Rejection(2, "item_quantity", {
        "order_id": "A", "entry": 1, "sku": "TEA", "got": "100001"}), "CNY", 86)
    assert said.endswith("from 1 to 100,000, got 100001.")  # the file's text as written
    bar = importing.Progress(12_345, io.StringIO())
    bar.advance(1_000)
    assert bar.line().endswith(" 1,000/12,345 rows")
