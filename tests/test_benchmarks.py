"""The benchmarks are not run by the suite (they measure, they don't assert), but each
must at least import: a restructure once broke one unnoticed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(f"benchmarks.{path.stem}" for path in (ROOT / "benchmarks").glob("*.py")
                 if path.stem != "__init__")


def test_the_benchmarks_are_found():
    assert "benchmarks.loop_lag" in MODULES and "benchmarks.purchases" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_a_benchmark_imports(module):
    assert importlib.import_module(module).__name__ == module


async def test_the_selection_jobs_operator_reaches_the_confirmation(tmp_path):
    """benchmarks.loop_lag scripts an operator through /campaign: a changed step of the
    conversation must break this test, not a 40-minute run at its end."""
    from benchmarks import loop_lag
    from bot import programme as programme_file

    programme = programme_file.load()
    fresh = loop_lag._seeder("sqlite", "selection", 30, programme, tmp_path, "")
    async with fresh() as db:
        await loop_lag.run_job("selection", db, programme, tmp_path)  # raises when lost


@pytest.mark.parametrize("job", ["surveys", "winback", "community"])
async def test_each_seeded_job_finds_its_work(tmp_path, job):
    """A seed that no longer makes its job do anything would time an empty run: each
    of these asserts (in run_job) or is checked here that it did its work."""
    from sqlalchemy import func, select

    from benchmarks import loop_lag
    from bot import programme as programme_file
    from domain.community.tables import Seat
    from domain.feedback.tables import SurveyResponse
    from domain.lifecycle.tables import WinBackEpisode

    programme = programme_file.load()
    fresh = loop_lag._seeder("sqlite", job, 30, programme, tmp_path, "")
    made = {"surveys": (SurveyResponse, None), "winback": (WinBackEpisode, None),
            "community": (Seat, Seat.status == "lapsed")}[job]
    async with fresh() as db:
        await loop_lag.run_job(job, db, programme, tmp_path)
        async with db.uow() as uow:
            stmt = select(func.count()).select_from(made[0])
            done = await uow.scalar(stmt if made[1] is None else stmt.where(made[1]))
    assert done >= 29  # each generated member but the operator


async def test_the_community_sweep_figures_count_every_seat(tmp_path):
    """benchmarks.community times the sweep, then runs it again from the same start for
    its memory peak: both passes must see every seat lapse, then none."""
    from benchmarks import community
    from domain.storage.database import Database

    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'community.db'}")
    try:
        rows = await community.measure(db, 40)
    finally:
        await db.dispose()
    first, second, bare, queued = rows
    assert first[1:3] == ["40", "40"]  # every generated member has a seat
    assert second[1:3] == ["40", "0"]
    assert float(first[4]) > 0 and float(second[4]) > 0  # a peak was measured
    assert bare[0].startswith("bare UPDATE") and queued[1] == "40"


async def test_the_survey_results_benchmark_reads_what_it_seeded(tmp_path):
    """benchmarks.surveys writes answers straight into the tables: they must read back
    as the answers the engine would have stored."""
    from benchmarks import surveys as bench
    from domain.feedback import results, surveys
    from domain.storage.database import Database

    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'surveys.db'}")
    try:
        rows = await bench.measure(db, 50)
        async with db.uow() as uow:
            found = await results.of(uow, await surveys.by_code(uow, "satisfaction"))
    finally:
        await db.dispose()
    assert rows[0][1] == "50"
    overall, liked, problem, comment = found.questions
    assert overall.answered == 50 and sum(overall.counts.values()) == 50
    assert set(overall.counts) == {1, 2, 3, 4, 5}
    assert liked.counts == {"tea": 50, "place": 50}
    assert set(problem.counts) == {"wait"}
    assert comment.texts[0] == "The tea was lovely, thank you"


async def test_the_survey_start_sends_every_delivery_but_the_holdout(tmp_path):
    """benchmarks.surveys starts a survey campaign and sends it: its figures must count
    the deliveries written and every one sent but the holdout's."""
    from benchmarks import survey_sending
    from domain.storage.database import Database

    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'start.db'}")
    try:
        found = await survey_sending.measure_start(db, 200)
    finally:
        await db.dispose()
    assert found["deliveries"] == 201  # the members generated and the operator, member 1
    assert 150 <= found["sent"] < 201  # a tenth held out, give or take
    assert found["traced_mb"] > 0 and found["start_s"] > 0


