"""`memberbot import purchases FILE.csv`: the back office's batch of till orders.

HELP below is what `--help` shows: the columns, encodings and separators. Orders
already recorded are skipped, so an interrupted import is simply run again; bad rows
are listed with the reason in a sentence and the rest go on. A row is never cut short:
one with more cells than the header (an unquoted separator inside a cell) is rejected.

It runs beside the bot and the scheduler, so it works in short transactions: each
batch is sized to what fits the backend's slice (domain.storage.turns), and on SQLite
members' messages take the write lock between two batches.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import phonenumbers
from sqlalchemy.exc import IntegrityError

from bot.app import App, lifespan
from bot.csv_file import SEPARATORS, CsvFile, Record, Unreadable
from bot.settings import Settings
from domain import identifiers
from domain.errors import InvalidInput
from domain.members.profile import parse_phone
from domain.points import imports
from domain.points.earning import Item
from domain.points.imports import Rejection, Row, Tally
from domain.points.purchases import MAX_ITEMS, MAX_QUANTITY, Order
from domain.storage import turns

BATCH = 5000  # rows a batch may hold at most
FIRST = 50  # the first batch's rows, before we know how long one takes
LEAST = 10
RETRIES = 3
REQUIRED = ("order_id", "amount", "currency")
MEMBER = ("member", "phone", "platform", "external_id")
KNOWN = frozenset((*REQUIRED, *MEMBER, "items"))

HELP = """\
Import till orders from a CSV file, in batches. A header row names the columns, in
any order (case, spaces and extra columns do not matter):

  order_id   the till's order id: letters, digits and _ . : / # -. An order already
             imported is skipped, so an interrupted import is simply run again.
  amount     the order's total in minor units, a whole number: for CNY in fen, so
             12.50 yuan is 1250.
  currency   the programme's currency, such as CNY (any case).
  the member, one of:
    member   the member number, such as 00000042
    phone    the phone the member gave, written any usual way; one without a country
             code is in the programme's phone_country_code (with 86, 138 0013 8000
             finds the member who gave +86 138 0013 8000)
    platform and external_id
             an account, such as telegram and its user id
  items      optional: sku|category|quantity|amount entries separated by ;
             such as LONGJING-250G|tea|2|10000;CUP|teaware|1|2500

