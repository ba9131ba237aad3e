"""/survey export CODE: every response as a CSV document, `survey-CODE.csv`.

One row per response (domain.feedback.export: the member number, never a phone or a
name); a choice question's codes, and beside them their words in the programme's
default language. UTF-8 with a byte order mark, so Excel opens Chinese answers as Chinese. Free
text comes from members, so a cell that a spreadsheet would take for a formula
(= + - @, a tab or a carriage return first) is written with a quote before it; so is
a choice's words, which an operator wrote.

Read in the long read (Ctx.read): before the message's batch, page by page from a
snapshot. Each page is written to the CSV and encoded as it arrives (a few hundred
rows, well under a millisecond), never the whole file at once: encoding ten
megabytes in one call would hold the loop (and a thread would hold the GIL) for
longer than a member may wait.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, tzinfo

from domain.feedback import export, surveys
from domain.feedback.tables import Survey
from domain.storage.database import UnitOfWork
from handlers.campaigns.words import LANGUAGES
from handlers.engine.routing import Ctx, Outcome
from handlers.engine.types import Reply, reply

FORMULA = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def guarded(value: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + value if value.startswith(FORMULA) else value


async def csv_of(uow: UnitOfWork, survey: Survey, language: str,
                 zone: tzinfo = UTC) -> tuple[int, bytes]:
    """How many responses, and the file's bytes, choices worded in `language`, times in
    `zone`. Each
    page is written and encoded as it arrives, so no step handles the whole file but
    the final join (a copy)."""
    definition = surveys.definition(survey)
    chunks = [BOM.encode(), _csv([export.header(definition)])]
    rows = 0
    async for page in export.pages(uow, survey, definition, language,
                                   zone=zone):
        chunks.append(_csv([[guarded(cell) for cell in row] for row in page]))
        rows += len(page)
    return rows, b"".join(chunks)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def show(ctx: Ctx, rest: list[str]) -> Outcome:
    if len(rest) != 1:
        return Outcome([reply("survey.export_usage")])
    survey = await surveys.by_code(ctx.uow, rest[0].lower()) if rest[0].isascii() else None
    if survey is None:
        return Outcome([reply("survey.unknown", code=rest[0][:32])])

    language = ctx.locale  # the reader's: the .label columns are for them to read

    async def read(uow: UnitOfWork) -> tuple[int, bytes]:
        return await csv_of(uow, survey, language, ctx.programme.zone)

    rows, data = await ctx.read(f"survey:export:{survey.code}", read)
    return Outcome([Reply("survey.exported", {"code": survey.code, "n": rows,
                                              "language": LANGUAGES[language],
                                              "zone": str(ctx.programme.zone)},
                          file=(f"survey-{survey.code}.csv", data))])