async def test_the_survey_answers_benchmark_stores_every_answer(tmp_path):
    """The answers part presses buttons through the engine and over the local Bot API
    server; each asserts itself that every answer was stored, so a changed button
    breaks this test."""
    from benchmarks import survey_sending

    found = await survey_sending.measure_answers(tmp_path, 5, 10)
    assert found["answers"] == 10 and found["answers_per_s"] > 0 and found["engine_per_s"] > 0


async def test_the_analytics_benchmark_runs_its_steps_and_its_recount_agrees(tmp_path,
                                                                            monkeypatch):
    """benchmarks.analytics at a tiny scale, every step as the full run takes it: the
    seed keeps the members' caches, the roll-ups agree with the recount before and
    after the tail, and each step was timed with the member answered."""
    from sqlalchemy import func, select

    from benchmarks import analytics
    from bot import programme as programme_file
    from domain.insight import segment_reports
    from domain.members.tables import Member
    from domain.points.tables import LedgerEntry, Purchase
    from domain.storage.database import Database

    monkeypatch.setattr(segment_reports, "LIVE", 100)  # 400 members: read as kept
    programme = programme_file.load()
    shape = analytics.shape_of(programme, 0.0004, campaign_share=0.25)
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}")
    try:
        run = await analytics.measure(db, programme, shape, tmp_path, repeats=1, trace=False,
                                      apart=False, say=lambda line: None)
        async with db.uow() as uow:
            held = dict((await uow.execute(select(LedgerEntry.member_id,
                                                  func.sum(LedgerEntry.delta))
                                           .group_by(LedgerEntry.member_id))).all())
            bought = dict((await uow.execute(select(Purchase.member_id, func.count())
                                             .group_by(Purchase.member_id))).all())
            members = (await uow.execute(select(Member.id, Member.points_balance,
                                                Member.purchase_count))).all()
    finally:
        await db.dispose()
    assert run.seeded["members"] == 400
    assert 8 * 400 < run.seeded["ledger_entries"] < 12 * 400
    assert 2 * 400 < run.seeded["purchases"] < 4 * 400
    assert all(m.points_balance == held.get(m.id, 0) >= 0 for m in members)
    assert all(m.purchase_count == bought.get(m.id, 0) for m in members)
    first, after_tail = run.agreements
    assert first.agrees and after_tail.agrees, (first.line(), after_tail.line())
    assert first.checked["days"] > 600 and first.checked["period figures"] == 26
    assert after_tail.checked["day figures"] > first.checked["day figures"]  # the tail's
    assert sum(run.tail.values()) > 0
    assert [s.name for s in run.steps] == [
        "roll-ups from scratch (job)", "kept figures (job)",
        "standing (job)", "/stats 30d read", "/stats 30d answer (engine, charts)",
        "scores (nightly job)", "RFM + churn risk worked out (job, small programmes)",
        "/segments read", "/segments answer (engine, chart)",
        "roll-ups of the tail (job)"]
    assert run.steps[7].note.startswith("the figures the scoring kept: ")
    assert "the look back: precision" in run.steps[7].note
    assert "and 2 campaigns past their window" in run.steps[1].note
    assert all(s.replies > 0 and s.times for s in run.steps)