The file may be UTF-8 (with or without a byte order mark), GB18030/GBK as Chinese
Excel saves it, or UTF-16; its cells separated by commas, semicolons or tabs.
A cell holding the file's separator must be in double quotes, as Excel writes it: in
a file separated by semicolons, items with several entries are written
"LONGJING-250G|tea|2|10000;CUP|teaware|1|2500". A row with more cells than the
header is rejected, never cut short.
Bad rows are listed with the reason and the rest go on. Exit status: 0 when every
row was imported or already there, 1 when some were rejected, 2 when the file cannot
be read.
"""

# Names of the programme currency's units, for sentences about amounts.
_UNITS = {"CNY": ("yuan", "fen"), "HKD": ("dollars", "cents"), "USD": ("dollars", "cents"),
          "EUR": ("euros", "cents"), "GBP": ("pounds", "pence"), "SGD": ("dollars", "cents")}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]{1,2}")


def too_wide(record: Record, columns: tuple[str, ...], separator: str) -> Rejection | None:
    """A row with more cells than the header: a cell holds the separator unquoted, so
    every cell after it moved. Refused whole rather than read with cells lost."""
    if not record.extra:
        return None
    params: dict[str, Any] = {
        "order_id": unicodedata.normalize("NFKC", record.cells.get("order_id") or "").strip(),
        "cells": len(columns) + len(record.extra), "columns": len(columns),
        "separator": SEPARATORS[separator].removesuffix("s")}
    if columns[-1:] == ("items",):  # the items, as they were likely meant: quoted
        params["items"] = separator.join((record.cells.get("items", ""), *record.extra))
    return Rejection(record.line, "extra_cells", params)


def parse(line: int, record: dict[str, str], country_code: int) -> Row | Rejection:
    """A row of the file as an order for the domain, or why it is not one. A phone is
    normalised as /profile stores it (E.164, local numbers in `country_code`)."""
    def cell(name: str) -> str:
        return unicodedata.normalize("NFKC", record.get(name) or "").strip()

    def bad(code: str, **params: Any) -> Rejection:
        return Rejection(line, code, {"order_id": cell("order_id"), **params})

    for column in REQUIRED:
        if not cell(column):
            return bad("missing", column=column)
    amount = _integer(cell("amount"))
    if amount is None:
        return bad("not_whole_amount", got=cell("amount"))
    if cell("member"):
        if not identifiers.valid(identifiers.MEMBER_NUMBER, cell("member")):
            return bad("invalid_member", got=cell("member"))
        member = {"number": cell("member")}
    elif cell("phone"):
        try:
            member = {"phone": parse_phone(cell("phone"), country_code)}
        except InvalidInput:
            return bad("invalid_phone", got=cell("phone"))
    elif cell("platform") and cell("external_id"):
        member = {"platform": cell("platform").lower(), "external_id": cell("external_id")}
    else:
        return bad("no_member")
    entries = [part for part in cell("items").split(";") if part.strip()]
    if len(entries) > MAX_ITEMS:
        return bad("too_many_items", max=MAX_ITEMS, got=len(entries))
    items = []
    for entry, part in enumerate(entries, start=1):
        item = _item(part, amount)
        if isinstance(item, dict):
            return bad(item.pop("code"), entry=entry, **item)
        items.append(item)
    return Row(line, Order(cell("order_id"), amount, cell("currency").upper(), tuple(items),
                           source="import"), member)


def not_a_phone(rejection: Rejection, typed: str) -> Rejection:
    """A phone nobody gave that no line can have either (00000002 read as +86 000 0002):
    refused as not a phone, as 12 is, rather than looked for in vain. Looking up keeps
    the looser rule (domain.members.profile.parse_phone), so a number stored before
    still finds its member."""
    phone = rejection.params.get("phone")
    if rejection.code != "unknown_member" or not isinstance(phone, str):
        return rejection
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        valid = False
    if valid:
        return rejection
    got = unicodedata.normalize("NFKC", typed).strip() or phone
    return Rejection(rejection.line, "invalid_phone",
                     {"order_id": rejection.params.get("order_id", ""), "got": got})


def _integer(text: str) -> int | None:
    return int(text) if _INTEGER.fullmatch(text) and len(text) <= 19 else None


def _item(part: str, order_amount: int) -> Item | dict[str, Any]:
    fields = [f.strip() for f in part.split("|")]
    if len(fields) != 4:
        return {"code": "item_format", "got": part.strip()}
    sku, category, quantity, amount = fields[0], fields[1], _integer(fields[2]), \
        _integer(fields[3])
    for name, text in (("sku", sku), ("category", category)):
        if not identifiers.valid(identifiers.ITEM_TEXT, text):
            return {"code": "item_text", "field": name, "got": text}
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        return {"code": "item_quantity", "sku": sku, "got": fields[2]}
    if amount is None or not 0 <= amount <= order_amount:
        return {"code": "item_amount", "sku": sku, "got": fields[3], "max": order_amount}
    return Item(sku, category, quantity, amount)


_SAID = {
    "invalid_amount": "amount must be from 1 to {max} {units}, got {got}",
    "wrong_currency": "currency {expected} expected, got {got}",
    "invalid_order_id": "the order_id must be up to 64 letters, digits and _ . : / # - "
                        "(starting with a letter or digit), got {got}",
    "invalid_member": "member must be a member number such as 00000042, got {got}",
    "invalid_phone": "phone must be a phone number, with + and its country code or, for "
                     "one in +{country_code}, without; got {got}",
    "no_member": "no member given: fill in member, phone, or platform and external_id",
    "too_many_items": "an order may have at most {max} items, got {got}",
    "item_format": "items entry {entry} must be sku|category|quantity|amount, got {got}",
    "item_text": "items entry {entry}: {field} must be 1 to 64 characters without | or ;, "
                 "got {got}",
    "item_quantity": "items entry {entry} ({sku}): quantity must be a whole number from 1 "
                     f"to {MAX_QUANTITY:,}, got {{got}}",
    "item_amount": "items entry {entry} ({sku}): amount must be a whole number of {units} "
                   "from 0 to the order's {max}, got {got}",
    "invalid_item": "an item's quantity, amount, sku or category is out of range",
    "shared_phone": "{members} members gave phone {phone}: name the member by number instead",
    "order_conflict": "order {order_id} is already recorded with another member, amount or "
                      "items",
}


def reason(rejection: Rejection, currency: str, country_code: int) -> str:
    """A rejection as a sentence that says what was expected and what was found: with
    a capital letter and a full stop, as the rest of what the import says."""
    said = _reason(rejection, currency, country_code)
    said = said[:1].upper() + said[1:]
    return said if said.endswith(".") else said + "."


def _reason(rejection: Rejection, currency: str, country_code: int) -> str:
    p = {k: _shown(v) for k, v in rejection.params.items()}
    unit = _UNITS.get(currency, ("", ""))[1]
    p["units"] = f"minor units ({unit})" if unit else "minor units"
    p["country_code"] = str(country_code)
    if p.get("got") == "":
        p["got"] = "nothing"
    code = rejection.code
    if code == "missing":
        expected = f" ({currency} expected)" if p["column"] == "currency" else ""
        return f"the {p['column']} cell is empty{expected}"
    if code == "not_whole_amount":
        return (f"amount must be a whole number of {p['units']}, got {p['got']}"
                + _hint(p["got"], currency))
    if code == "unknown_member":
        return _unknown(rejection.params)
    if code == "extra_cells":
        return _too_wide(p, _shown(rejection.params["items"], 80)
                         if "items" in rejection.params else None)
    return _SAID[code].format(**p) if code in _SAID else code.replace("_", " ")


def _shown(value: Any, limit: int = 40) -> str:
    """A value as it can be read in a terminal line: a number we worked out with
    thousands separators, text from the file as written (cut short if long)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    text = str(value)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text if text.isprintable() else repr(text)


