"""Newcomers' captchas as rows: opened once, settled once, found again after a restart."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from domain.community import captchas
from domain.community.tables import GroupCaptcha

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
TG, CHAT = "telegram", "-1001"


async def opened(db, user="u1", answer=7, message_id="m1", at=T0, minutes=2) -> int:
    async with db.uow() as uow:
        row = await captchas.open(uow, TG, CHAT, user, answer, message_id,
                                  at + timedelta(minutes=minutes), at)
        await uow.commit()
        return row.id


async def solve(db, user="u1", message_id="m1", answer=7, at=T0):
    async with db.uow() as uow:
        done = await captchas.solve(uow, TG, CHAT, user, message_id, answer, at)
        await uow.commit()
        return done


async def status_of(db, captcha_id) -> str:
    async with db.uow() as uow:
        return (await uow.session.get(GroupCaptcha, captcha_id)).status


def test_a_sum_has_four_answers_one_of_them_right():
    draw = random.Random(5)
    for _ in range(200):
        task = captchas.new_sum(draw)
        assert len(set(task.choices)) == 4 and task.answer in task.choices
        assert all(0 <= n <= 23 for n in task.choices)
        assert task.a in captchas.TERMS and task.b in captchas.TERMS


async def test_open_twice_keeps_the_first_and_a_settled_one_starts_afresh(db):
    first = await opened(db)
    assert await opened(db, answer=9, message_id="m2") == first
    async with db.uow() as uow:
        row = await captchas.pending(uow, TG, CHAT, "u1")
        assert (row.answer, row.message_id) == (7, "m1")
    assert await solve(db, answer=3) == captchas.Settled(captchas.FAILED, "m1")
    again = await opened(db, answer=9, message_id="m2", at=T0 + timedelta(hours=1))
    assert again == first  # one row per newcomer and chat, started afresh
    async with db.uow() as uow:
        row = await captchas.pending(uow, TG, CHAT, "u1")
        assert (row.answer, row.message_id, row.status) == (9, "m2", captchas.PENDING)
        assert row.expires_at == T0 + timedelta(hours=1, minutes=2)


async def test_the_right_answer_passes_once(db):
    captcha = await opened(db)
    assert await solve(db) == captchas.Settled(captchas.PASSED, "m1")
    assert await solve(db) is None  # the same press delivered again: nothing more
    assert await status_of(db, captcha) == captchas.PASSED


async def test_only_the_newcomer_under_their_own_message_settles_it(db):
    captcha = await opened(db)
    assert await solve(db, user="u2") is None
    assert await solve(db, message_id="m9") is None
    assert await status_of(db, captcha) == captchas.PENDING


async def test_an_answer_after_the_time_is_the_time_running_out(db):
    captcha = await opened(db)
    late = T0 + timedelta(minutes=2)
    assert await solve(db, at=late) == captchas.Settled(captchas.EXPIRED, "m1")
    assert await status_of(db, captcha) == captchas.EXPIRED


async def test_due_ones_are_listed_oldest_first_and_closed_once(db):
    later = await opened(db, user="u2", message_id="m2", at=T0 + timedelta(minutes=1))
    first = await opened(db, user="u1")
    await opened(db, user="u3", message_id="m3", at=T0 + timedelta(minutes=5))
    async with db.uow() as uow:
        due = await captchas.expired(uow, TG, T0 + timedelta(minutes=4), 10)
        assert [d.captcha_id for d in due] == [first, later]
        assert await captchas.expired(uow, "wechat", T0 + timedelta(hours=1), 10) == []
        assert await captchas.close(uow, first, captchas.EXPIRED, T0)
        assert not await captchas.close(uow, first, captchas.EXPIRED, T0)
        await uow.commit()
    assert await solve(db, user="u1") is None


async def test_pending_captchas_outlive_the_process(db, backend):
    """A restart is a new connection pool over the same rows."""
    await opened(db, answer=11)
    await db.dispose()
    async with db.uow() as uow:
        row = await captchas.pending(uow, TG, CHAT, "u1")
        assert row is not None and row.answer == 11
