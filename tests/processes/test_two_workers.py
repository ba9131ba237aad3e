"""Two `memberbot run` workers on one PostgreSQL, as the README's deployment runs them:
Telegram in webhook mode, the WeChat callback and the purchases API on both.

A burst spreads over both: every Telegram update is posted to both workers, every WeChat
message reaches both (the first post, and WeChat's retry on the other worker, both in
flight), every till order goes to both. Mid-burst the worker leading the scheduler is
killed with SIGKILL; what it did not answer is posted again to the survivor, as the
proxy and the platforms' own retries would. Then every effect is there exactly once
(members, check-ins, ledger rows, purchases), every answer reached its member exactly
once (sendMessage calls at the fake Bot API; WeChat's passive reply to the attempt it
listens to, or a customer-service message, never both), and the survivor leads the
scheduler.

A killed worker may hold the lease on answers it recorded but did not send; the survivor
sends them once the lease runs out (30 s), at its next recovery pass. Rather than wait for
the lease, the test moves the inbox's times back once the survivor is idle, as if that
much time had passed, and waits for the pass. One resend is the price of SIGKILL and is
allowed for, narrowly: a message the platform accepted from the killed worker just before
it died, before the worker could record it as delivered (no Bot API call can be made
idempotent), is sent again by that recovery pass, and only by it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from domain.members import members
from domain.staff import jobs
from domain.storage.database import Database
from scheduler.leader import LOCK_CLASS
from tests.support.fake_telegram import FakeBotAPI
from tests.support.fake_wechat import FakeWeChat, message_xml
from tests.support.processes import own_database, scalar
from tests.support.workers import Answer, Worker, time_passes

USERS, OPENIDS, ORDERS = 16, 16, 16  # Telegram users, WeChat members, till orders
KILL_AFTER = 16  # items fully answered before the kill
GAP = 0.03  # seconds between the burst's items: the kill lands with many in flight
FIRST_CHAT = 5000


@pytest.fixture
async def database(tmp_path):
    async with own_database("postgresql", tmp_path, "workers") as url:
        yield url


class Burst:
    """The burst's items, each posted to both workers, and what came back."""

    def __init__(self, workers: list[Worker], telegram: FakeBotAPI, http: aiohttp.ClientSession,
                 numbers: list[str]) -> None:
        self.workers = workers
        self.telegram = telegram
        self.http = http
        self.numbers = numbers
        self.openids = [f"oTwoWorkers{i:02d}" for i in range(OPENIDS)]
        self.doomed: Worker | None = None
        self.passive: Counter[str] = Counter()  # carried by the callback WeChat listens to
        self.orders: dict[str, list[dict[str, Any]]] = {}
        self.lost = 0  # posts a worker did not answer because it was killed
        self.done = 0
        self.kill_now = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._item(i) for i in range(USERS + OPENIDS + ORDERS)))

    def _other(self, worker: Worker) -> Worker:
        return self.workers[1 - self.workers.index(worker)]

    async def _until_answered(self, post: Callable[[Worker], Awaitable[Answer]],
                              worker: Worker) -> tuple[int, str]:
        """A post and its retries: on the other worker when this one is gone (the
        proxy's next upstream), on the same one after a 5xx."""
        for _ in range(30):
            answer = await post(worker)
            if answer is None:
                self.lost += 1
                if worker is self.doomed:
                    worker = self._other(worker)
            elif answer[0] < 500:
                return answer
            else:
                await asyncio.sleep(0.2)
        raise AssertionError(f"worker {worker.tag} never answered: {answer}")

    async def _both(self, post: Callable[[Worker], Awaitable[Answer]],
                    first: Worker) -> list[tuple[int, str]]:
        return list(await asyncio.gather(*(self._until_answered(post, w)
                                           for w in (first, self._other(first)))))

    async def _item(self, i: int) -> None:
        await asyncio.sleep(i * GAP)
        first, n = self.workers[i % 2], i // 3
        if i % 3 == 0:
            update = self.telegram.message(FIRST_CHAT + n, "/checkin")
            answers = await self._both(lambda w: w.telegram(self.http, update), first)
            assert [status for status, _ in answers] == [200, 200], answers
        elif i % 3 == 1:
            await self._wechat(first, self.openids[n], 90_000 + n)
        else:
            order = {"order_id": f"two-workers-{n}", "member": {"number": self.numbers[n]},
                     "amount": 1000 + n, "currency": "CNY"}
            answers = await self._both(lambda w: w.purchase(self.http, order), first)
            assert {status for status, _ in answers} <= {200, 201}, answers
            self.orders[order["order_id"]] = [json.loads(body) for _, body in answers]
        self.done += 1
        if self.done >= KILL_AFTER:
            self.kill_now.set()

    async def _wechat(self, first: Worker, openid: str, msg_id: int) -> None:
        xml = message_xml(openid, content="/checkin", msg_id=msg_id)
        original = asyncio.create_task(first.callback(self.http, xml))
        await asyncio.sleep(0)
        # WeChat's retry, on the other worker: from now on WeChat listens to it alone
        # (and to its own retries, when it gets no answer).
        second = self._other(first)
        status, body = await self._until_answered(lambda w: w.callback(self.http, xml), second)
        if await original is None:
            self.lost += 1
        assert status == 200, body
        reply = second.wechat.open_reply(body)
        if reply is not None:
            assert "+5" in reply, reply
            self.passive[openid] += 1


