"""Long jobs work in short turns: a member who writes while one runs is answered before
it ends (issue 13). On SQLite statements run on the loop's thread, so without turns
the job would hold the loop from its first statement to its last."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from bot import importing
from bot.app import App
from bot.settings import Settings
from domain.lifecycle import birthdays, winback
from domain.lifecycle.tables import WinBackEpisode
from domain.members.tables import Member
from domain.points import writeoffs
from domain.points.tables import LedgerEntry, Purchase
from handlers.engine.types import Inbound
from handlers.routers import build_engine

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DUE = 2000
PROBE = Inbound(platform="console", user_id="probe", chat_id="probe", text="/points")


async def crowd(db, expires: datetime | None = None, due: int = DUE, **values) -> None:
    """`due` members, each with 100 points expiring at `expires` (when given)."""
    month_ago = NOW - timedelta(days=30)
    rows = [{**dict(id=n, referral_code=f"L{n}", joined_at=month_ago, last_active_at=month_ago,
                    status="active", points_balance=100 if expires else 0,
                    next_expiry_at=expires), **values} for n in range(1000, 1000 + due)]
    async with db.uow() as uow:
        await uow.session.execute(insert(Member), rows)
        if expires is not None:
            await uow.session.execute(insert(LedgerEntry), [dict(
                member_id=r["id"], delta=100, kind="earn", reason="checkin", params={},
                source="seed", idempotency_key=f"seed:{r['id']}", created_at=month_ago,
                expires_at=expires) for r in rows])
        await uow.commit()


async def answered_while(job, engine) -> bool:
    """Whether a message sent once `job` has started is answered before it finishes."""
    running = asyncio.create_task(job)
    await asyncio.sleep(0)  # the job is under way
    answer = await engine.handle(PROBE)
    first = not running.done()
    await running
    assert answer.replies
    return first


async def test_a_member_is_answered_while_points_expire_for_thousands(db, programme):
    engine = build_engine(db, programme, clock=lambda: NOW)
    await engine.handle(Inbound(platform="console", user_id="probe", chat_id="probe",
                                text="/start"))
    await crowd(db, expires=NOW - timedelta(days=1))
    job = writeoffs.run(db, NOW.date(), NOW)
    assert await answered_while(job, engine)
    async with db.uow() as uow:  # and the job did all of it
        assert await uow.scalar(select(func.count()).select_from(LedgerEntry)
                                .where(LedgerEntry.kind == "expire")) == DUE


async def test_a_member_is_answered_while_birthday_gifts_go_out(db, programme):
    engine = build_engine(db, programme, clock=lambda: NOW)
    await engine.handle(Inbound(platform="console", user_id="probe", chat_id="probe",
                                text="/start"))
    rules = programme.birthday
    yesterday = (NOW.astimezone(programme.zone) - timedelta(days=1)).date() \
        + timedelta(days=rules.days_before)
    tier = next((t.code for t in programme.tiers.levels if rules.benefit in t.benefits), None)
    await crowd(db, birth_month=yesterday.month, birth_day=yesterday.day, tier=tier)
    job = birthdays.run(db, programme, NOW)
    assert await answered_while(job, engine)


async def test_a_member_is_answered_while_a_purchases_file_is_imported(db, programme, tmp_path):
    engine = build_engine(db, programme, clock=lambda: NOW)
    await engine.handle(Inbound(platform="console", user_id="probe", chat_id="probe",
                                text="/start"))
    await crowd(db)
    path = tmp_path / "purchases.csv"
    path.write_text("order_id,amount,currency,member\n" + "".join(
        f"o{n},{1000 + n},{programme.currency},{n}\n" for n in range(1000, 1000 + DUE)))
    under_way = asyncio.Event()

    class Bar(io.StringIO):
        """The progress bar's terminal: it is drawn once the first batch is in."""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            under_way.set()
            return super().write(text)

    app = App(Settings(), programme, db, engine)
    running = asyncio.create_task(importing.run(app, path, out=io.StringIO(), err=Bar()))
    await under_way.wait()
    answer = await engine.handle(PROBE)
    assert answer.replies and not running.done()
    tally = await running
    assert tally.imported == DUE and not tally.rejected
    async with db.uow() as uow:  # every order, once
        assert await uow.scalar(select(func.count()).select_from(Purchase)) == DUE


async def test_a_member_is_answered_while_win_back_coupons_go_out(db, programme):
    engine = build_engine(db, programme, clock=lambda: NOW)
    await engine.handle(Inbound(platform="console", user_id="probe", chat_id="probe",
                                text="/start"))
    rules = programme.lifecycle
    lapsing = 300  # an offer costs a few ms: fewer of them make as long a job
    await crowd(db, due=lapsing, joined_at=NOW - timedelta(days=rules.churn_days * 2),
                last_active_at=NOW - timedelta(days=(rules.lapse_floor_days
                                                     + rules.churn_days) // 2),
                marketing_consent=True)
    job = winback.run(db, programme, NOW)
    assert await answered_while(job, engine)
    async with db.uow() as uow:
        assert await uow.scalar(select(func.count()).select_from(WinBackEpisode)) == lapsing


async def test_in_turns_commits_each_turn_and_gives_every_result(db):
    seen: list[int] = []

    async def work(uow, n: int) -> int:
        seen.append(n)
        return n * 2

    assert await db.in_turns(range(7), work, most=3) == [0, 2, 4, 6, 8, 10, 12]
    assert seen == list(range(7))


async def test_in_slices_sizes_each_slice_by_how_long_the_last_one_took(db):
    """Rows that cost 2 ms each: on SQLite (12 ms slices) the next slices shrink from the
    first 20 rows (40 ms), on PostgreSQL (150 ms) they stay; every row goes once, in
    order, each slice in a transaction of its own."""
    import time

    slices: list[list[int]] = []
    units: list[object] = []  # kept alive, so each is told apart by identity

    async def work(uow, chunk) -> int:
        units.append(uow)
        slices.append(list(chunk))
        time.sleep(0.002 * len(chunk))  # noqa: ASYNC251 - the cost of a slice
        return len(chunk)

    results = await db.in_slices(list(range(300)), work, first=20)
    assert [row for chunk in slices for row in chunk] == list(range(300))
    assert results == [len(chunk) for chunk in slices]
    assert len({id(u) for u in units}) == len(slices)
    assert len(slices[0]) == 20
    if db.dialect == "sqlite":
        assert max(len(chunk) for chunk in slices[1:]) < 20
    else:
        assert {len(chunk) for chunk in slices} == {20}


async def test_a_snapshot_reads_without_holding_writers_back(db):
    await crowd(db)
    async with db.snapshot() as snap:
        assert await snap.scalar(select(func.count()).select_from(Member)) == DUE
        async with db.uow() as uow:  # on SQLite: the write lock is free meanwhile
            await uow.session.execute(insert(Member).values(
                id=1, referral_code="W1", joined_at=NOW, last_active_at=NOW, status="active"))
            await uow.commit()
    async with db.uow() as uow:
        assert await uow.scalar(select(func.count()).select_from(Member)) == DUE + 1


async def test_a_handler_reads_through_a_snapshot_of_its_own_database(db):
    """What the campaign handlers do for their counts: inside the message's transaction,
    a snapshot sees what was committed, not this transaction's own changes."""
    await crowd(db, due=3)
    async with db.uow() as uow:
        await uow.session.execute(insert(Member).values(
            id=1, referral_code="W1", joined_at=NOW, last_active_at=NOW, status="active"))
        async with uow.snapshot() as snapshot:
            assert await snapshot.scalar(select(func.count()).select_from(Member)) == 3
        await uow.commit()
