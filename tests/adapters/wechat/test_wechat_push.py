"""Pushes respect the service window and its quota; WeChat's refusals become outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.wechat.api import Api, fetcher
from bot.wechat.programme import WeChat, WeChatTemplate
from bot.wechat.push import Pusher, Template
from bot.wechat.store import service_window
from bot.wechat.tokens import DatabaseTokens
from domain.members import members
from handlers.engine.types import Rendered
from tests.support.fake_wechat import APP_ID, SECRET, FakeWeChat

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
HELLO = Rendered("Your tier changed.", key="notice.tier_changed")
CONFIG = WeChat(window_quota=3, templates={
    "notice.tier_changed": WeChatTemplate(id="TPL-TIER", field="first")})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def setup(db, programme):
    clock = Clock()
    async with FakeWeChat() as fake, aiohttp.ClientSession() as session:
        tokens = DatabaseTokens(db, "wechat:test", fetcher(session, fake.url, APP_ID, SECRET,
                                                           clock), clock=clock)
        pusher = Pusher(db, Api(session, fake.url, tokens), CONFIG, "en", clock=clock)
        async with db.uow() as uow:
            await members.register(uow, programme, "wechat", "oMember", T0)
            await uow.commit()
        yield db, fake, pusher, clock


async def _member_writes(db, clock, quota: int = 3) -> None:
    async with db.uow() as uow:
        await service_window.opened(uow, "wechat", "oMember", clock(), 48, quota)
        await uow.commit()


async def _remaining(db, clock) -> int:
    async with db.uow() as uow:
        return await service_window.remaining(uow, "wechat", "oMember", clock())


async def test_no_window_means_deferred_without_calling_wechat(setup):
    db, fake, pusher, clock = setup
    assert (await pusher.push("oMember", HELLO)).outcome == "deferred"
    assert fake.calls == [] and fake.token_fetches == 0


async def test_quota_is_spent_then_template_then_deferred(setup):
    db, fake, pusher, clock = setup
    await _member_writes(db, clock)
    for _ in range(3):
        assert (await pusher.push("oMember", HELLO)).via == "custom"
    assert await _remaining(db, clock) == 0
    fallback = await pusher.push("oMember", HELLO, template=Template(
        "notice.tier_changed", {"first": "Gold!"}))
    assert (fallback.outcome, fallback.via) == ("sent", "template")
    assert fake.sent("/cgi-bin/message/template/send")[0]["data"] == {"first": {"value": "Gold!"}}
    assert (await pusher.push("oMember", HELLO)).outcome == "deferred"
    assert len(fake.texts()) == 3


async def test_window_closes_after_48_hours_and_reopens_when_the_member_writes(setup):
    db, fake, pusher, clock = setup
    await _member_writes(db, clock)
    clock.now = T0 + timedelta(hours=48)
    assert (await pusher.push("oMember", HELLO)).outcome == "deferred"
    await _member_writes(db, clock)
    clock.now += timedelta(hours=47, minutes=59)
    assert (await pusher.push("oMember", HELLO)).outcome == "sent"


async def test_a_long_message_needs_quota_for_every_piece(setup):
    db, fake, pusher, clock = setup
    await _member_writes(db, clock, quota=2)
    long = Rendered("\n".join("积分" * 300 for _ in range(5)))
    assert (await pusher.push("oMember", long)).outcome == "deferred"
    assert fake.calls == [] and await _remaining(db, clock) == 2


async def test_notifier_interface_uses_the_template_named_by_the_notice(setup):
    db, fake, pusher, clock = setup
    assert await pusher.notify("oMember", HELLO) == "sent"
    assert fake.sent("/cgi-bin/message/template/send")[0]["template_id"] == "TPL-TIER"
    assert await pusher.notify("oMember", Rendered("x", key="notice.other")) == "deferred"


@pytest.mark.parametrize(("code", "outcome", "left"), [
    (45047, "deferred", 0), (45015, "deferred", 0), (43004, "unreachable", 2),
    (45009, "failed", 2), (40003, "failed", 2)])
async def test_wechat_refusals_become_outcomes(setup, programme, code, outcome, left):
    db, fake, pusher, clock = setup
    await _member_writes(db, clock)
    fake.fail("/cgi-bin/message/custom/send", code)
    result = await pusher.push("oMember", HELLO)
    assert (result.outcome, result.errcode) == (outcome, code)
    assert await _remaining(db, clock) == left
    assert result.retryable == (code == 45009)
    if code == 43004:
        async with db.uow() as uow:
            member = await members.by_identity(uow, "wechat", "oMember")
            assert member.status == "unreachable"


async def test_an_invalid_token_is_refreshed_once_and_the_call_retried(setup):
    db, fake, pusher, clock = setup
    await _member_writes(db, clock)
    assert (await pusher.push("oMember", HELLO)).outcome == "sent"
    fake.invalidate()
    assert (await pusher.push("oMember", HELLO)).outcome == "sent"
    assert fake.token_fetches == 2
    fake.fail("/cgi-bin/message/custom/send", 40001, 40001)  # refreshing does not help
    result = await pusher.push("oMember", HELLO)
    assert (result.outcome, result.errcode) == ("failed", 40001)
    assert fake.token_fetches == 3
