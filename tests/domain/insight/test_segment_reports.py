"""The figures of /segments the nightly scoring keeps: equal to the ones worked out at
that moment, the newest shown, old runs pruned, and a large programme reading them
instead of every member."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from domain.insight import churn, scores, segment_reports
from domain.insight.tables import (
    InsightLookBack,
    InsightSegmentAtRisk,
    InsightSegmentFigure,
    InsightSegmentReport,
)
from domain.points.tables import Purchase
from tests.domain.insight.test_scores import NOW, buyers


async def worked_out(db, programme, at) -> churn.Summary:
    async with db.snapshot() as uow:
        return (await churn.report(uow, programme, at, top=segment_reports.TOP,
                                   savable_only=True)).summary()


async def test_the_kept_figures_are_the_ones_worked_out_then(db, programme):
    await buyers(db)
    await scores.run(db, programme, NOW)
    expected = await worked_out(db, programme, NOW)
    async with db.snapshot() as uow:
        kept = await segment_reports.last(uow)
    assert kept == expected
    assert kept.rfm.members == 10 and kept.risk.top and kept.evaluation is not None
    assert sum(s.members for s in kept.rfm.segments) == 10
    assert kept.rfm.segment("champions").revenue > 0


async def test_the_newest_run_is_read_and_runs_a_month_old_are_pruned(db, programme):
    ids = await buyers(db)
    await scores.run(db, programme, NOW - timedelta(days=40))
    await scores.run(db, programme, NOW - timedelta(days=1))
    expected = await worked_out(db, programme, NOW - timedelta(days=1))
    async with db.uow() as uow:  # a purchase after the last run: the kept ones don't move
        await uow.session.execute(insert(Purchase), [dict(
            order_id="late", member_id=ids[9], amount=50_000, currency="CNY", items=[],
            points=0, entries=[], refunded=0, source="api", created_at=NOW)])
        await uow.commit()
    async with db.snapshot() as uow:
        kept = await segment_reports.last(uow)
    assert kept.rfm.at == NOW - timedelta(days=1)
    assert kept == expected != await worked_out(db, programme, NOW - timedelta(days=1))
    await scores.run(db, programme, NOW)
    await scores.run(db, programme, NOW)  # run twice at one moment: kept once
    async with db.snapshot() as uow:
        assert await segment_reports.last(uow) == await worked_out(db, programme, NOW)
        for table in (InsightSegmentReport, InsightLookBack):
            assert await uow.scalar(select(func.count()).select_from(table)) == 2, table
        assert await uow.scalar(select(func.count()).select_from(InsightSegmentFigure)) == 20
        assert await uow.scalar(select(func.min(InsightSegmentAtRisk.scored_at))) \
            == NOW - timedelta(days=1)


async def test_a_large_programme_reads_the_kept_figures_a_small_one_works_them_out(
        db, programme, monkeypatch):
    await buyers(db)
    await scores.run(db, programme, NOW - timedelta(hours=2))
    async with db.snapshot() as uow:
        small = await segment_reports.shown(uow, programme, NOW)
    assert not small.kept and small.looked_back_at == NOW - timedelta(hours=2)
    live = await worked_out(db, programme, NOW)
    assert small.figures.rfm == live.rfm and small.figures.risk == live.risk
    monkeypatch.setattr(segment_reports, "LIVE", 5)
    async with db.snapshot() as uow:
        large = await segment_reports.shown(uow, programme, NOW)
    assert large.kept and large.figures == await worked_out(db, programme,
                                                            NOW - timedelta(hours=2))
    assert large.figures.risk.top != live.risk.top  # two hours idler since


async def test_a_large_programme_has_nothing_to_show_before_the_first_run(db, programme,
                                                                         monkeypatch):
    await buyers(db)
    monkeypatch.setattr(segment_reports, "LIVE", 5)
    async with db.snapshot() as uow:
        assert await segment_reports.shown(uow, programme, NOW) == segment_reports.Shown(
            None, False, None)
