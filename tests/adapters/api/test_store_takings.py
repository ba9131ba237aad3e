"""POST /api/v1/store-sales: a day's takings from every customer, the whole that
/stats's members' share of revenue is of; a day reported again is corrected; days
that do not exist or have not come, other currencies and absurd amounts are refused
in our words and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from domain.insight.tables import StoreTakings
from tests.support.api_client import serving_one_member
from tests.support.survey_given import said
from tests.support.transcript import Clock, owner


@pytest.fixture
async def api(db, programme):
    async with serving_one_member(db, programme) as client:
        yield client


def today(programme) -> str:
    return datetime.now(UTC).astimezone(programme.zone).date().isoformat()


async def rows(db) -> list[tuple]:
    async with db.uow() as uow:
        return [tuple(r) for r in await uow.session.execute(
            select(StoreTakings.day, StoreTakings.amount, StoreTakings.orders))]


async def test_a_day_reported_then_corrected_gives_members_their_share(api, db, programme):
    status, _ = await api.post("/api/v1/purchases", {
        "order_id": "t-1", "member": {"number": "1"}, "amount": 10_000, "currency": "CNY"})
    assert status == 201
    day = today(programme)
    status, body = await api.post("/api/v1/store-sales", {
        "day": day, "amount": 40_000, "orders": 9, "currency": "CNY"})
    assert (status, body) == (201, {"day": day, "amount": 40_000, "orders": 9,
                                    "corrected": False})
    status, body = await api.post("/api/v1/store-sales", {
        "day": day, "amount": 25_000, "orders": 7, "currency": "CNY"})
    assert status == 200 and body["corrected"] is True
    assert [r[1:] for r in await rows(db)] == [(25_000, 7)]
    olga = await owner(db, programme, Clock(datetime.now(UTC)), user="olga")
    text = (await said(olga, "/stats 7d"))[0].text
    assert "• Share of revenue from members: 40% of the takings the tills reported " \
           "(1 of 7 days)" in text


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"day": "2026-02-30", "amount": 1, "orders": 1, "currency": "CNY"}, 400, "invalid_field"),
    ({"day": "26-2-3", "amount": 1, "orders": 1, "currency": "CNY"}, 400, "invalid_field"),
    ({"day": "2026-01-01\n", "amount": 1, "orders": 1, "currency": "CNY"}, 400,
     "invalid_field"),
    ({"day": "2026-01-01", "amount": -1, "orders": 1, "currency": "CNY"}, 422,
     "invalid_amount"),
    ({"day": "2026-01-01", "amount": 10**30, "orders": 1, "currency": "CNY"}, 422,
     "invalid_amount"),
    ({"day": "2026-01-01", "amount": 1, "orders": 1, "currency": "USD"}, 422,
     "wrong_currency"),
    ({"day": "2026-01-01", "amount": 1, "currency": "CNY"}, 400, "missing_field"),
])
async def test_what_is_refused_changes_nothing(api, db, body, status, code):
    answer = await api.post("/api/v1/store-sales", body)
    assert answer[0] == status and answer[1]["error"]["code"] == code
    assert await rows(db) == []


async def test_a_day_yet_to_come_is_refused(api, db, programme):
    tomorrow = (datetime.now(UTC).astimezone(programme.zone).date()
                + timedelta(days=1)).isoformat()
    status, body = await api.post("/api/v1/store-sales", {
        "day": tomorrow, "amount": 1, "orders": 1, "currency": "CNY"})
    assert status == 422 and body["error"]["code"] == "day_in_future"
    async with db.uow() as uow:
        assert await uow.scalar(select(func.count()).select_from(StoreTakings)) == 0