def _hint(got: str, currency: str) -> str:
    names = _UNITS.get(currency)
    if not names or not _DECIMAL.fullmatch(got):
        return ""
    whole, _, part = got.partition(".")
    return f" ({got} {names[0]} is {int(whole) * 100 + int(part.ljust(2, '0'))} {names[1]})"


def _too_wide(p: dict[str, str], items: str | None) -> str:
    said = (f"this row has {p['cells']} cells, but the header names {p['columns']} columns: a cell "
            f"holds a {p['separator']}, the file's separator, without double quotes around it")
    if items is not None:
        return said + f'; if the items are meant, write them in double quotes: "{items}"'
    return said + "; put that cell in double quotes"


def _unknown(member: dict[str, Any]) -> str:
    if "number" in member:
        return f"there is no member {member['number']}"
    if "phone" in member:  # as it was looked up: normalised, the country code shown
        return f"no member gave phone {member['phone']}"
    return f"no member has the {member['platform']} account {member['external_id']}"


async def _batch(app: App, rows: list[Row], now: datetime) -> tuple[Tally, float]:
    """The batch's tally, and how long its transaction ran (not counting the wait for
    the write lock)."""
    for attempt in range(1, RETRIES + 1):
        try:
            async with app.db.uow() as uow:
                began = time.perf_counter()
                done = await imports.import_batch(uow, app.programme, rows, now)
                await uow.commit()
                return done, time.perf_counter() - began
        except IntegrityError:  # a till recorded one of these orders meanwhile: again
            if attempt == RETRIES:
                raise
    raise AssertionError("unreachable")


