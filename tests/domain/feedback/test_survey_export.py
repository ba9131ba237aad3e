"""The export's rows: every response once, in pages by id, on both backends; a large
survey is read and written without holding the event loop."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from domain.feedback import export, surveys
from domain.feedback.tables import SurveyAnswer, SurveyResponse
from domain.members.members import member_number
from domain.members.tables import Member
from handlers.feedback.survey_export import csv_of

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


async def seeded(db, programme, many: int) -> None:
    """`many` members who each completed the satisfaction survey, written in bulk."""
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        survey = await surveys.by_code(uow, "satisfaction")
        await uow.session.execute(insert(Member), [
            {"id": n, "referral_code": f"R{n}", "joined_at": T0, "last_active_at": T0,
             "status": "active", "points_balance": 0, "marketing_consent": False,
             "phone_verified": False, "purchase_count": 0} for n in range(1, many + 1)])
        await uow.session.execute(insert(SurveyResponse), [
            {"id": n, "survey_id": survey.id, "member_id": n, "occasion": "", "via": "campaign",
             "status": "completed", "sent_at": T0, "opened_at": T0 + timedelta(minutes=1),
             "completed_at": T0 + timedelta(minutes=2), "updated_at": T0}
            for n in range(1, many + 1)])
        await uow.session.execute(insert(SurveyAnswer), [
            {"response_id": n, "question": question, "value": value, "answered_at": T0}
            for n in range(1, many + 1)
            for question, value in (("overall", n % 5 + 1), ("liked", ["tea", "place"]),
                                    ("comment", f"评论 {n}" if n % 3 else None))])
        await uow.commit()


async def test_pages_cover_every_response_once_in_order(db, programme):
    await seeded(db, programme, 7)
    async with db.snapshot() as snapshot:
        survey = await surveys.by_code(snapshot, "satisfaction")
        definition = surveys.definition(survey)
        pages = [page async for page in export.pages(snapshot, survey, definition, "en",
                                                     page=3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    rows = [row for page in pages for row in page]
    assert [r[0] for r in rows] == [member_number(n) for n in range(1, 8)]
    assert rows[0] == [member_number(1), "completed", "campaign", "2026-03-10T02:00:00Z",
                       "2026-03-10T02:01:00Z", "2026-03-10T02:02:00Z", "2", "tea;place",
                       "The tea; The place", "", "", "评论 1"]
    assert rows[2][-1] == ""  # a skipped comment, not the text "None"
    assert export.header(definition)[6:] == [
        "overall", "liked", "liked.label", "problem", "problem.label", "comment"]


async def test_a_large_export_leaves_the_event_loop_free(db, programme):
    """3,000 responses, a dozen pages: a ticker sleeping 5 ms keeps waking on time."""
    many = 3000
    await seeded(db, programme, many)
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            late.append(time.perf_counter() - before - 0.005)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    async with db.snapshot() as snapshot:
        survey = await surveys.by_code(snapshot, "satisfaction")
        rows, data = await csv_of(snapshot, survey, "zh_Hans")
    done.set()
    await ticking
    assert rows == many
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(table) == many + 1 and table[-1][0] == member_number(many)
    assert max(late) < 0.05, max(late)
