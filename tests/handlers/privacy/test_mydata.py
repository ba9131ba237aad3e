"""/mydata: every kind of record the member has, in their language, and nobody else's;
their statement as a spreadsheet whose balance is theirs; once a day; on a platform
without documents, a link that downloads once within a day and needs nothing else."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import web as web_app
from domain.feedback.tables import Survey, SurveyAnswer, SurveyResponse
from domain.members import tags
from domain.members.tables import Member
from domain.points import purchases
from domain.privacy import downloads
from domain.rewards import rewards
from domain.support.tables import SupportConversation, SupportMessage
from handlers.engine.types import Inbound
from handlers.routers import build_engine
from tests.handlers.privacy.test_privacy import NOW
from tests.support.transcript import Clock, member, owner, second_member

PHONE, OTHER_PHONE = "13912345678", "13800001111"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


async def history(db, programme, clock, member_id: int, order: str) -> None:
    """A purchase, a coupon redeemed, a tag, a survey answered and a support message."""
    async with db.uow() as uow:
        await purchases.record(uow, programme, member_id,
                               purchases.Order(order, 50_000, "CNY"), clock.now)
        await rewards.redeem(uow, programme, member_id, "ten_off", f"redeem-{order}", clock.now)
        await tags.add(uow, member_id, [f"tag-{order}"], clock.now)
        survey = (await uow.session.execute(Survey.__table__.select().limit(1))).first()
        response = SurveyResponse(survey_id=survey.id, member_id=member_id, via="staff",
                                  status="completed", sent_at=clock.now,
                                  completed_at=clock.now, updated_at=clock.now)
        uow.session.add(response)
        await uow.flush()
        uow.session.add(SurveyAnswer(response_id=response.id, question="q1",
                                     value=f"answer of {order}", answered_at=clock.now))
        conversation = SupportConversation(member_id=member_id, status="open",
                                           opened_at=clock.now, updated_at=clock.now)
        uow.session.add(conversation)
        await uow.flush()
        uow.session.add(SupportMessage(conversation_id=conversation.id, direction="in",
                                       text=f"help with {order}", created_at=clock.now))
        await uow.commit()


async def two_members(db, programme, clock, locale="en"):
    alice = member(db, programme, clock, locale=locale)
    await alice.say("/start")
    bob = member(db, programme, clock, user="bob")
    await bob.say("/start")
    async with db.uow() as uow:
        (await uow.session.get(Member, 1)).phone = PHONE
        (await uow.session.get(Member, 2)).phone = OTHER_PHONE
        await uow.commit()
    await history(db, programme, clock, 1, "ALICE-1")
    await history(db, programme, clock, 2, "BOB-1")
    await alice.press("privacy:set:surveys:off")
    return alice


async def files(db, programme, clock, user="alice", locale="en"):
    engine = build_engine(db, programme, clock=clock)
    answer = await engine.handle(Inbound(platform="console", user_id=user, chat_id=user,
                                         text="/mydata", locale=locale))
    return answer.rendered()


@pytest.mark.usefixtures("kept")  # the programme's surveys
async def test_everything_of_theirs_and_nothing_of_anyone_else(db, programme, clock):
    await two_members(db, programme, clock)
    sent, statement = await files(db, programme, clock)
    assert sent.text.startswith("📦 Your data: everything we hold about you")
    assert sent.file[0] == "memberbot-00000001.json"
    assert statement.file[0] == "memberbot-00000001-points.csv"
    held = json.loads(sent.file[1])
    for section in ("accounts", "tags", "points", "purchases", "redemptions", "coupons",
                    "surveys", "support_messages", "tier_history"):
        assert held[section], section
    assert held["profile"]["phone"] == PHONE and held["profile"]["member_number"] == "00000001"
    assert held["accounts"] == [{"platform": "console", "external_id": "alice",
                                 "linked_at": NOW.isoformat()}]
    assert held["consents"]["history"][0]["purpose"] == "surveys"
    assert {"purpose": "surveys", "granted": False, "since": NOW.isoformat(),
            "notice_version": "2026-12"} in held["consents"]["now"]
    assert held["purchases"][0]["order_id"] == "ALICE-1"
    assert held["purchases"][0]["amount_display"] == "¥500.00"
    assert held["coupons"][0]["reward_title"] == "¥10 off"
    assert held["surveys"][0]["answers"][0]["answer"] == "answer of ALICE-1"
    assert held["support_messages"][0]["text"] == "help with ALICE-1"
    assert [(e["delta"], e["reason_text"]) for e in held["points"]] == [
        (500, "Purchase (order ALICE-1)"), (100, "First purchase bonus (order ALICE-1)"),
        (-200, "Reward redeemed: ¥10 off")]
    assert held["tier_history"][0]["to_tier_name"] == "Silver"
    text = sent.file[1].decode()
    for theirs in ("BOB-1", OTHER_PHONE, "bob"):
        assert theirs not in text, theirs
    rows = list(csv.reader(io.StringIO(statement.file[1].decode("utf-8-sig"))))
    assert rows == [["Date", "Points", "Balance", "Why", "Expires"],
                    ["2026-06-01", "500", "500", "Purchase (order ALICE-1)", "2027-06-01"],
                    ["2026-06-01", "100", "600", "First purchase bonus (order ALICE-1)",
                     "2027-06-01"],
                    ["2026-06-01", "-200", "400", "Reward redeemed: ¥10 off", ""]]
    assert held["profile"]["points_balance"] == 400


@pytest.mark.usefixtures("kept")
async def test_in_chinese_and_once_a_day(db, programme, clock):
    await two_members(db, programme, clock, locale="zh_Hans")
    sent, statement = await files(db, programme, clock, locale="zh_Hans")
    assert sent.text.startswith("📦 您的数据")
    rows = list(csv.reader(io.StringIO(statement.file[1].decode("utf-8-sig"))))
    assert rows[0] == ["日期", "积分", "余额", "原因", "到期日"]
    held = json.loads(sent.file[1])
    assert held["coupons"][0]["reward_title"] == "立减10元"
    clock.advance(hours=23)
    (again,) = await files(db, programme, clock, locale="zh_Hans")
    assert again.text.startswith("您已于 2026-06-01 12:00 申请过数据导出")
    assert again.file is None
    clock.advance(hours=1)
    assert (await files(db, programme, clock, locale="zh_Hans"))[0].file is not None


@pytest.mark.usefixtures("kept")
async def test_without_documents_a_link_that_works_once(db, programme, clock):
    await two_members(db, programme, clock)
    wechat = Inbound(platform="console", user_id="alice", chat_id="alice", text="/mydata",
                     locale="en", documents=False)
    (refused,) = (await build_engine(db, programme, clock=clock).handle(wechat)).rendered()
    assert "no download address" in refused.text
    engine = build_engine(db, programme, clock=clock, public_url="https://club.example")
    (said,) = (await engine.handle(wechat)).rendered()
    assert said.file is None and said.text.startswith("📦 Your data is ready")
    url = next(w for w in said.text.split() if w.startswith("https://club.example/mydata/"))
    assert "until 2026-06-02 12:00" in said.text
    path = url.removeprefix("https://club.example")
    async with TestClient(TestServer(web_app.build(db, clock))) as client:
        got = await client.get(path)
        assert got.status == 200 and got.headers["Cache-Control"] == "no-store"
        archive = zipfile.ZipFile(io.BytesIO(await got.read()))
        assert sorted(archive.namelist()) == ["memberbot-00000001-points.csv",
                                              "memberbot-00000001.json"]
        assert json.loads(archive.read("memberbot-00000001.json"))["profile"]["phone"] == PHONE
        again = await client.get(path)
        assert again.status == 404 and "此下载链接已使用或已过期" in await again.text()
        for forged in ("/mydata/x", "/mydata/" + "A" * 43, path + "A"):
            assert (await client.get(forged)).status == 404, forged


async def test_a_download_expires_within_a_day(db, programme, clock):
    alice = member(db, programme, clock)
    await alice.say("/start")
    async with db.uow() as uow:
        token, until = await downloads.offer(uow, 1, "x.zip", b"zip", NOW)
        await uow.commit()
    assert until == NOW + timedelta(hours=24)
    async with db.uow() as uow:
        assert await downloads.take(uow, token, until) is None
        assert await downloads.take(uow, "not a token", NOW) is None


@pytest.mark.usefixtures("kept")
async def test_the_owner_exports_a_member_on_request_and_it_is_audited(db, programme, clock):
    boss = await owner(db, programme, clock, user="boss")  # member 1
    sam = await second_member(db, programme, clock, None)  # member 2
    await history(db, programme, clock, 2, "SAM-1")
    for bad in ("/member", "/member export", "/member export abc", "/member delete 2",
                "/member export 2 3"):
        assert (await boss.say(bad)).startswith("Write it as /member export NUMBER"), bad
    assert await boss.say("/member export 99") == "There is no member #00000099."
    engine = build_engine(db, programme, clock=clock)
    sent, statement = (await engine.handle(Inbound(
        platform="console", user_id="boss", chat_id="boss", text="/member export 2",
        locale="en"))).rendered()
    assert sent.text.startswith("📦 The data of member #00000002, for you to pass on")
    held = json.loads(sent.file[1])
    assert held["member_number"] == "00000002" and held["purchases"][0]["order_id"] == "SAM-1"
    assert statement.file[0] == "memberbot-00000002-points.csv"
    assert statement.text.startswith("Points statement of member #00000002: every movement")
    assert "exported the data of member 00000002" in await boss.say("/audit")
    # Not the member's own once-a-day: Sam may still ask for theirs.
    assert (await files(db, programme, clock, user="sam"))[0].file is not None
    assert (await sam.say("/member export 1")).startswith("Sorry, /member is for the owner")