async def test_two_workers_share_a_burst_and_one_killed_loses_nothing(database, tmp_path,
                                                                       programme):
    shifted: tuple[int, int] | None = None  # (Telegram calls, WeChat calls) then
    async with FakeBotAPI() as telegram, FakeWeChat() as wechat, \
            aiohttp.ClientSession() as http:
        workers = [Worker(tag, database, telegram, wechat, tmp_path) for tag in ("a", "b")]
        db = Database.from_url(database)
        try:
            await asyncio.gather(*(w.start() for w in workers))  # both migrate at once
            await asyncio.gather(*(w.up(http) for w in workers))
            await eventually(lambda: _leads(db, workers), 30, "a worker leads the scheduler")
            leader = await holder(db)
            doomed = next(w for w in workers if leader.endswith(f":{w.pid}"))
            survivor = next(w for w in workers if w is not doomed)
            assert await held_locks(db) == 1
            burst = Burst(workers, telegram, http, await till_members(db, programme))
            burst.doomed = doomed

            async def kill() -> tuple[int, int]:
                await burst.kill_now.wait()
                await doomed.kill()
                await asyncio.sleep(0.5)  # what it sent before it died is recorded
                return len(telegram.calls), len(wechat.calls)

            killing = asyncio.create_task(kill())
            await burst.run()
            killed = await killing
            assert burst.lost > 0  # the kill came mid-burst: posts to it got no answer

            # The survivor takes the lead within its poll (5 s).
            await eventually(lambda: _is(holder(db), f":{survivor.pid}"), 30,
                             "the survivor leads the scheduler")
            assert await held_locks(db) == 1
            assert survivor.says("scheduler leading")

            async def undelivered() -> int:
                return await scalar(database, "SELECT count(*) FROM inbox "
                                              "WHERE delivered_at IS NULL")

            await _quiet(telegram, wechat)
            if await undelivered():  # answers the killed worker held a lease on
                shifted = len(telegram.calls), len(wechat.calls)
                assert await time_passes(database) > 0
                await eventually(lambda: _zero(undelivered()), 45,
                                 "the survivor's recovery finishes the killed worker's work")
                await _quiet(telegram, wechat)
        finally:
            for worker in workers:
                await worker.stop()
            await db.dispose()

    # Telegram: each member's check-in answered once (a welcome, then the points).
    sent: dict[Any, list[tuple[int, str]]] = defaultdict(list)
    for at, call in enumerate(telegram.calls):
        if call.method == "sendMessage" and call.ok:
            sent[call.chat_id].append((at, call.text or ""))
    chats = range(FIRST_CHAT, FIRST_CHAT + USERS)
    assert set(sent) == set(chats)
    for chat in chats:
        texts = once(sent[chat], 2, killed[0], shifted and shifted[0])
        assert "Welcome" in texts[0] and "+5" in texts[1], texts
    # WeChat: the passive reply WeChat took, or a customer-service message; never both.
    pushed: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for at, (path, payload) in enumerate(wechat.calls):
        if path == "/cgi-bin/message/custom/send":
            pushed[payload["touser"]].append((at, payload["text"]["content"]))
    assert set(pushed) <= set(burst.openids)
    for openid in burst.openids:
        if burst.passive[openid]:
            assert pushed[openid] == [], openid
        else:
            assert "+5" in once(pushed[openid], 1, killed[1], shifted and shifted[1])[0]
    assert wechat.token_fetches == 1  # one access token, shared by both workers
    # Purchases: both copies of an order answer alike; each is recorded once.
    for answers in burst.orders.values():
        assert len({(a["member"], a["points"], a["balance"]) for a in answers}) == 1, answers
    assert await scalar(database, "SELECT count(*) FROM purchases") == ORDERS
    # Members and the ledger: each member once, each check-in and purchase once.
    assert await scalar(database, "SELECT count(*) FROM members") == USERS + OPENIDS + ORDERS
    assert await scalar(database, "SELECT count(*) FROM checkins") == USERS + OPENIDS
    assert await scalar(database, "SELECT count(*) FROM ledger_entries "
                                  "WHERE idempotency_key LIKE 'checkin:%'") == USERS + OPENIDS
    assert await scalar(database, "SELECT count(*) FROM members m WHERE points_balance <> "
                                  "(SELECT coalesce(sum(delta), 0) FROM ledger_entries e "
                                  "WHERE e.member_id = m.id)") == 0
    assert await scalar(database, "SELECT coalesce(sum(points_balance), 0) FROM members "
                                  "WHERE id IN (SELECT member_id FROM purchases)") \
        == sum(answers[0]["balance"] for answers in burst.orders.values())