def checked(source: CsvFile) -> CsvFile:
    """The file, if its header names the columns an order needs."""
    columns = source.columns
    missing = [c for c in REQUIRED if c not in columns]
    has_member = "member" in columns or "phone" in columns or (
        "platform" in columns and "external_id" in columns)
    if not has_member:
        missing.append("a member column (member, phone, or platform and external_id)")
    if missing:
        found = ", ".join(c for c in source.header if c) or "nothing"  # as written
        raise Unreadable(f"the header lacks {', '.join(missing)}; it has {found} "
                         f"({source.described})")
    twice = sorted({c for c in columns if c in KNOWN and columns.count(c) > 1})
    if twice:
        raise Unreadable(f"the header names {', '.join(twice)} more than once")
    return source


class Progress:
    """A one-line bar on stderr, redrawn in place, on a terminal only: a log file or a
    pipe gets nothing (the counts follow on stdout)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done = total, out, 0
        self.live = out.isatty() and total > 0

    def advance(self, count: int) -> None:
        self.done += count
        if self.live:
            self.out.write("\r" + self.line())
            self.out.flush()

    def line(self) -> str:
        filled = self.done * 30 // self.total
        return f"[{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} rows"

    def close(self) -> None:
        if self.live:  # a file of only its header has no rows to show progress through
            self.out.write("\r" + self.line() + "\n")


async def run(app: App, path: Path, out: TextIO | None = None, err: TextIO | None = None,
              batch: int = BATCH) -> Tally:
    out, err = out or sys.stdout, err or sys.stderr
    async with CsvFile(path, KNOWN) as source:
        return await _run(app, checked(source), out, err, batch)


async def _run(app: App, source: CsvFile, out: TextIO, err: TextIO, batch: int) -> Tally:
    counted = ("1 row" if source.total == 1 else f"{source.total:,} rows" if source.total
               else "no rows under the header")
    print(f"{source.path}: {counted}, {source.described}", file=out)
    tally, progress = Tally(), Progress(source.total, err)
    now = datetime.now(UTC)  # one import, one moment: tiers are renewed once, not per batch
    size = min(FIRST, batch)
    country, columns, separator = (app.programme.phone_country_code, source.columns,
                                   source.separator)
    while records := await source.take(size):
        parsed = [too_wide(r, columns, separator) or parse(r.line, r.cells, country)
                  for r in records]
        tally.rejected.extend(p for p in parsed if isinstance(p, Rejection))
        rows = [p for p in parsed if isinstance(p, Row)]
        if not rows:
            progress.advance(len(parsed))
            continue
        done, took = await _batch(app, rows, now)
        size = turns.resized(len(parsed), took, app.db.dialect, min(LEAST, batch), batch)
        tally.imported += done.imported
        tally.skipped += done.skipped
        tally.points += done.points
        typed = {r.line: r.cells.get("phone") or "" for r in records}
        tally.rejected.extend(not_a_phone(r, typed.get(r.line, "")) for r in done.rejected)
        progress.advance(len(parsed))
    progress.close()
    for bad in sorted(tally.rejected, key=lambda r: r.line):
        order = bad.params.get("order_id") or ""
        where = f"line {bad.line}" + (f" (order {_shown(order)})" if order else "")
        sentence = reason(bad, app.programme.currency, app.programme.phone_country_code)
        print(f"{where}: {sentence}", file=out)
    print(f"imported {tally.imported:,}, skipped {tally.skipped:,} already imported, "
          f"rejected {len(tally.rejected):,}; {tally.points:,} "
          f"point{'' if tally.points == 1 else 's'} awarded", file=out)
    if tally.rejected:
        print("Correct the rejected lines and import the file again: the orders already "
              "imported are skipped.", file=out)
    return tally


async def command(file: str, settings: Settings) -> int:
    """The file is read and checked before the database is opened, so a wrong file
    changes nothing and says why in one line."""
    source = CsvFile(Path(file), KNOWN)
    try:
        await source.open()
        checked(source)
        async with lifespan(settings) as app:
            tally = await _run(app, source, sys.stdout, sys.stderr, BATCH)
    except Unreadable as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:  # the count read it whole: it changed since
        print(f"{file}: the file changed while it was imported; run the import again "
              "(imported orders are skipped)", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename not in (file, str(source.path)):  # the database's: cli.main says
            raise
        print(f"{file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        await source.close()
    return 1 if tally.rejected else 0
