"""Reading a CSV file as tills and spreadsheets export it, a block at a time.

Excel and tills write UTF-8 (with or without a byte order mark), GB18030/GBK (Chinese
Excel's "CSV"), or UTF-16 ("Unicode text"); and commas, semicolons (European Excel) or
tabs. The encoding is settled over the whole file by the pass that counts its rows for
the progress bar, so a GBK byte far into the file is found before any row is used; the
separator is the one that splits the header into the most known column names.
Only a block of rows is in memory at a time. A row with more cells than the header
keeps them (`Record.extra`): the caller says what to do, nothing is cut off unseen.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import NamedTuple, TextIO

SAMPLE = 64 * 1024  # bytes read to recognise the file and its separator
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs"}
ENCODINGS = {"utf-8-sig": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}
_WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (a zip) and old .xls
_SPACES = re.compile(r"[\s-]+")


class Record(NamedTuple):
    """A row of the file."""

    line: int  # where the row ends in the file
    cells: dict[str, str]  # by column name
    extra: tuple[str, ...]  # cells past the header's last column, but trailing blank ones


class Unreadable(Exception):
    """The file cannot be read as a table. The message says why, in our words, and
    leaves the path to the caller."""


def column_name(text: str) -> str:
    """`Order ID`, ` order-id ` and `order_id` are the same column."""
    return _SPACES.sub("_", text.strip().lower())


class CsvFile:
    """Open with `async with`; then `columns`, `total` (data rows), `encoding`,
    `separator`, and `take(count)` for the next rows (Records). Rows whose cells are all
    blank are left out, as spreadsheets end with them."""

    AHEAD = 2000  # rows read per trip to the worker thread

    def __init__(self, path: Path, known: frozenset[str]) -> None:
        self.path, self.known = path, known
        self.encoding, self.separator = "utf-8-sig", ","
        self.columns: tuple[str, ...] = ()
        self.header: tuple[str, ...] = ()  # the header's cells as written, for messages
        self.total = 0
        self._handle: TextIO | None = None
        self._rows: Iterator[Record] = iter(())
        self._buffer: list[Record] = []

    async def __aenter__(self) -> CsvFile:
        await self.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Settle the encoding, separator and header, and count the rows: Unreadable
        (or OSError) when the file cannot be read as a table."""
        try:
            await asyncio.to_thread(self._open)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    async def take(self, count: int) -> list[Record]:
        """Up to `count` more rows; none at the end."""
        if len(self._buffer) < count:
            self._buffer += await asyncio.to_thread(
                list, islice(self._rows, max(count, self.AHEAD)))
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        return out

    @property
    def described(self) -> str:
        return f"{ENCODINGS[self.encoding]}, separated by {SEPARATORS[self.separator]}"

    def _open(self) -> None:
        with self.path.open("rb") as raw:
            head = raw.read(SAMPLE)
        if head.startswith(_WORKBOOKS):
            raise Unreadable("this is an Excel workbook, not a CSV file: in Excel, use "
                             "File > Save As > CSV UTF-8, and import that file")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            tries = ["utf-16"]
        elif head.startswith(codecs.BOM_UTF8):
            tries = ["utf-8-sig"]
        else:
            tries = ["utf-8-sig", "gb18030"]
        for encoding in tries:
            try:
                self._count(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            line = _undecodable_line(self.path, tries[-1])
            said = ("is neither " + " nor ".join(ENCODINGS[e] for e in tries)
                    if len(tries) > 1 else f"is not {ENCODINGS[tries[0]]}")
            raise Unreadable(f"line {line} {said} text; save the file again as CSV UTF-8")
        self._handle = self._text()
        rows = self._lines(self._handle)
        next(rows)  # the header, read by the count
        width = len(self.columns)
        self._rows = (Record(line, dict(zip(self.columns, cells, strict=False)),
                             _filled(cells[width:]))
                      for line, cells in rows)

    def _text(self, encoding: str | None = None) -> TextIO:
        return self.path.open(newline="", encoding=encoding or self.encoding, errors="strict")

    def _count(self, encoding: str) -> None:
        """Read the whole file once in `encoding`: its header, separator and rows."""
        with self._text(encoding) as handle:
            self.separator = self._separator(handle.read(SAMPLE))
        with self._text(encoding) as handle:
            rows = self._lines(handle)
            header = next(rows, None)
            if header is None:
                raise Unreadable("the file is empty")
            self.header = tuple(cell.strip() for cell in header[1])
            self.columns = tuple(column_name(cell) for cell in self.header)
            self.total = sum(1 for _ in rows)
        self.encoding = encoding

    def _lines(self, handle: TextIO) -> Iterator[tuple[int, list[str]]]:
        """Each row that is not blank, with the line it ends on; the header first."""
        reader = csv.reader(handle, delimiter=self.separator)
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    yield reader.line_num, cells
        except csv.Error:
            raise Unreadable(f"line {reader.line_num + 1} cannot be read as CSV (a stray "
                             "quote, or a byte that is not text)") from None

    def _separator(self, sample: str) -> str:
        """The separator that splits the header into the most known columns; else the
        one csv.Sniffer sees in the sample; else a comma."""
        header = sample.lstrip("\r\n").splitlines()[0] if sample.strip() else ""
        known = {sep: len(self.known & {column_name(c) for c in header.split(sep)})
                 for sep in SEPARATORS}
        best = max(known, key=lambda sep: known[sep])
        if known[best]:
            return best
        try:
            return csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
        except csv.Error:
            return ","


def _filled(cells: list[str]) -> tuple[str, ...]:
    """The cells up to the last one that is not blank: a trailing separator (some
    exports end every row with one) adds a blank cell, which holds nothing to lose."""
    while cells and not cells[-1].strip():
        cells = cells[:-1]
    return tuple(cells)


def _undecodable_line(path: Path, encoding: str) -> int:
    """The line holding the first byte `encoding` cannot decode, read in blocks."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = 1
    with path.open("rb") as raw:
        while block := raw.read(SAMPLE):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as bad:
                return lines + block.count(b"\n", 0, max(bad.start, 0))
            lines += block.count(b"\n")
    return lines
