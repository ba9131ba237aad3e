"""Survey results over many responses.

    python -m benchmarks.surveys [--responses 100000] [--backends sqlite,postgresql]

For each backend (SQLite in a fresh temporary file; PostgreSQL in a fresh schema, when
reachable) it generates N members (benchmarks.campaigns.generate), sends each the
example programme's satisfaction survey, and answers it for them in the database
(a rating, two ticks, a choice when the rating is low, a comment for one in ten), then
times `domain.feedback.results.of`, what `/survey results` reads, against a bare
`SELECT count(*)` of the answers in the same run. Target (issue 16): under 2 s.

Starting a survey to every member and answers through the engine come with the
campaign-sent surveys.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from sqlalchemy import JSON, Integer, Text, func, insert, literal, select
from sqlalchemy import cast as sql_cast

from benchmarks import campaigns as seeding
from benchmarks.common import (
    add_backend_arguments,
    chosen_backends,
    format_table,
    load_average,
    on_backend,
)
from bot import programme as programme_file
from domain.feedback import results, surveys
from domain.feedback.tables import SurveyAnswer, SurveyResponse
from domain.members.tables import Member
from domain.storage.database import Database

NOW = seeding.NOW
TARGET_S = 2.0


async def seed(db: Database, count: int) -> None:
    programme = programme_file.load()
    await seeding.fresh(db)
    await seeding.generate(db, count)
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, NOW)
        survey = await surveys.by_code(uow, "satisfaction")
        assert survey is not None
        m = Member.__table__
        await uow.session.execute(insert(SurveyResponse.__table__).from_select(
            ["survey_id", "member_id", "occasion", "via", "status", "sent_at", "opened_at",
             "completed_at", "updated_at"],
            select(literal(survey.id), m.c.id, literal(""), literal("bench"),
                   literal("completed"), literal(NOW), literal(NOW), literal(NOW),
                   literal(NOW)).where(m.c.id > 1)))
        r = SurveyResponse.__table__
        # JSON answers written as their text: a score is its digits, a list its brackets.
        rating = sql_cast(r.c.id % 5 + 1, Integer)
        answers = [
            ("overall", rating, r.c.id > 0),
            ("liked", literal('["tea", "place"]'), r.c.id > 0),
            ("problem", literal('"wait"'), r.c.id % 5 < 3),
            ("comment", literal('"The tea was lovely, thank you"'), r.c.id % 10 == 0),
        ]
        for question, value, where in answers:
            text = sql_cast(value, Text)
            stored = sql_cast(text, JSON) if db.dialect == "postgresql" else text
            await uow.session.execute(insert(SurveyAnswer.__table__).from_select(
                ["response_id", "question", "value", "answered_at"],
                select(r.c.id, literal(question), stored, literal(NOW)).where(where)))
        await uow.commit()


async def measure(db: Database, count: int) -> list[list[str]]:
    await seed(db, count)
    async with db.uow() as uow:
        started = time.perf_counter()
        answers = await uow.session.scalar(select(func.count()).select_from(SurveyAnswer))
        bare = time.perf_counter() - started
    async with db.snapshot() as snap:
        survey = await surveys.by_code(snap, "satisfaction")
        assert survey is not None
        started = time.perf_counter()
        found = await results.of(snap, survey)
        took = time.perf_counter() - started
    assert found.funnel.completed == count, found.funnel
    return [["results.of (/survey results)", f"{found.funnel.sent:,}", f"{answers:,}",
             f"{took:.2f}"],
            ["bare count of the answers", "", f"{answers:,}", f"{bare:.2f}"]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--responses", type=int, default=100_000)
    add_backend_arguments(p)
    args = p.parse_args(argv)
    print(load_average())
    ok = True
    for backend in chosen_backends(p, args):
        try:
            rows = asyncio.run(on_backend(backend, args.pg_url,
                                           lambda db: measure(db, args.responses)))
        except OSError as exc:  # PostgreSQL not reachable: said, and the rest goes on
            print(f"\n{backend}: skipped ({exc})")
            continue
        print(f"\n{backend}: survey results over {args.responses:,} responses")
        print(format_table(["read", "responses", "answers", "seconds"], rows, {0}))
        took = float(rows[0][3])
        passed = took < TARGET_S
        ok = ok and passed
        print(f"results in {took:.2f} s (target < {TARGET_S:.0f} s: "
              f"{'ok' if passed else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