async def test_the_analytics_recount_finds_a_tampered_roll_up(tmp_path):
    """The recount compares for real: one day figure, one member's day or one cohort
    cell off by one, or a member's day given to another member, is a disagreement
    naming that day or month."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from benchmarks import analytics
    from bot import programme as programme_file
    from domain.insight import rollups
    from domain.insight.tables import InsightCohort, InsightDay, InsightMemberDay
    from domain.storage.database import Database

    programme = programme_file.load()
    shape = analytics.shape_of(programme, 0.0003, campaign_share=0)
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'tampered.db'}")

    async def change(statement) -> None:
        async with db.uow() as uow:
            await uow.execute(statement)
            await uow.commit()

    try:
        await analytics.seed(db, programme, shape, tmp_path, apart=False)
        await rollups.run(db, programme, analytics.NOW - timedelta(minutes=10))
        assert (await analytics.verify(db, programme, shape, analytics.NOW)).agrees
        async with db.uow() as uow:
            sale = (await uow.execute(select(InsightDay).where(
                InsightDay.measure == "sales").limit(1))).one()
            visit = (await uow.execute(select(InsightMemberDay).where(
                InsightMemberDay.purchases > 0).limit(1))).one()
        d = InsightDay
        one_sale = update(d).where(d.day == sale.day, d.measure == "sales",
                                   d.dimension == sale.dimension)
        await change(one_sale.values(amount=d.amount + 1))
        found = await analytics.verify(db, programme, shape, analytics.NOW)
        assert not found.agrees
        assert any(str(sale.day) in said and "sales" in said for said in found.disagreements)
        await change(one_sale.values(amount=d.amount - 1))

        md = InsightMemberDay
        one_visit = update(md).where(md.day == visit.day, md.member_id == visit.member_id)
        await change(one_visit.values(purchases=md.purchases + 1))
        found = await analytics.verify(db, programme, shape, analytics.NOW)
        assert [said[:22] for said in found.disagreements] == [f"{visit.day} member days"]
        await change(one_visit.values(purchases=md.purchases - 1))

        async with db.uow() as uow:
            cell = (await uow.execute(select(InsightCohort).limit(1))).one()
        one_cell = update(InsightCohort).where(InsightCohort.cohort == cell.cohort,
                                               InsightCohort.month == cell.month)
        await change(one_cell.values(members=InsightCohort.members + 1))
        found = await analytics.verify(db, programme, shape, analytics.NOW)
        assert [said[:25] for said in found.disagreements] == [
            f"cohort {cell.cohort:%Y-%m} in {cell.month:%Y-%m}"]
        await change(one_cell.values(members=InsightCohort.members - 1))

        there = set(await _scalars(db, select(md.member_id).where(md.day == visit.day)))
        stranger = max(m for m in range(2, 300) if m not in there)
        await change(one_visit.values(member_id=stranger))
        found = await analytics.verify(db, programme, shape, analytics.NOW)
        assert not found.agrees and all(str(visit.day) in said for said in found.disagreements)
    finally:
        await db.dispose()


async def _scalars(db, statement) -> list:
    async with db.uow() as uow:
        return list((await uow.execute(statement)).scalars())


async def test_the_scale_benchmark_spreads_purchases_and_checks_the_books():
    """benchmarks.scale runs real `memberbot run` workers on PostgreSQL: at a tiny scale
    every purchase must be answered 201, the two-worker round must reach both workers in
    turn, and its own check of the books must find nothing wrong."""
    from benchmarks import scale
    from tests.conftest import PG_URL, require

    require("postgresql")
    assert PG_URL
    args = scale.parse_args(["--members", "40", "--ops", "60", "--repeats", "1",
                             "--concurrency", "4", "--pg-url", PG_URL])
    rounds, problems = await scale.measure(args)
    assert problems == []
    assert [r.workers for r in rounds] == [1, 2]
    one, two = rounds
    assert one.outcome.errors == 0 and one.outcome.served == [60]
    assert two.outcome.errors == 0 and two.outcome.served == [30, 30]
    assert all(cpu > 0 for r in rounds for cpu in r.worker_cpu)
