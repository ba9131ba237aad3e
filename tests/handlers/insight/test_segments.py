"""/segments as an operator reads it, in both languages, with its chart; the campaign
builder's RFM and churn-risk filters; everyone below an operator refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.insight import churn, scores, segment_reports
from tests.domain.insight.test_scores import NOW, buyers
from tests.support.survey_given import said
from tests.support.transcript import Clock, owner, second_member

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def test_segments_show_every_segment_and_who_is_at_risk(db, programme, clock):
    await buyers(db)
    olga = await owner(db, programme, clock, user="olga")
    rfm_part, risk_part = await said(olga, "/segments")
    assert rfm_part.image is not None and rfm_part.image.startswith(PNG)
    async with db.snapshot() as uow:
        found = await churn.report(uow, programme, NOW, top=10, savable_only=True)
    text = rfm_part.text
    assert text.startswith("🧭 RFM segments of the 10 members who bought")
    champions = found.rfm.segment("champions")
    assert f"• Champions: {champions.members} (" in text
    for name in ("Loyal", "Potential loyalists", "New customers", "Promising", "Need attention",
                 "About to sleep", "At risk (RFM)", "Can't lose them", "Hibernating"):
        assert f"• {name}: " in text, name
    risk = risk_part.text
    assert f"At risk: {found.risk.at_risk} of {found.risk.members} members" in risk
    worst = found.risk.top[0]
    assert f"#{worst.member_id:08d}: {worst.score}, idle {worst.idle_days} days" in risk
    # Those who churned already (100) are not listed: a win-back comes too late.
    assert worst.score < 100 and ": 100, idle" not in risk
    assert "How well it foretold churn: scored as of" in risk
    assert "Use it in a campaign: /campaign, then Churn risk." in risk


async def test_a_large_programme_reads_the_nightly_figures(db, programme, clock, monkeypatch):
    """Working the figures out reads every member (ten seconds at a million): a large
    programme shows the nightly scoring's, saying when, or how to have them before the
    first night; a small one works them out as it asks, with the kept look back."""
    await buyers(db)
    olga = await owner(db, programme, clock, user="olga")
    monkeypatch.setattr(segment_reports, "LIVE", 5)  # 13 members: a large programme
    (pending,) = await said(olga, "/segments")
    assert pending.text == (
        "🧭 RFM segments and churn risk: on a programme this large they are worked out by "
        "the nightly scoring (03:30, or now with /jobs run scores), which has not run yet.")
    assert pending.image is None
    await scores.run(db, programme, NOW - timedelta(hours=2))
    async with db.snapshot() as uow:
        then = (await churn.report(uow, programme, NOW - timedelta(hours=2), top=10,
                                   savable_only=True)).summary()
    rfm_part, risk_part = await said(olga, "/segments")
    assert rfm_part.image is not None and rfm_part.image.startswith(PNG)
    kept = " (worked out by the nightly scores job at 2026-06-01 10:00)"
    assert rfm_part.text.startswith(f"🧭 RFM segments of the 10 members who bought{kept}\n")
    assert risk_part.text.startswith(f"⚠️ Churn risk{kept}\n")
    worst = then.risk.top[0]
    assert f"#{worst.member_id:08d}: {worst.score}, idle {worst.idle_days} days" in \
        risk_part.text
    judged = then.evaluation
    assert (f"How well it foretold churn: scored as of Dec 3, 2025, {judged.flagged} of 10 "
            "members were at risk.") in risk_part.text
    olga.chat.locale = "zh_Hans"
    rfm_part, risk_part = await said(olga, "/segments")
    assert rfm_part.text.startswith("🧭 10 位有消费的会员的 RFM 分群（由每晚评分任务于 "
                                    "2026-06-01 10:00 算出）\n")
    assert risk_part.text.startswith("⚠️ 流失风险（由每晚评分任务于 2026-06-01 10:00 算出）\n")
    olga.chat.locale = "en"
    monkeypatch.setattr(segment_reports, "LIVE", 50_000)  # small: worked out as it asks
    rfm_part, risk_part = await said(olga, "/segments")
    assert rfm_part.text.startswith("🧭 RFM segments of the 10 members who bought\n")
    assert risk_part.text.startswith("⚠️ Churn risk\n")
    assert ("How well it foretold churn (worked out by the scores job at 2026-06-01 "
            f"10:00): scored as of Dec 3, 2025, {judged.flagged} of 10 members were at risk."
            ) in risk_part.text
    olga.chat.locale = "zh_Hans"
    _, risk_part = await said(olga, "/segments")
    assert ("预测效果回看（由评分任务于 2026-06-01 10:00 算出）：以 2025年12月3日 为准打分"
            in risk_part.text)


async def test_segments_in_chinese_and_for_a_programme_nobody_bought_from(db, programme, clock):
    zhou = await owner(db, programme, clock, user="zhou", locale="zh_Hans")
    rfm_part, risk_part = await said(zhou, "/segments")
    assert rfm_part.text.startswith("🧭 0 位有消费的会员的 RFM 分群")
    assert "• 冠军客户：0 人（占购买会员 —，占销售额 —）" in rfm_part.text
    assert rfm_part.image is not None  # a chart even so
    assert "尚未流失者中风险最高（召回仍可能奏效）：\n暂无" in risk_part.text
    assert "预测效果回看：暂无" in risk_part.text


@pytest.mark.parametrize("role", [None, "staff", "moderator"])
async def test_only_operators_and_up(db, programme, clock, role):
    await owner(db, programme, clock)
    sam = await second_member(db, programme, clock, role)
    (out,) = await said(sam, "/segments")
    assert out.text == "Sorry, /segments is for the owner, admins and operators."
    assert out.image is None


async def test_the_campaign_builder_filters_by_rfm_segment_and_churn_risk(db, programme, clock):
    await buyers(db)
    await scores.run(db, programme, NOW)
    olga = await owner(db, programme, clock, user="olga")
    out = await olga.say("/campaign")
    assert "[9] RFM segment  [10] Churn risk" in out and "[12] Next" in out
    out = await olga.say("9")
    assert "[1] Champions" in out and "[10] Hibernating" in out
    await olga.say("1")
    out = await olga.say("11")  # done
    assert "RFM segment (from the nightly scores): Champions" in out
    assert "Scores from 2026-06-01 12:00; the scores job runs nightly at 03:30" in out
    await olga.say("10")
    out = await olga.say("abc")
    assert "A churn risk is a whole number from 1 to 100." in out
    out = await olga.say("５０")  # from a Chinese keyboard
    assert "Churn risk at least 50 (from the nightly scores)" in out
    await olga.say("10")
    out = await olga.say("-")
    assert "Churn risk at least" not in out and "RFM segment (from the nightly" in out
