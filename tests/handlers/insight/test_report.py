"""/report on|off as an operator types it, refused below an operator; and the weekly
report as its reader gets it, in English and Chinese: what changed most in plain words,
the week's figures as /stats words them, and the main chart."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from bot.notifier import Notifier
from domain.insight import report
from domain.insight.report import Change, Week
from domain.notices.tables import Notice
from domain.staff import roles
from handlers.engine import i18n
from handlers.insight import report as words
from handlers.insight import stats_charts
from handlers.notices.notices import render_notice
from tests.domain.insight.test_kpis import on, story
from tests.domain.insight.test_report import LAST, THIS
from tests.support.lifecycle_helpers import with_
from tests.support.transcript import Clock, owner, second_member

PNG = b"\x89PNG\r\n\x1a\n"
SCHEDULE = "every Monday at 09:00 (Asia/Shanghai, UTC+8)"


@pytest.fixture
def clock() -> Clock:
    return Clock(on(15, 9))  # Sunday 15 March 2026, 09:00 in Shanghai


async def test_on_and_off_as_typed(db, programme, clock):
    olga = await owner(db, programme, clock)
    assert (await olga.say("/report")).startswith("You do not get the weekly report. "
                                                  f"/report on sends it to you {SCHEDULE}.")
    assert (await olga.say("/report on")).startswith(
        f"📈 You will get the weekly report {SCHEDULE}")
    assert await olga.say("/REPORT  ON ") == \
        f"You get the weekly report {SCHEDULE}. /report off stops it."
    assert await olga.say("/report") == \
        f"You get the weekly report {SCHEDULE}. /report off stops it."
    async with db.uow() as uow:
        assert await report.readers(uow) == [1]
    assert await olga.say("/report off") == \
        "You will not get the weekly report any more. /report on starts it again."
    assert (await olga.say("/report off")).startswith("You do not get the weekly report.")
    assert (await olga.say("/report weekly")).startswith("/report on starts the weekly report")
    async with db.uow() as uow:
        assert await report.readers(uow) == []


async def test_in_chinese_with_chinese_words(db, programme, clock):
    zhou = await owner(db, programme, clock, user="zhou", locale="zh_Hans")
    assert (await zhou.say("/report 开")).startswith(
        "📈 每周一 09:00（Asia/Shanghai，UTC+8）将向您发送每周报告")
    assert await zhou.say("/report 关闭") == "您将不再收到每周报告。/report on 可重新开始接收。"


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_only_operators_and_up_may_ask_for_it(db, programme, clock, role):
    await owner(db, programme, clock)
    sam = await second_member(db, programme, clock, role)
    for typed in ("/report on", "/report off", "/report"):
        assert await sam.say(typed) == \
            "Sorry, /report is for the owner, admins and operators."
    async with db.uow() as uow:
        assert not await report.reads(uow, 2)
        await roles.grant(uow, 1, "operator", 2, clock.now)
        await uow.commit()
    assert (await sam.say("/report on")).startswith("📈")


def test_the_report_reads_the_days_the_main_chart_draws():
    assert report.DAILY == stats_charts.MEASURES


async def test_the_report_as_sent_from_the_job_in_both_languages(db, programme, clock):
    """The story's weeks, reported on Sundays: 8-14 March against 1-7 (as /stats 7d on
    day 14 reads them, tests/handlers/insight/test_stats.py)."""
    sundays = with_(programme, insight={"report_weekday": "sun", "report_hour": 9})
    await story(db, programme)
    olga = await owner(db, programme, clock)
    await olga.say("/report on")
    assert await report.run(db, sundays, clock.now) == {"readers": 1, "queued": 1}
    async with db.uow() as uow:
        (notice,) = await uow.session.scalars(select(Notice).where(Notice.key == report.KEY))
        params = notice.params
    shown = await words.render_report(params, "en", sundays)
    assert shown.image is not None and shown.image.startswith(PNG)
    text = shown.text
    assert text.startswith("📈 Weekly report: Mar 8, 2026 – Mar 14, 2026\n"
                           "Compared with Mar 1, 2026 – Mar 7, 2026\n\n"
                           "🔎 What changed most\n"
                           "• Nothing changed much since the week before.\n\n👥 Members\n")
    for line in ("• Purchases: 3 (was 2, +50%)",
                 "• Revenue (after refunds): ¥60.00 (was ¥300.00, -80%)",
                 "• Repeat-purchase rate: 50% (was 0%, +50 pts)",
                 "• Points redeemed: 200 (was 0)",
                 "• Check-ins: 2; members who checked in: 1 (33% of active members)"):
        assert line in text, line
    assert text.endswith("/report off stops these reports.")
    chinese = await words.render_report(params, "zh_Hans", sundays)
    assert chinese.image is not None and chinese.image.startswith(PNG)
    assert chinese.image != shown.image  # its labels are Chinese
    assert chinese.text.startswith("📈 每周报告：2026年3月8日 – 2026年3月14日")
    assert "• 复购率：50%（之前 0%，+50 个百分点）" in chinese.text
    assert "与上周相比没有明显变化" in chinese.text
    # Rendered plainly (a notifier that does not draw it), it still names the week.
    assert render_notice(report.KEY, params, "en", sundays).text == (
        "📈 The weekly report, Mar 8, 2026 – Mar 14, 2026: "
        "/stats 2026-03-08 2026-03-14 shows its figures.")


async def test_what_changed_most_in_plain_words(programme):
    changes = report.biggest(THIS, LAST, {"gold": {"at_risk": 50}}, {"gold": {"at_risk": 20}})
    week = Week("2026-W11", THIS, LAST, {(date(2026, 3, 9) + timedelta(days=n), "sales"):
                                         [100_000 * n, n] for n in range(7)},
                tuple(changes), {"gold": {"at_risk": 50}})
    en = await words.render_report(week.params(), "en", programme)
    assert "🔎 What changed most\n" \
        "• Redemption rate fell from 41% to 28%\n" \
        "• Gold: 30 more members are “At risk (RFM)” (20 → 50)\n" \
        "• New members fell from 30 to 10\n\n" in en.text
    assert "• Revenue (after refunds): ¥10,500.00 (was ¥10,000.00, +5%)" in en.text
    zh = await words.render_report(week.params(), "zh_Hans", programme)
    assert "• 兑换率从 41% 降至 28%\n• 黄金会员：“高危客户（RFM）”多了 30 人（20 → 50）\n" \
        "• 新会员从 30 降至 10" in zh.text
    assert en.image is not None and zh.image is not None


@pytest.mark.parametrize(("change", "en", "zh"), [
    (Change("revenue", Fraction(10_000), Fraction(30_000), 40),
     "• Revenue (after refunds) rose from ¥100.00 to ¥300.00",
     "• 销售额（扣除退款）从 ¥100.00 升至 ¥300.00"),
    (Change("surveys", Fraction(1, 3), Fraction(1, 2), 30),
     "• Survey response (completed) rose from 33% to 50%", None),
    (Change("segment", Fraction(40), Fraction(12), 40, "silver", "champions"),
     "• Silver: 28 fewer members are “Champions” (40 → 12)",
     "• 白银会员：“冠军客户”少了 28 人（40 → 12）"),
    (Change("segment", Fraction(20), Fraction(40), 40, "", "hibernating"),
     "• No tier: 20 more members are “Hibernating” (20 → 40)", None),
])
def test_each_kind_of_change_reads_in_its_own_units(programme, change, en, zh):
    line = words.change_line(change, programme)
    assert i18n.translate(line, "en") == en
    if zh is not None:
        assert i18n.translate(line, "zh_Hans") == zh


async def test_the_notifier_sends_the_report_drawn_with_its_chart(db, programme, clock):
    """The notice is drawn when it goes out, outside the claim's transaction: its reader
    gets the figures and the chart, not the plain line."""
    sundays = with_(programme, insight={"report_weekday": "sun", "report_hour": 9})
    await story(db, programme)
    olga = await owner(db, programme, clock, locale="zh_Hans")
    await olga.say("/report on")
    await report.run(db, sundays, clock.now)
    got = []

    async def push(external_id, message):
        got.append((external_id, message))
        return "sent"

    notifier = Notifier(db, sundays, {"console": push}, clock=clock)
    assert await notifier.run_once() == 1
    (to, message), = got
    assert to == "olga" and message.image is not None and message.image.startswith(PNG)
    assert message.text.startswith("📈 每周报告：2026年3月8日 – 2026年3月14日")
    assert await notifier.run_once() == 0  # sent once