def once(copies: list[tuple[int, str]], length: int, killed: int,
         shifted: int | None) -> list[str]:
    """The answer's `length` messages from (position among the platform's calls, text):
    sent once; or, where the killed worker had sent some of them and died before
    recording so, those (all before the kill) and then the whole answer again, by the
    survivor's recovery pass (all after the inbox's times moved)."""
    texts = [t for _, t in copies]
    if len(texts) == length:
        return texts
    assert shifted is not None, f"sent more than once with no worker killed mid-send: {texts}"
    before = [t for at, t in copies if at < killed]
    after = [t for at, t in copies if at >= shifted]
    assert len(before) + len(after) == len(texts), f"sent twice by live workers: {texts}"
    assert len(after) == length and 0 < len(before) <= length, texts
    assert before == after[:len(before)], texts
    return after


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.1)


async def holder(db: Database) -> str:
    try:
        async with db.uow() as uow:
            found = await jobs.runner(uow)
    except Exception:  # noqa: BLE001 - not migrated yet
        return ""
    return found.holder if found is not None else ""


async def held_locks(db: Database) -> int:
    """Scheduler locks held on this database (the server may serve other tests too)."""
    async with db.engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :cls "
            "AND granted AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database())"), {"cls": LOCK_CLASS})).scalar_one()


async def till_members(db: Database, programme) -> list[str]:
    """Members the tills know by number (they joined at the counter)."""
    now = datetime.now(UTC)
    async with db.uow() as uow:
        ids = [(await members.register(uow, programme, "console", f"till{i:02d}", now))
               .member.id for i in range(ORDERS)]
        await uow.commit()
    return [str(i).zfill(8) for i in ids]


async def _leads(db: Database, workers: list[Worker]) -> bool:
    found = await holder(db)
    return any(found.endswith(f":{w.pid}") for w in workers)


async def _is(value: Awaitable[str], suffix: str) -> bool:
    return (await value).endswith(suffix)


async def _zero(value: Awaitable[int]) -> bool:
    return await value == 0


async def _quiet(telegram: FakeBotAPI, wechat: FakeWeChat, seconds: float = 1.0) -> None:
    """Until neither fake platform has heard from a worker for `seconds`: the survivor
    is idle, whatever it was sending is out."""
    seen = (-1, -1)
    while (now := (len(telegram.calls), len(wechat.calls))) != seen:
        seen = now
        await asyncio.sleep(seconds)
