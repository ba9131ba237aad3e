"""/stats as an operator reads it: figures against the period before, worked out by
hand, with charts even for a programme of one member; the CSV export, audited; periods
typed wrong answered in our words; everyone below an operator refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from domain.staff import roles
from domain.staff.tables import AuditEntry
from tests.domain.insight.test_kpis import on, story
from tests.support.survey_given import said
from tests.support.transcript import Clock, owner, second_member

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> Clock:
    return Clock(on(14, 23) + timedelta(minutes=45))


async def test_a_new_programme_gets_its_figures_and_every_chart(db, programme, clock):
    olga = await owner(db, programme, clock)
    out = await said(olga, "/stats")
    assert len(out) == 4 and all(m.image is not None and m.image.startswith(PNG) for m in out)
    text = out[0].text
    assert text.startswith("📊 Figures for the last 30 days (Feb 13, 2026 – Mar 14, 2026)\n"
                           "Compared with Jan 14, 2026 – Feb 12, 2026")
    assert "• Members: 1 (was 0)" not in text  # no reading of the period before: no "was"
    assert "• Members: 1\n" in text and "• New members: 1 (was 0)" in text
    assert "• Revenue (after refunds): ¥0.00 (was ¥0.00)" in text
    assert "• Redemption rate: —" in text and "   Member: 1" in text
    assert [m.text for m in out[1:3]] == ["Points issued and redeemed", "Members by tier"]
    assert out[3].text.startswith("Retention by join month")


async def test_the_figures_of_a_week_read_as_worked_out_by_hand(db, programme, clock):
    await story(db, programme)
    olga = await owner(db, programme, clock)  # member 4, joined on day 14
    text = (await said(olga, "/stats 7d"))[0].text
    assert "📊 Figures for the last 7 days (Mar 8, 2026 – Mar 14, 2026)" in text
    assert "Compared with Mar 1, 2026 – Mar 7, 2026" in text
    for line in (
            "• New members: 2 (was 2, +0%)",
            "• Active (earned or redeemed): 3 (was 2, +50%)",
            "• Purchases: 3 (was 2, +50%)",
            "• Members who bought: 2 (was 2, +0%)",
            "• Revenue (after refunds): ¥60.00 (was ¥300.00, -80%)",
            "• Refunded: ¥40.00 (was ¥0.00)",
            # After refunds, as revenue: (100.00 - 40.00) / 3 orders, against 300.00 / 2.
            "• Average order: ¥20.00 (was ¥150.00, -87%)",
            "• Repeat-purchase rate: 50% (was 0%, +50 pts)",
            "• Points redeemed: 200 (was 0)",
            "• Check-ins: 2; members who checked in: 1 (33% of active members)",
            "• Campaign response (bought): no campaign started in this period",
            "• Coupons issued: 1 (was 0)",
            "• Coupons used: 0 (was 0)",
            "• Points taken back by refunds: 80 (was 0)",  # 40% of the base and first-order points
            "• Points held by members: 330 (was 500, -34%)",  # 500 + 110 - 200 - 80
            "   Purchases: 100 (was 500, -80%)\n   Check-ins: 10 (was 0)"):
        assert line in text, line
    # Held points are worth 0.01 yuan each (the example's point_value).
    assert "• Their value (liability): ¥" in text


async def test_in_chinese(db, programme, clock):
    await story(db, programme)
    zhou = await owner(db, programme, clock, user="zhou", locale="zh_Hans")
    out = await said(zhou, "/stats 7d")
    assert "📊 数据：最近 7 天" in out[0].text
    assert "• 复购率：50%（之前 0%，+50 个百分点）" in out[0].text
    assert [m.text for m in out[1:3]] == ["积分发放与兑换", "各等级会员人数"]


async def test_export_is_a_csv_of_both_periods_and_is_audited(db, programme, clock):
    await story(db, programme)
    olga = await owner(db, programme, clock)
    (sent,) = await said(olga, "/stats export 7d")
    name, data = sent.file
    assert name == "stats-2026-03-08-2026-03-14.csv" and data.startswith("\ufeff".encode())
    rows = {r[0]: r for r in csv.reader(io.StringIO(data.decode("utf-8-sig")))}
    assert rows["figure"][3:] == ["2026-03-08..2026-03-14", "2026-03-01..2026-03-07"]
    assert rows["sales.revenue"][2:] == ["CNY/100", "6000", "30000"]
    assert rows["sales.repeat_rate"][3:] == ["0.5000", "0.0000"]
    assert rows["points.issued.checkin"][3:] == ["10", "0"]
    assert rows["members.new"][1] == "New members"
    async with db.uow() as uow:
        logged = (await uow.session.execute(select(AuditEntry.actor, AuditEntry.target).where(
            AuditEntry.action == "stats.export"))).all()
    assert [tuple(e) for e in logged] == [("member:00000004", "2026-03-08..2026-03-14")]


@pytest.mark.parametrize(("typed", "answer"), [
    ("/stats 2026-03-10 2026-03-01", "The first date comes after the second."),
    ("/stats 2027-01-01 2027-02-01", "That period has not started yet"),
    ("/stats 2020-01-01 2026-03-01", "A period can span at most 1,098 days"),
    ("/stats yesterday", "Which period?"),
    ("/stats 2026-02-30 2026-03-01", "There is no such day as 2026-02-30."),
    ("/stats 2026-03-01 please", "Which period?"),
    ("/stats export 2026-03-01 2026-03-02 2026-03-03", "Which period?"),
])
async def test_periods_typed_wrong_are_answered_in_our_words(db, programme, clock, typed,
                                                             answer):
    olga = await owner(db, programme, clock)
    (out,) = await said(olga, typed)
    assert out.text.startswith(answer) and out.image is None and out.file is None


async def test_dates_from_a_chinese_keyboard(db, programme, clock):
    olga = await owner(db, programme, clock)
    out = await said(olga, "/stats ２０２６－０３－０１ ２０２６／０３／０５")
    assert "Mar 1, 2026 – Mar 5, 2026" in out[0].text and out[0].image is not None
    out = await said(olga, "/stats 2026年3月1日至2026年3月5日")
    assert "Mar 1, 2026 – Mar 5, 2026" in out[0].text
    out = await said(olga, "/stats 2026-03-01~2026-03-05")
    assert "Mar 1, 2026 – Mar 5, 2026" in out[0].text


@pytest.mark.parametrize(("typed", "period"), [
    ("/stats 今天", "today (Mar 14, 2026)"), ("/stats 本月", "this month so far"),
    ("/stats 30天", "the last 30 days"), ("/stats 导出 7天", None),
    ("/stats 2026-03-01", "Figures for Mar 1, 2026\nCompared with Feb 28, 2026\n")])
async def test_chinese_words_and_a_single_day(db, programme, clock, typed, period):
    olga = await owner(db, programme, clock)
    out = await said(olga, typed)
    if period is None:  # the export
        assert out[0].file is not None and out[0].file[0] == "stats-2026-03-08-2026-03-14.csv"
    else:
        assert period in out[0].text and out[0].image is not None


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_only_operators_and_up_read_or_export(db, programme, clock, role):
    olga = await owner(db, programme, clock)
    sam = await second_member(db, programme, clock, role)
    for typed in ("/stats", "/stats export", "/stats 7d"):
        (out,) = await said(sam, typed)
        assert out.text == "Sorry, /stats is for the owner, admins and operators." \
            and out.image is None and out.file is None
    async with db.uow() as uow:
        assert not (await uow.session.execute(select(AuditEntry.id).where(
            AuditEntry.action == "stats.export"))).all()
    async with db.uow() as uow:
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    assert (await said(sam, "/stats"))[0].image is not None
    assert olga is not None


def test_clock_is_shanghai_evening():
    assert on(14, 23) == datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
