"""/survey export: a CSV document, one row per response, members by number only,
formula-looking answers defused, Chinese intact for Excel; in both languages, and
refused to members and for unknown surveys in our own words."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from domain.feedback import responses, surveys
from domain.members.members import member_number
from domain.members.tables import Member
from handlers.feedback.survey_export import guarded
from tests.support.lifecycle_helpers import a_member
from tests.support.survey_given import said
from tests.support.transcript import Clock, member, owner

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
PHONE, NAME = "+8613800138000", "Alice Wang"
HEADER = ["member", "status", "via", "sent_at", "opened_at", "completed_at",
          "overall", "liked", "liked.label", "problem", "problem.label", "comment"]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


async def answered(db, programme, code: str, people: list[dict]) -> list[int]:
    """Each dict is one member's answers to survey `code` (empty: sent, never opened);
    the members' ids. Each has a phone and a name, which no export may show."""
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    ids = []
    for n, given in enumerate(people):
        member_id = await a_member(db, programme, T0, f"{code}-{n}")
        async with db.uow() as uow:
            await uow.session.execute(update(Member).where(Member.id == member_id).values(
                phone=PHONE[:-1] + str(n), display_name=f"{NAME} {n}"))
            survey = await surveys.by_code(uow, code)
            sent = await responses.send(uow, programme, survey, member_id, "staff",
                                        T0 + timedelta(hours=n))
            for m, (question, value) in enumerate(given.items()):
                await responses.answer(uow, programme, sent.response.id, member_id, question,
                                       value, T0 + timedelta(hours=n, minutes=m + 1))
            await uow.commit()
        ids.append(member_id)
    return ids


PEOPLE = [
    {"overall": 5, "liked": ["tea", "place"], "comment": "=HYPERLINK(\"http://x\",\"win\")"},
    {"overall": 2, "problem": "wait", "comment": "排队太久，下次再来"},
    {"overall": 4, "liked": ["service"], "comment": None},
    {"overall": 3},  # opened, not finished
    {},  # sent only
    {"overall": 5, "liked": ["price"], "comment": "@SUM(1+1) or -1 +1"},
]


@pytest.mark.parametrize(("locale", "words"), [
    ("en", "Responses to satisfaction: 6, one row each"),
    ("zh_Hans", "satisfaction 的回答：6 份，每份一行")])
async def test_one_row_per_response_by_member_number(db, programme, clock, locale, words):
    ids = await answered(db, programme, "satisfaction", PEOPLE)
    olga = await owner(db, programme, clock, locale=locale)
    (sent,) = await said(olga, "/survey export satisfaction")
    assert words in sent.text and sent.image is None and sent.file is not None
    name, data = sent.file
    assert name == "survey-satisfaction.csv"
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == HEADER
    table = [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]
    # Completed first, then open, then sent; oldest first within each.
    assert [r["member"] for r in table] == [member_number(ids[n]) for n in (0, 1, 2, 5, 3, 4)]
    assert [r["status"] for r in table] == ["completed"] * 4 + ["open", "sent"]
    assert {r["via"] for r in table} == {"staff"}
    first, second, third, sixth, fourth, fifth = table
    # In the programme's zone (Asia/Shanghai), with its offset: the shop's own clock.
    assert first["sent_at"] == "2026-03-10T10:00:00+08:00"
    assert second["opened_at"] == "2026-03-10T11:01:00+08:00"
    assert fifth["opened_at"] == fifth["completed_at"] == "" and fifth["overall"] == ""
    assert first["liked"] == "tea;place" and first["overall"] == "5"
    # The words are the reader's: an English operator reads English.
    assert first["liked.label"] == ("The tea; The place" if locale == "en" else "茶品; 环境")
    assert "Asia/Shanghai" in sent.text and "UTC" not in sent.text
    assert first["problem"] == ""  # not asked: the rating was high
    assert second["problem"] == "wait" and second["comment"] == "排队太久，下次再来"
    assert third["comment"] == "" and fourth["overall"] == "3" and fourth["liked"] == ""
    assert first["comment"] == "'=HYPERLINK(\"http://x\",\"win\")"
    assert sixth["comment"] == "'@SUM(1+1) or -1 +1"
    text = data.decode("utf-8-sig")
    assert PHONE[:-2] not in text and NAME not in text


def test_formula_cells_are_written_as_text():
    assert [guarded(v) for v in ("=1+1", "+86 138", "-2", "@A1", "\tx", "\rx", "ok", "",
                                 "a=b", "'quoted")] == \
        ["'=1+1", "'+86 138", "'-2", "'@A1", "'\tx", "'\rx", "ok", "", "a=b", "'quoted"]


async def test_refusals_in_our_words(db, programme, clock):
    await answered(db, programme, "nps", [{"score": 9}])
    olga = await owner(db, programme, clock, locale="zh_Hans")
    (unknown,) = await said(olga, "/survey export nope")
    assert unknown.text == "没有代码为“nope”的问卷。/survey list 可查看问卷代码。"
    assert unknown.file is None
    (usage,) = await said(olga, "/survey export")
    assert usage.text.startswith("将问卷回答导出为 CSV 文件")
    olga_en = await owner(db, programme, clock, user="olga2")
    (unknown,) = await said(olga_en, "/survey export 问卷")
    assert unknown.text.startswith("There is no survey “问卷”.")

    alice = member(db, programme, clock, user="alice")
    await alice.say("/start")
    denied = await said(alice, "/survey export nps")
    assert denied[0].key == "staff.denied" and all(m.file is None for m in denied)


async def test_an_empty_survey_exports_its_header(db, programme, clock):
    olga = await owner(db, programme, clock)
    async with db.uow() as uow:
        await surveys.keep_from_file(uow, programme, T0)
        await uow.commit()
    (sent,) = await said(olga, "/survey export nps")
    assert sent.file is not None and "Responses to nps: 0" in sent.text
    assert sent.file[1].decode("utf-8-sig").splitlines() == [
        "member,status,via,sent_at,opened_at,completed_at,score,why"]
