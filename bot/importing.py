"""`memberbot import purchases FILE.csv`: the back office's batch of till orders.

Columns (a header row names them, in any order): order_id, amount (integer minor
units), currency, and the member as one of: member (number), phone, or platform with
external_id. An optional items column holds `sku|category|quantity|amount` entries
separated by `;`. Orders already recorded are skipped, so an interrupted import is
simply run again; bad rows are listed with the reason and the rest go on.

It runs beside the bot and the scheduler, so it works in short transactions: each
batch is sized to what fits the backend's slice (domain.storage.turns), and on SQLite
members' messages take the write lock between two batches.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import IntegrityError

from bot.app import App, lifespan
from bot.settings import Settings
from domain.errors import InvalidInput
from domain.members.profile import parse_phone
from domain.points import imports
from domain.points.earning import Item
from domain.points.imports import Row, Tally
from domain.points.purchases import Order
from domain.storage import turns

BATCH = 5000  # rows a batch may hold at most
FIRST = 50  # the first batch's rows, before we know how long one takes
LEAST = 10
RETRIES = 3
REQUIRED = {"order_id", "amount", "currency"}


@dataclass(frozen=True)
class Bad:
    line: int
    reason: str


def parse(line: int, record: dict[str, str]) -> Row | Bad:
    def cell(name: str) -> str:
        return (record.get(name) or "").strip()
    raw_amount = cell("amount")
    if not (raw_amount.isascii() and raw_amount.isdigit() and len(raw_amount) <= 12):
        return Bad(line, "invalid_amount")
    if cell("member"):
        member = {"number": cell("member")}
    elif cell("phone"):
        try:
            member = {"phone": parse_phone(cell("phone"))}
        except InvalidInput:
            return Bad(line, "invalid_phone")
    elif cell("platform") and cell("external_id"):
        member = {"platform": cell("platform"), "external_id": cell("external_id")}
    else:
        return Bad(line, "no_member")
    items = []
    for part in filter(None, cell("items").split(";")):
        fields = part.split("|")
        if len(fields) != 4 or not all(f.strip().isdigit() for f in fields[2:]):
            return Bad(line, "invalid_item")
        items.append(Item(fields[0].strip(), fields[1].strip(), int(fields[2]), int(fields[3])))
    return Row(line, Order(cell("order_id"), int(raw_amount), cell("currency"), tuple(items),
                           source="import"), member)


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


class Source:
    """The file's data rows as (line number, row), read on a worker thread a block at a
    time: the whole file never sits in memory, where every full garbage collection on
    the loop would walk it again. Line 1 is the header."""

    AHEAD = 2000  # rows read per trip to the thread

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total = 0
        self._buffer: list[tuple[int, dict[str, str]]] = []
        self._handle: TextIO | None = None
        self._rows: Iterator[tuple[int, dict[str, str]]] = iter(())

    def _open(self) -> None:
        self._handle = self.path.open(newline="", encoding="utf-8-sig")
        # Counted first, for the progress bar; a bad byte or quote is found now.
        self.total = max(sum(1 for row in csv.reader(self._handle) if row) - 1, 0)
        self._handle.seek(0)
        reader = csv.DictReader(self._handle)
        missing = REQUIRED - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{self.path}: the header lacks {', '.join(sorted(missing))}")
        self._rows = enumerate(reader, start=2)

    async def __aenter__(self) -> Source:
        try:
            await asyncio.to_thread(self._open)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.close()

    async def take(self, count: int) -> list[tuple[int, dict[str, str]]]:
        """Up to `count` more rows; none at the end."""
        if len(self._buffer) < count:
            self._buffer += await asyncio.to_thread(
                list, islice(self._rows, max(count, self.AHEAD)))
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        return out


class Progress:
    """A one-line bar on stderr, redrawn in place; silent when stderr is not a terminal
    except for the final line."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done = max(total, 1), out, 0
        self.live = out.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        if self.live:
            self.out.write("\r" + self.line())
            self.out.flush()

    def line(self) -> str:
        filled = self.done * 30 // self.total
        return f"[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} rows"

    def close(self) -> None:
        self.out.write(("\r" if self.live else "") + self.line() + "\n")


async def run(app: App, path: Path, out: TextIO | None = None, err: TextIO | None = None,
              batch: int = BATCH) -> Tally:
    out, err = out or sys.stdout, err or sys.stderr
    async with Source(path) as source:
        return await _run(app, source, out, err, batch)


async def _run(app: App, source: Source, out: TextIO, err: TextIO, batch: int) -> Tally:
    tally, progress = Tally(), Progress(source.total, err)
    now = datetime.now(UTC)  # one import, one moment: tiers are renewed once, not per batch
    size = min(FIRST, batch)
    while records := await source.take(size):
        parsed = [parse(line, record) for line, record in records]
        tally.rejected.extend((p.line, p.reason) for p in parsed if isinstance(p, Bad))
        rows = [p for p in parsed if isinstance(p, Row)]
        if not rows:
            progress.advance(len(parsed))
            continue
        done, took = await _batch(app, rows, now)
        size = turns.resized(len(parsed), took, app.db.dialect, min(LEAST, batch), batch)
        tally.imported += done.imported
        tally.skipped += done.skipped
        tally.points += done.points
        tally.rejected.extend(done.rejected)
        progress.advance(len(parsed))
    progress.close()
    for line, reason in sorted(tally.rejected):
        print(f"line {line}: rejected ({reason})", file=out)
    print(f"imported {tally.imported}, skipped {tally.skipped} already imported, "
          f"rejected {len(tally.rejected)}; {tally.points} points awarded", file=out)
    return tally


async def command(file: str, settings: Settings) -> int:
    async with lifespan(settings) as app:
        try:
            tally = await run(app, Path(file))
        except OSError as exc:
            print(f"{file}: {exc.strerror}", file=sys.stderr)
            return 2
        except (ValueError, UnicodeDecodeError, csv.Error) as exc:
            print(f"{file}: {exc}", file=sys.stderr)
            return 2
    return 1 if tally.rejected else 0
